//! A loggable view of a client configuration.
//!
//! `rdkafka::ClientConfig`'s `Debug` prints every value, `sasl.password`
//! included: never log a `ClientConfig` itself, log [`redacted`] of it.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;

/// librdkafka properties that hold secrets (librdkafka's own "sensitive"
/// set). Any property whose name contains `password` or `secret` is treated
/// as one too, so a property added by a later librdkafka is covered.
pub const SENSITIVE_PROPERTIES: &[&str] = &[
    "sasl.password",
    "sasl.oauthbearer.config",
    "sasl.oauthbearer.client.secret",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl_key",
    "ssl.keystore.password",
];

const REDACTED: &str = "[redacted]";

fn is_sensitive(key: &str) -> bool {
    SENSITIVE_PROPERTIES.contains(&key) || key.contains("password") || key.contains("secret")
}

/// Every property of `config`, sorted by name, secrets replaced by
/// `[redacted]`.
pub fn redacted(config: &ClientConfig) -> BTreeMap<String, String> {
    config
        .config_map()
        .iter()
        .map(|(key, value)| {
            let value = if is_sensitive(key) {
                REDACTED.to_string()
            } else {
                value.clone()
            };
            (key.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_and_the_rest_kept() {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", "kafka:9093")
            .set("sasl.username", "pipeline-a")
            .set("sasl.password", "s3cret")
            .set("ssl.key.pem", "-----BEGIN PRIVATE KEY-----")
            .set("ssl.key.location", "/secrets/user.key")
            .set("sasl.oauthbearer.client.secret", "client-secret-value")
            .set("some.future.password.setting", "future-value");
        let view = redacted(&config);
        let shown = format!("{view:?}");
        for secret in [
            "s3cret",
            "BEGIN PRIVATE KEY",
            "client-secret-value",
            "future-value",
        ] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        assert_eq!(view["sasl.password"], REDACTED);
        assert_eq!(view["bootstrap.servers"], "kafka:9093");
        assert_eq!(view["sasl.username"], "pipeline-a");
        // A path is not a secret: it says where the key is, not what it is.
        assert_eq!(view["ssl.key.location"], "/secrets/user.key");
    }
}
