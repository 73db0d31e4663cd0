//! Step 3 of a reconcile: pure builders of the Kubernetes objects a pipeline
//! owns. Each builder takes the validated pipeline and returns the complete
//! desired object; the apply step sends it with server-side apply. Tested
//! against YAML fixtures in `operator/tests/fixtures/`.

mod configmap;
mod deployment;
mod labels;
mod managed_redis;
mod network_policy;
mod service;
mod serving;
mod statefulset;

pub use configmap::{build_config_map, config_map_name, generator_env_keys, processor_env_keys};
pub use deployment::{
    KAFKA_SECRETS_ANNOTATION, METRICS_PORT, build_generator_deployment, generator_name,
    processor_name,
};
pub use labels::{Component, labels, selector_labels};
pub use managed_redis::{
    REDIS_DATA_VOLUME, REDIS_PORT, build_managed_redis_service, build_managed_redis_statefulset,
    managed_redis_address, managed_redis_name,
};
pub use network_policy::{build_network_policies, network_policy_names};
pub use service::{build_metrics_service, metrics_service_name};
pub use serving::{
    SERVED_TOPICS, SERVING_SERVICE_PORT, build_serving_deployment, build_serving_service,
    serving_group, serving_name, serving_url,
};
pub use statefulset::build_processor_statefulset;
