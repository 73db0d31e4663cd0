use std::collections::BTreeMap;

/// Which workload of a pipeline an object belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Generator,
    Processor,
    /// The serving component (`spec.serving`).
    Serving,
    /// The Redis the operator deploys for serving (`redis.managed: true`).
    Redis,
    /// Objects shared by both workloads (ConfigMap, metrics Service).
    Pipeline,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Generator => "generator",
            Component::Processor => "processor",
            Component::Serving => "serving",
            Component::Redis => "redis",
            Component::Pipeline => "pipeline",
        }
    }
}

/// The recommended `app.kubernetes.io/*` labels of every owned object.
pub fn labels(pipeline: &str, component: Component) -> BTreeMap<String, String> {
    let mut labels = selector_labels(pipeline, component);
    labels.insert("app.kubernetes.io/part-of".into(), "shopstream".into());
    labels.insert(
        "app.kubernetes.io/managed-by".into(),
        "shopstream-operator".into(),
    );
    labels
}

/// The subset of labels that selects a workload's pods. Never changes for
/// the life of a Deployment, since selectors are immutable.
pub fn selector_labels(pipeline: &str, component: Component) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([(
        "app.kubernetes.io/instance".to_string(),
        pipeline.to_string(),
    )]);
    if component != Component::Pipeline {
        labels.insert(
            "app.kubernetes.io/component".into(),
            component.as_str().into(),
        );
        labels.insert(
            "app.kubernetes.io/name".into(),
            format!("shopstream-{}", component.as_str()),
        );
    }
    labels
}
