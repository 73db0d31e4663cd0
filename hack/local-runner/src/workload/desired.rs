//! What a workload object asks for, in the terms the runner needs.
//!
//! The operator runs its processors and generators as Deployments. A
//! StatefulSet (stable replica identity: the processor takes its replica id
//! from the pod name) is read the same way; the differences are how its pods
//! are named and that it has no ReplicaSets.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Container, PodTemplateSpec};
use kube::ResourceExt as _;
use tracing::warn;

use super::{WorkloadKey, WorkloadKind};

/// The annotation holding a Deployment's (and its current ReplicaSet's)
/// revision.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// Without a `terminationGracePeriodSeconds`, as in a Pod.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct DesiredWorkload {
    pub key: WorkloadKey,
    /// The pod template as JSON: what a rollout compares.
    pub fingerprint: String,
    pub replicas: usize,
    /// SIGTERM-to-SIGKILL, capped by `--max-grace`.
    pub grace: Duration,
    pub template: PodTemplateSpec,
    pub pods: PodNaming,
    /// A StatefulSet's claim templates (each replica's kept data).
    pub claims: Vec<String>,
    /// A StatefulSet's governing Service (`spec.serviceName`).
    pub service_name: Option<String>,
}

/// How the workload's controller names its pods, so that each process can
/// carry the name (`HOSTNAME`, `metadata.name`) of "its" Pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodNaming {
    /// Random suffixes from the current ReplicaSet: the names are listed.
    ReplicaSet {
        uid: String,
        revision: Option<String>,
        match_labels: Option<BTreeMap<String, String>>,
    },
    /// `<name>-<ordinal>`, ordinals counting from `start`.
    Ordinal { start: usize },
}

impl DesiredWorkload {
    pub fn from_deployment(d: &Deployment, max_grace: Duration) -> Result<Self> {
        let spec = d
            .spec
            .as_ref()
            .ok_or_else(|| anyhow!("Deployment has no spec"))?;
        Ok(Self {
            key: WorkloadKey::of(WorkloadKind::Deployment, d),
            fingerprint: fingerprint(&spec.template)?,
            replicas: replica_count(spec.replicas),
            grace: grace_period(&spec.template, max_grace),
            template: spec.template.clone(),
            pods: PodNaming::ReplicaSet {
                uid: d.metadata.uid.clone().unwrap_or_default(),
                revision: d.annotations().get(REVISION_ANNOTATION).cloned(),
                match_labels: spec.selector.match_labels.clone(),
            },
            claims: Vec::new(),
            service_name: None,
        })
    }

    /// Like a Deployment, with two simplifications a demo does not notice:
    /// replicas start together (as with `podManagementPolicy: Parallel`), and
    /// a template change restarts them all at once (also with `OnDelete`).
    pub fn from_stateful_set(s: &StatefulSet, max_grace: Duration) -> Result<Self> {
        let spec = s
            .spec
            .as_ref()
            .ok_or_else(|| anyhow!("StatefulSet has no spec"))?;
        let start = spec
            .ordinals
            .as_ref()
            .and_then(|o| o.start)
            .map(|start| usize::try_from(start).unwrap_or(0))
            .unwrap_or(0);
        Ok(Self {
            key: WorkloadKey::of(WorkloadKind::StatefulSet, s),
            fingerprint: fingerprint(&spec.template)?,
            replicas: replica_count(spec.replicas),
            grace: grace_period(&spec.template, max_grace),
            template: spec.template.clone(),
            pods: PodNaming::Ordinal { start },
            claims: spec
                .volume_claim_templates
                .iter()
                .flatten()
                .filter_map(|c| c.metadata.name.clone())
                .collect(),
            service_name: spec.service_name.clone().filter(|s| !s.is_empty()),
        })
    }

    /// The container the runner runs: the only one, or the first (with a
    /// warning: sidecars are not run).
    pub fn container(&self) -> Result<&Container> {
        let containers = self
            .template
            .spec
            .as_ref()
            .map(|s| s.containers.as_slice())
            .unwrap_or_default();
        match containers {
            [] => bail!("the pod template has no container"),
            [only] => Ok(only),
            [first, ..] => {
                warn!(
                    workload = %self.key,
                    "the pod template has {} containers; only the first ({}) is run",
                    containers.len(),
                    first.name
                );
                Ok(first)
            }
        }
    }

    /// The pod name of replica `index` when the controller's own names are
    /// unknown (a StatefulSet's are always these).
    pub fn fallback_pod_name(&self, index: usize) -> String {
        let ordinal = match self.pods {
            PodNaming::Ordinal { start } => start + index,
            PodNaming::ReplicaSet { .. } => index,
        };
        format!("{}-{ordinal}", self.key.name)
    }
}

fn fingerprint(template: &PodTemplateSpec) -> Result<String> {
    serde_json::to_string(template).context("serializing the pod template")
}

/// `spec.replicas`: 1 when unset, as the API server defaults it.
fn replica_count(replicas: Option<i32>) -> usize {
    usize::try_from(replicas.unwrap_or(1)).unwrap_or(0)
}

