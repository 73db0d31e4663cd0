//! The chart's opt-in PrometheusRule (prometheusRule.enabled):
//! - off by default; on, it has the six alerts of docs/alerts.md, each
//!   with a severity, a summary and a runbook_url whose file exists in
//!   docs/runbooks/ (and every runbook there belongs to an alert);
//! - every expression parses as PromQL, and every metric it selects is one
//!   the operator or the processor really exports (taken from their
//!   registries), or one of the few Kubernetes metrics named below;
//! - the values change what they should (thresholds, labels, namespace);
//! - the rendered rule, with the ServiceMonitors, passes a server-side dry
//!   run against prometheus-operator's own PrometheusRule and ServiceMonitor
//!   CRDs (hack/prometheus-operator/crds.sh) in the real API server.

mod chart_common;
#[path = "operator_support/mod.rs"]
mod support;

use std::collections::BTreeSet;

use chart_common::{apply, documents, kind, template, to_yaml};
use promql_parser::parser::{self, Expr};
use promql_parser::util::{ExprVisitor, walk_expr};
use serde_json::Value;

const ENABLED: &[&str] = &["--set", "prometheusRule.enabled=true"];

/// The alerts the rule must hold.
const ALERTS: &[&str] = &[
    "ShopstreamPipelineLagHigh",
    "ShopstreamPipelineLagStalled",
    "ShopstreamDeadLetterRateHigh",
    "ShopstreamWindowCloseSlow",
    "ShopstreamProcessorRestarting",
    "ShopstreamProcessorMemoryNearLimit",
];

/// Metrics of other exporters the alerts rely on: kube-state-metrics and
/// the kubelet's cAdvisor (both named in values.yaml and the runbooks).
const KUBERNETES_METRICS: &[&str] = &[
    "kube_pod_container_status_restarts_total",
    "kube_pod_container_resource_limits",
    "container_memory_working_set_bytes",
];

fn rules(extra: &[&str]) -> Vec<Value> {
    let docs = documents(&template("mon", "monitoring", &[ENABLED, extra].concat()));
    let found: Vec<&Value> = docs
        .iter()
        .filter(|d| kind(d) == "PrometheusRule")
        .collect();
    assert_eq!(found.len(), 1, "one PrometheusRule");
    let rule = found[0];
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    rule["spec"]["groups"]
        .as_array()
        .expect("spec.groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("group rules").clone())
        .collect()
}

fn alert<'a>(rules: &'a [Value], name: &str) -> &'a Value {
    rules
        .iter()
        .find(|r| r["alert"] == name)
        .unwrap_or_else(|| panic!("no alert {name}"))
}

fn expr(rule: &Value) -> &str {
    rule["expr"].as_str().expect("expr is a string")
}

/// The names of the metrics an expression selects.
fn selected_metrics(expr: &Expr) -> BTreeSet<String> {
    struct Names(BTreeSet<String>);
    impl ExprVisitor for Names {
        type Error = std::convert::Infallible;
        fn pre_visit(&mut self, e: &Expr) -> Result<bool, Self::Error> {
            let selector = match e {
                Expr::VectorSelector(v) => Some(v),
                Expr::MatrixSelector(m) => Some(&m.vs),
                _ => None,
            };
            if let Some(v) = selector {
                let name = v.name.clone().expect("every selector names its metric");
                self.0.insert(name);
            }
            Ok(true)
        }
    }
    let mut names = Names(BTreeSet::new());
    walk_expr(&mut names, expr).expect("infallible");
    names.0
}

