use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;

use super::deployment::METRICS_PORT;
use super::labels::{Component, labels, selector_labels};
use crate::model::ValidatedPipeline;

pub fn metrics_service_name(pipeline: &str) -> String {
    format!("{pipeline}-metrics")
}

/// A Service over the generator and processor pods' metrics port, for
/// Prometheus (or a ServiceMonitor) to discover.
pub fn build_metrics_service(p: &ValidatedPipeline) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(metrics_service_name(&p.name)),
            namespace: Some(p.namespace.clone()),
            labels: Some(labels(&p.name, Component::Pipeline)),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(&p.name, Component::Pipeline)),
            ports: Some(vec![ServicePort {
                name: Some("metrics".into()),
                port: METRICS_PORT,
                target_port: Some(IntOrString::String("metrics".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
