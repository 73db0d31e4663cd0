//! NetworkPolicies around the pipeline's pods (`spec.networkPolicy`), one
//! per workload, named like it and selecting its pods by their full
//! selector labels. One policy per workload rather than one over
//! `app.kubernetes.io/instance=<pipeline>` because that label alone may
//! also be a Helm release's of the same name, whose pods a policy must not
//! catch; and because the workloads need different egress (only serving
//! reaches Redis).
//!
//! Egress: DNS (UDP and TCP 53), the Kafka brokers on their ports, Redis
//! for serving. Nothing else, in particular not the API server: the pods
//! run without a ServiceAccount token. Ingress: the pods' one HTTP port
//! (`metrics`: metrics and probes; the dashboard on serving), from the
//! configured peers or, unset, from anywhere.

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;

use super::deployment::{generator_name, processor_name};
use super::labels::{Component, labels, selector_labels};
use super::serving::serving_name;
use crate::model::{NetworkPolicySettings, ValidatedPipeline};

/// DNS, over UDP and (for large answers) TCP.
const DNS_PORT: i32 = 53;

/// The names of every NetworkPolicy a pipeline may have, with the
/// component each protects: the workload's own name.
pub fn network_policy_names(pipeline: &str) -> [(Component, String); 3] {
    [
        (Component::Processor, processor_name(pipeline)),
        (Component::Generator, generator_name(pipeline)),
        (Component::Serving, serving_name(pipeline)),
    ]
}

/// The pipeline's NetworkPolicies: none unless `spec.networkPolicy.enabled`,
/// else one per running workload (processor, generator, serving).
pub fn build_network_policies(p: &ValidatedPipeline) -> Vec<NetworkPolicy> {
    let Some(settings) = &p.network_policy else {
        return Vec::new();
    };
    network_policy_names(&p.name)
        .into_iter()
        .filter(|(component, _)| match component {
            Component::Generator => p.generator.is_some(),
            Component::Serving => p.serving.is_some(),
            _ => true,
        })
        .map(|(component, name)| build_policy(p, settings, component, name))
        .collect()
}

fn build_policy(
    p: &ValidatedPipeline,
    settings: &NetworkPolicySettings,
    component: Component,
    name: String,
) -> NetworkPolicy {
    let mut egress = vec![
        egress_rule(
            &settings.dns_peers,
            [("UDP", DNS_PORT), ("TCP", DNS_PORT)].into_iter(),
        ),
        egress_rule(
            &settings.kafka_peers,
            settings.kafka_ports.iter().map(|port| ("TCP", *port)),
        ),
    ];
    let mut ingress = vec![http_ingress(&settings.metrics_from)];
    if component == Component::Serving {
        if let Some((peers, port)) = &settings.redis {
            egress.push(egress_rule(peers, std::iter::once(("TCP", *port))));
        }
        ingress.push(http_ingress(&settings.dashboard_from));
    }
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(p.namespace.clone()),
            labels: Some(labels(&p.name, component)),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector_labels(&p.name, component)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(ingress),
            egress: Some(egress),
        }),
    }
}

fn egress_rule<'a>(
    peers: &[NetworkPolicyPeer],
    ports: impl Iterator<Item = (&'a str, i32)>,
) -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule {
        to: Some(peers.to_vec()),
        ports: Some(
            ports
                .map(|(protocol, port)| NetworkPolicyPort {
                    protocol: Some(protocol.into()),
                    port: Some(IntOrString::Int(port)),
                    end_port: None,
                })
                .collect(),
        ),
    }
}

/// The pods' HTTP port, by name (the container port `metrics`, 9090):
/// policies apply to pod ports, behind the Services' ports.
fn http_ingress(from: &[NetworkPolicyPeer]) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        // No `from`: any source, still only on this port.
        from: (!from.is_empty()).then(|| from.to_vec()),
        ports: Some(vec![NetworkPolicyPort {
            protocol: Some("TCP".into()),
            port: Some(IntOrString::String("metrics".into())),
            end_port: None,
        }]),
    }
}
