//! Helpers of the Helm chart tests (chart_*.rs): rendering the chart with
//! the helm binary hack/helm/build.sh builds, splitting the output into
//! documents, and piping YAML to the test environment's kubectl. They never
//! skip: a missing helm or kubectl is a failure that says how to get it.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub fn repo_root() -> PathBuf {
    integration_tests::checkout::workspace_root()
}

pub fn chart_dir() -> PathBuf {
    repo_root().join("helm/shopstream-operator")
}

/// `$SHOPSTREAM_HELM`, which `hack/env.sh` exports and `hack/helm/build.sh`
/// builds (`make test` runs both).
pub fn helm_path() -> String {
    let helm = integration_tests::environment::require("SHOPSTREAM_HELM");
    assert!(
        std::path::Path::new(&helm).is_file(),
        "SHOPSTREAM_HELM={helm} does not exist: run hack/helm/build.sh (make test does)"
    );
    helm
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("cannot write to {program}'s stdin: {e}"));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {program}: {e}"))
}

fn check(what: &str, output: Output) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout),
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs helm with `args`; panics with its output on failure.
pub fn helm(args: &[&str]) -> String {
    let helm = helm_path();
    check(&format!("helm {}", args.join(" ")), run(&helm, args, None))
}

/// `helm template <release> <chart> --namespace <namespace> <extra...>`.
pub fn template(release: &str, namespace: &str, extra: &[&str]) -> String {
    let chart = chart_dir();
    let chart = chart.to_str().expect("utf-8 path");
    let mut args = vec!["template", release, chart, "--namespace", namespace];
    args.extend_from_slice(extra);
    helm(&args)
}

/// `helm template` like [`template`], returning the raw output, for
/// renders that must fail.
pub fn template_output(release: &str, namespace: &str, extra: &[&str]) -> Output {
    let chart = chart_dir();
    let chart = chart.to_str().expect("utf-8 path");
    let mut args = vec!["template", release, chart, "--namespace", namespace];
    args.extend_from_slice(extra);
    run(&helm_path(), &args, None)
}

/// The non-empty documents of a multi-document YAML stream, as JSON.
pub fn documents(yaml: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| Value::deserialize(doc).expect("the YAML parses"))
        .filter(|v| !v.is_null())
        .collect()
}

/// The documents back as one YAML stream, for kubectl.
pub fn to_yaml(docs: &[Value]) -> String {
    docs.iter()
        .map(|d| serde_yaml::to_string(d).expect("serialises"))
        .collect::<Vec<_>>()
        .join("---\n")
}

pub fn kind(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or_default()
}

pub fn name(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or_default()
}

pub fn kubectl_path() -> String {
    integration_tests::environment::require("SHOPSTREAM_KUBECTL")
}

/// Runs kubectl with `args` and `stdin`, returning the raw output.
pub fn kubectl_stdin_output(args: &[&str], stdin: &str) -> Output {
    run(&kubectl_path(), args, Some(stdin))
}

/// Runs kubectl with `args` and `stdin`; panics with its output on failure.
pub fn kubectl_stdin(args: &[&str], stdin: &str) -> String {
    check(
        &format!("kubectl {}", args.join(" ")),
        kubectl_stdin_output(args, stdin),
    )
}

/// Server-side apply of `yaml`, for real or as a server-side dry run.
pub fn apply(yaml: &str, dry_run: bool) -> String {
    let mut args = vec![
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=shopstream-tests",
        "-f",
        "-",
    ];
    if dry_run {
        args.push("--dry-run=server");
    }
    kubectl_stdin(&args, yaml)
}