/// `# TYPE` names in a Prometheus text exposition.
fn exposed(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Every metric name the operator and the processor export, from their own
/// registries (labelled families get one series so that they are listed).
fn project_metrics() -> BTreeSet<String> {
    let operator = operator::metrics::Metrics::new().expect("operator metrics");
    operator.set_pipeline_lag(
        "ns",
        "p",
        Some(1),
        Some(1.0),
        Some(operator::crd::LagVerdict::Ok),
    );
    operator
        .lag_verdict_changes
        .with_label_values(&["OK"])
        .inc();
    let processor =
        shopstream_processor::analytics::metrics::Metrics::new().expect("processor metrics");
    processor.partition_lag.with_label_values(&["0"]).set(0);
    processor
        .merge_partition_lag
        .with_label_values(&["0"])
        .set(0);
    let mut names = exposed(&operator.render());
    names.extend(exposed(&processor.render()));
    names
}

#[test]
fn the_rule_is_off_by_default() {
    let docs = documents(&template("mon", "monitoring", &[]));
    assert!(docs.iter().all(|d| kind(d) != "PrometheusRule"));
}

#[test]
fn every_alert_parses_and_selects_exported_metrics() {
    let rules = rules(&[]);
    let names: Vec<&str> = rules.iter().filter_map(|r| r["alert"].as_str()).collect();
    assert_eq!(names, ALERTS, "the alerts, in order");
    let exported = project_metrics();
    for must in [
        "shopstream_operator_pipeline_lag_seconds",
        "shopstream_operator_pipeline_lag_verdict",
        "shopstream_processor_invalid_events_total",
        "shopstream_processor_end_to_end_latency_seconds",
    ] {
        assert!(
            exported.contains(must),
            "{must} is not exported: {exported:?}"
        );
    }
    for rule in &rules {
        let name = rule["alert"].as_str().expect("alert name");
        let parsed = parser::parse(expr(rule)).unwrap_or_else(|e| {
            panic!("{name}: the expression does not parse: {e}\n{}", expr(rule))
        });
        let selected = selected_metrics(&parsed);
        assert!(!selected.is_empty(), "{name} selects no metric");
        for metric in &selected {
            // A histogram is exposed under its name; rules select its series.
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| metric.strip_suffix(s))
                .filter(|f| exported.contains(*f))
                .unwrap_or(metric);
            assert!(
                exported.contains(family) || KUBERNETES_METRICS.contains(&metric.as_str()),
                "{name} selects {metric}, which neither the project nor the listed Kubernetes exporters export"
            );
        }
        assert!(
            ["info", "warning", "critical"]
                .contains(&rule["labels"]["severity"].as_str().unwrap_or("")),
            "{name}: severity {}",
            rule["labels"]["severity"]
        );
        assert!(
            rule["annotations"]["summary"].is_string(),
            "{name}: summary"
        );
        assert!(
            rule["annotations"]["description"].is_string(),
            "{name}: description"
        );
        assert!(rule["for"].is_string(), "{name}: for");
    }
}

#[test]
fn every_runbook_url_points_at_a_runbook_in_docs() {
    let rules = rules(&[]);
    let dir = chart_common::repo_root().join("docs/runbooks");
    let mut linked = BTreeSet::new();
    for rule in &rules {
        let name = rule["alert"].as_str().expect("alert name");
        let url = rule["annotations"]["runbook_url"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no runbook_url"));
        let file = url
            .strip_prefix("https://shopstream.dev/docs/runbooks/")
            .unwrap_or_else(|| panic!("{name}: {url} is not under runbookBaseUrl"));
        assert_eq!(file, format!("{name}.md"), "{name}: runbook file name");
        let text = std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("{name}: docs/runbooks/{file}: {e}"));
        for section in ["## Meaning", "## Check", "## Fix"] {
            assert!(
                text.contains(section),
                "docs/runbooks/{file} has no {section}"
            );
        }
        linked.insert(file.to_string());
    }
    let files: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("read docs/runbooks")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".md") && f != "README.md")
        .collect();
    assert_eq!(
        files, linked,
        "runbooks without an alert, or alerts without a runbook"
    );
}

