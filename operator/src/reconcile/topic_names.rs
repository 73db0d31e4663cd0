//! Which Kafka topic plays which role. Pure, so every rule is unit-tested.
//!
//! Kafka topic names are global to a cluster while pipelines are namespaced,
//! so a default name must carry the namespace: `<namespace>.<pipeline>.<role>`.
//! Namespaces are DNS labels (no dots) and roles contain no dots, so the
//! first and the last dot split a default name unambiguously, whatever
//! roles are added later. Kafka treats `.` and `_` alike in metric names and
//! refuses a topic whose name differs from an existing one only there; no
//! default name contains `_`, so defaults never collide with each other.
//!
//! A running pipeline keeps the names it uses: the name recorded in
//! `status.topics` wins over the default, so an operator upgrade that
//! changes the default never moves a live pipeline to new, empty topics.
//! An explicit `spec.topics.<role>.name` wins over both.

/// The longest topic name Kafka accepts.
pub const MAX_TOPIC_NAME_LENGTH: usize = 249;

/// The default name of the topic playing `role` in `namespace/pipeline`.
pub fn default_topic_name(namespace: &str, pipeline: &str, role: &str) -> String {
    format!("{namespace}.{pipeline}.{role}")
}

/// Where a resolved name came from; decides how a too-long name is fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameSource {
    /// `spec.topics.<role>.name`.
    Spec,
    /// The name the pipeline already uses, from `status.topics`.
    Status,
    /// `<namespace>.<pipeline>.<role>`.
    Default,
}

/// The name of the topic playing `role`: the spec's, else the one the
/// pipeline already uses, else the default.
pub fn resolve_topic_name(
    explicit: Option<&str>,
    in_use: Option<&str>,
    namespace: &str,
    pipeline: &str,
    role: &str,
) -> (String, NameSource) {
    match (explicit, in_use) {
        (Some(name), _) => (name.to_string(), NameSource::Spec),
        (None, Some(name)) => (name.to_string(), NameSource::Status),
        (None, None) => (
            default_topic_name(namespace, pipeline, role),
            NameSource::Default,
        ),
    }
}

/// Why a name Kafka would refuse cannot be used, and what to do about it;
/// `spec_field` is the role's field under `spec.topics`, `None` for the
/// internal partials topic, which has no field.
pub fn check_length(
    name: &str,
    role: &str,
    source: NameSource,
    spec_field: Option<&str>,
) -> Result<(), String> {
    if name.len() <= MAX_TOPIC_NAME_LENGTH {
        return Ok(());
    }
    let fix = match (source, spec_field) {
        (NameSource::Default, Some(field)) => {
            format!("set spec.topics.{field}.name, or use a shorter pipeline or namespace name")
        }
        (_, Some(field)) => format!("set a shorter spec.topics.{field}.name"),
        (_, None) => "use a shorter pipeline or namespace name".to_string(),
    };
    Err(format!(
        "the {role} topic name {name} has {} characters, Kafka allows {MAX_TOPIC_NAME_LENGTH}: {fix}",
        name.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_carry_the_namespace() {
        assert_eq!(
            default_topic_name("team-a", "shop", "input"),
            "team-a.shop.input"
        );
        assert_eq!(
            default_topic_name("team-a", "shop", "top-products"),
            "team-a.shop.top-products"
        );
        // The same pipeline name in two namespaces never shares a topic.
        assert_ne!(
            default_topic_name("staging", "shop", "partials"),
            default_topic_name("prod", "shop", "partials")
        );
        // Dots separate: `a-b` + `c` and `a` + `b-c` stay apart (with `-`
        // as the separator both would be `a-b-c-input`).
        assert_ne!(
            default_topic_name("a-b", "c", "input"),
            default_topic_name("a", "b-c", "input")
        );
    }

    #[test]
    fn spec_wins_over_status_which_wins_over_the_default() {
        assert_eq!(
            resolve_topic_name(Some("purchases"), Some("shop-input"), "ns", "shop", "input"),
            ("purchases".to_string(), NameSource::Spec)
        );
        // A pipeline that ran before the namespaced default keeps its topic.
        assert_eq!(
            resolve_topic_name(None, Some("shop-input"), "ns", "shop", "input"),
            ("shop-input".to_string(), NameSource::Status)
        );
        assert_eq!(
            resolve_topic_name(None, None, "ns", "shop", "input"),
            ("ns.shop.input".to_string(), NameSource::Default)
        );
    }

    #[test]
    fn names_longer_than_kafka_allows_say_how_to_fix_them() {
        let long_pipeline = "p".repeat(240);
        let name = default_topic_name("team-a", &long_pipeline, "input");
        let why =
            check_length(&name, "input", NameSource::Default, Some("input")).expect_err("too long");
        assert!(why.contains("Kafka allows 249"), "{why}");
        assert!(why.contains("set spec.topics.input.name"), "{why}");

        let why = check_length(&name, "partials", NameSource::Default, None).expect_err("too long");
        assert!(why.contains("shorter pipeline or namespace name"), "{why}");

        let exact = "t".repeat(MAX_TOPIC_NAME_LENGTH);
        assert_eq!(
            check_length(&exact, "input", NameSource::Spec, Some("input")),
            Ok(())
        );
        let why = check_length(
            &format!("{exact}x"),
            "sales",
            NameSource::Spec,
            Some("sales"),
        )
        .expect_err("too long");
        assert!(
            why.contains("set a shorter spec.topics.sales.name"),
            "{why}"
        );
    }
}