fn grace_period(template: &PodTemplateSpec, max_grace: Duration) -> Duration {
    template
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)))
        .unwrap_or(DEFAULT_GRACE)
        .min(max_grace)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::{DeploymentSpec, StatefulSetOrdinals, StatefulSetSpec};
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use kube::api::ObjectMeta;

    use super::*;

    const MAX_GRACE: Duration = Duration::from_secs(15);

    fn template(config_hash: &str, grace: Option<i64>, containers: &[&str]) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                annotations: Some(BTreeMap::from([(
                    "analytics.shopstream.dev/config-hash".to_string(),
                    config_hash.to_string(),
                )])),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                containers: containers
                    .iter()
                    .map(|name| Container {
                        name: name.to_string(),
                        command: Some(vec![name.to_string()]),
                        ..Container::default()
                    })
                    .collect(),
                termination_grace_period_seconds: grace,
                ..PodSpec::default()
            }),
        }
    }

    fn deployment(replicas: Option<i32>, template: PodTemplateSpec) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                name: Some("shop-processor".into()),
                namespace: Some("shop".into()),
                uid: Some("uid-1".into()),
                annotations: Some(BTreeMap::from([(
                    REVISION_ANNOTATION.to_string(),
                    "3".to_string(),
                )])),
                ..ObjectMeta::default()
            },
            spec: Some(DeploymentSpec {
                replicas,
                selector: LabelSelector {
                    match_labels: Some(BTreeMap::from([("app".into(), "shop".into())])),
                    ..LabelSelector::default()
                },
                template,
                ..DeploymentSpec::default()
            }),
            ..Deployment::default()
        }
    }

    fn desired(d: &Deployment) -> DesiredWorkload {
        DesiredWorkload::from_deployment(d, MAX_GRACE).expect("valid Deployment")
    }

    #[test]
    fn a_deployment_reads_as_its_replicas_template_and_pod_naming() {
        let d = desired(&deployment(
            Some(3),
            template("a", Some(10), &["processor"]),
        ));
        assert_eq!(
            d.key,
            WorkloadKey {
                kind: WorkloadKind::Deployment,
                namespace: "shop".into(),
                name: "shop-processor".into(),
            }
        );
        assert_eq!(d.key.to_string(), "Deployment shop/shop-processor");
        assert_eq!(d.replicas, 3);
        assert_eq!(d.grace, Duration::from_secs(10));
        assert_eq!(
            d.pods,
            PodNaming::ReplicaSet {
                uid: "uid-1".into(),
                revision: Some("3".into()),
                match_labels: Some(BTreeMap::from([("app".into(), "shop".into())])),
            }
        );
        assert_eq!(d.container().expect("a container").name, "processor");
        assert_eq!(d.fallback_pod_name(2), "shop-processor-2");
    }

    #[test]
    fn unset_replicas_mean_one_and_negative_ones_none() {
        let t = || template("a", None, &["processor"]);
        assert_eq!(desired(&deployment(None, t())).replicas, 1);
        assert_eq!(desired(&deployment(Some(0), t())).replicas, 0);
        assert_eq!(desired(&deployment(Some(-2), t())).replicas, 0);
    }

    #[test]
    fn the_grace_period_defaults_to_thirty_seconds_capped_by_max_grace() {
        let grace = |g| grace_period(&template("a", g, &["p"]), Duration::from_secs(45));
        assert_eq!(grace(None), Duration::from_secs(30));
        assert_eq!(grace(Some(5)), Duration::from_secs(5));
        assert_eq!(grace(Some(600)), Duration::from_secs(45));
        assert_eq!(grace(Some(-1)), Duration::ZERO);
    }

    /// What restarts a workload's processes: any template change (the
    /// operator's config-hash annotation, an env change), not a scale.
    #[test]
    fn the_fingerprint_follows_the_template_only() {
        let base = desired(&deployment(Some(1), template("a", None, &["processor"])));
        let scaled = desired(&deployment(Some(4), template("a", None, &["processor"])));
        let new_config = desired(&deployment(Some(1), template("b", None, &["processor"])));
        let new_grace = desired(&deployment(Some(1), template("a", Some(5), &["processor"])));
        assert_eq!(base.fingerprint, scaled.fingerprint);
        assert_ne!(base.fingerprint, new_config.fingerprint);
        assert_ne!(base.fingerprint, new_grace.fingerprint);
    }

    #[test]
    fn a_template_without_containers_fails_when_started_and_extra_ones_are_ignored() {
        let none = desired(&deployment(Some(1), template("a", None, &[])));
        assert_eq!(
            none.container().unwrap_err().to_string(),
            "the pod template has no container"
        );
        let two = desired(&deployment(
            Some(1),
            template("a", None, &["processor", "sidecar"]),
        ));
        assert_eq!(two.container().expect("the first").name, "processor");
    }

    #[test]
    fn a_deployment_without_spec_is_an_error() {
        let err = DesiredWorkload::from_deployment(&Deployment::default(), MAX_GRACE).unwrap_err();
        assert_eq!(err.to_string(), "Deployment has no spec");
    }

    #[test]
    fn a_stateful_sets_pods_are_named_by_ordinal() {
        let set = |ordinals: Option<StatefulSetOrdinals>| StatefulSet {
            metadata: ObjectMeta {
                name: Some("shop-processor".into()),
                namespace: Some("shop".into()),
                ..ObjectMeta::default()
            },
            spec: Some(StatefulSetSpec {
                replicas: Some(2),
                ordinals,
                template: template("a", Some(20), &["processor"]),
                ..StatefulSetSpec::default()
            }),
            ..StatefulSet::default()
        };
        let d = DesiredWorkload::from_stateful_set(&set(None), MAX_GRACE).expect("valid");
        assert_eq!(d.key.kind, WorkloadKind::StatefulSet);
        assert_eq!(d.key.to_string(), "StatefulSet shop/shop-processor");
        assert_eq!(d.replicas, 2);
        assert_eq!(d.grace, MAX_GRACE);
        assert_eq!(d.pods, PodNaming::Ordinal { start: 0 });
        assert_eq!(d.fallback_pod_name(1), "shop-processor-1");

        let from_five = set(Some(StatefulSetOrdinals { start: Some(5) }));
        let d = DesiredWorkload::from_stateful_set(&from_five, MAX_GRACE).expect("valid");
        assert_eq!(d.fallback_pod_name(0), "shop-processor-5");
    }
}
