//! The variables `hack/env.sh` prints for the local environment. A suite
//! run without them fails (never skips), naming what to start.

/// What to run to get the environment, in every failure message.
pub const HOW_TO_START: &str = "needs the local environment: run `make env-up` and `eval \"$(hack/env.sh)\"` \
     (or run everything with `make test`)";

/// The value of `name`, or a panic saying that the test needs the local
/// environment.
pub fn require(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{name} is not set: this test {HOW_TO_START}"),
    }
}

/// The local Kafka broker, `host:port`.
pub fn kafka_bootstrap() -> String {
    require("SHOPSTREAM_KAFKA_BOOTSTRAP")
}