#[test]
fn values_set_thresholds_labels_and_switch_alerts_off() {
    let rules = rules(&[
        "--set",
        "prometheusRule.alerts.lagSeconds.threshold=42",
        "--set-json",
        "prometheusRule.alerts.processorMemoryNearLimit.ratio=0.8",
        "--set",
        "prometheusRule.alerts.deadLetterRate.enabled=false",
        "--set",
        "prometheusRule.alerts.windowCloseSlow.threshold=12",
        // `--set` reads 0.9 as a string, which the schema refuses.
        "--set-json",
        "prometheusRule.alerts.windowCloseSlow.quantile=0.9",
        "--set",
        "prometheusRule.runbookBaseUrl=https://runbooks.example/x/",
        "--set",
        "watchNamespace=shop",
    ]);
    assert!(expr(alert(&rules, "ShopstreamPipelineLagHigh")).ends_with("> 42"));
    assert!(expr(alert(&rules, "ShopstreamProcessorMemoryNearLimit")).ends_with("> 0.8"));
    assert!(expr(alert(&rules, "ShopstreamProcessorRestarting")).contains("namespace=\"shop\""));
    let slow = expr(alert(&rules, "ShopstreamWindowCloseSlow"));
    assert!(
        slow.starts_with("histogram_quantile(0.9,") && slow.ends_with("> 12"),
        "{slow}"
    );
    assert!(
        rules
            .iter()
            .all(|r| r["alert"] != "ShopstreamDeadLetterRateHigh")
    );
    assert_eq!(
        alert(&rules, "ShopstreamPipelineLagHigh")["annotations"]["runbook_url"],
        "https://runbooks.example/x/ShopstreamPipelineLagHigh.md"
    );

    let docs = documents(&template(
        "mon",
        "monitoring",
        &[
            ENABLED,
            &[
                "--set",
                "prometheusRule.labels.release=kube-prometheus",
                "--set",
                "prometheusRule.namespace=observability",
            ],
        ]
        .concat(),
    ));
    let rule = docs
        .iter()
        .find(|d| kind(d) == "PrometheusRule")
        .expect("PrometheusRule");
    assert_eq!(rule["metadata"]["labels"]["release"], "kube-prometheus");
    assert_eq!(rule["metadata"]["namespace"], "observability");

    let refused = chart_common::template_output(
        "mon",
        "monitoring",
        &[
            ENABLED,
            &[
                "--set-json",
                "prometheusRule.alerts.processorMemoryNearLimit.ratio=1.5",
            ],
        ]
        .concat(),
    );
    assert!(
        !refused.status.success(),
        "a memory ratio above 1 is refused"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("ratio"), "{stderr}");
}

#[tokio::test]
async fn the_rule_passes_a_server_side_dry_run_against_the_prometheus_operator_crd() {
    let crds = integration_tests::environment::require("SHOPSTREAM_PROMETHEUS_OPERATOR_CRDS");
    let crd = std::path::Path::new(&crds).join("monitoring.coreos.com_prometheusrules.yaml");
    let yaml = std::fs::read_to_string(&crd).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; hack/prometheus-operator/crds.sh fetches it (hack/env-up.sh runs it)",
            crd.display()
        )
    });
    let crd_doc = &documents(&yaml)[0];
    assert_eq!(crd_doc["spec"]["group"], "monitoring.coreos.com");
    apply(&yaml, false);
    let monitors = std::fs::read_to_string(
        std::path::Path::new(&crds).join("monitoring.coreos.com_servicemonitors.yaml"),
    )
    .expect("the ServiceMonitor CRD beside it");
    apply(&monitors, false);
    support::kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/prometheusrules.monitoring.coreos.com",
        "crd/servicemonitors.monitoring.coreos.com",
    ]);

    let client = support::client().await;
    let ns = support::namespace(&client, "chart-rule").await;
    let docs = documents(&template(
        "mon",
        &ns,
        &[
            ENABLED,
            &[
                "--set",
                "metrics.serviceMonitor.enabled=true",
                "--show-only",
                "templates/prometheusrule.yaml",
                "--show-only",
                "templates/servicemonitor.yaml",
            ],
        ]
        .concat(),
    ));
    assert_eq!(docs.len(), 3, "the rule and two ServiceMonitors");
    let out = apply(&to_yaml(&docs), true);
    assert_eq!(
        out.matches("(server dry run)").count(),
        3,
        "every document accepted:\n{out}"
    );

    // The CRD's schema is in force: a rule it refuses is refused.
    let mut broken = docs
        .iter()
        .find(|d| kind(d) == "PrometheusRule")
        .expect("PrometheusRule")
        .clone();
    broken["spec"]["groups"][0]["rules"][0]["for"] = Value::from("ten minutes");
    let refused = chart_common::kubectl_stdin_output(
        &["apply", "--server-side", "--dry-run=server", "-f", "-"],
        &to_yaml(&[broken]),
    );
    assert!(
        !refused.status.success(),
        "the PrometheusRule CRD accepted `for: ten minutes`"
    );
    support::delete_namespace(&client, &ns).await;
}
