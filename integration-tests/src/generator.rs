//! The generator binary, as the suites run it.

use std::process::Output;

use tokio::process::Command;

use crate::binaries;
use crate::environment::kafka_bootstrap as bootstrap;

/// The generator binary with a clean environment (no GENERATOR_* leaking in
/// from the caller's shell) and a free metrics port.
pub fn generator(topic: &str, args: &[&str]) -> Command {
    let mut command = Command::new(binaries::path("generator"));
    for (name, _) in std::env::vars() {
        if name.starts_with("GENERATOR_")
            || ["KAFKA_BOOTSTRAP_SERVERS", "METRICS_ADDR", "LOG_FORMAT"].contains(&name.as_str())
        {
            command.env_remove(name);
        }
    }
    if !args.contains(&"--metrics-addr") {
        command.args(["--metrics-addr", "127.0.0.1:0"]);
    }
    command
        .env("RUST_LOG", "warn")
        .args(["--bootstrap-servers", &bootstrap(), "--topic", topic])
        .args(["--startup-timeout", "20s"])
        .args(args)
        .kill_on_drop(true);
    command
}

pub async fn run_ok(topic: &str, args: &[&str]) -> Output {
    let output = generator(topic, args)
        .output()
        .await
        .expect("the generator starts");
    assert!(
        output.status.success(),
        "generator {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `{run_id:016x}-{sequence}` → sequence.
pub fn sequence_of(event_id: &str) -> u64 {
    let (run, seq) = event_id.split_once('-').expect("run-sequence id");
    assert_eq!(run.len(), 16, "{event_id}");
    seq.parse().expect("numeric sequence")
}
