//! The broker stalls (SIGSTOP) for longer than the processor's produce
//! timeout while a large batch is being written: the transaction fails
//! with an abortable error, and the processor aborts it and re-reads the
//! batch instead of exiting; results stay exact.
//!
//! This stops the local environment's broker (the one of the sourced slot,
//! from `SHOPSTREAM_KAFKA_PID_FILE`), so it is a test binary of its own:
//! cargo runs test binaries one after another.

#[path = "processor_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::dataset::*;
use support::pipeline::*;
use support::recompute::assert_matches;
use support::{create_topics, unique};

/// The local broker's pid, checked to be a Kafka broker.
fn broker_pid() -> u32 {
    let file = std::env::var("SHOPSTREAM_KAFKA_PID_FILE").unwrap_or_else(|_| {
        panic!(
            "SHOPSTREAM_KAFKA_PID_FILE is not set: this test pauses the local broker. Run it \
             with `make test`, or export what `hack/env.sh` prints."
        )
    });
    let pid: u32 = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("reading {file}: {e}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("kafka.Kafka"),
        "pid {pid} from {file} is not a Kafka broker"
    );
    pid
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid}");
}

/// The broker is stopped while this lives; resumed on drop, also when the
/// test fails.
struct Paused(u32);

impl Paused {
    fn new(pid: u32) -> Self {
        signal(pid, "STOP");
        Paused(pid)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_stall_longer_than_the_request_timeout_aborts_and_rewinds() {
    let pid = broker_pid();
    let input = unique("pause-input");
    create_topics(&[(&input, 3)]).await;
    let topics = Topics::create(&input, "pause").await;
    let group = unique("pause-g");
    // A backlog, so batches are large: tens of thousands of records, a
    // third of them anomalies (a record each in the transaction).
    let mut records = data_set(91, 30_000, 300);
    produce(&input, &records).await;
    let mut replicas = vec![spawn_with(
        &topics,
        &group,
        "0",
        &SETTINGS,
        &[("PROCESSOR_PRODUCE_TIMEOUT_MS", "1000")],
    )];
    // Stall the broker inside a transaction, for 6x the produce timeout.
    let deadline = Instant::now() + Duration::from_secs(60);
    while replicas[0].metric("shopstream_processor_transaction_open") != 1.0
        || replicas[0].metric("shopstream_processor_events_consumed_total") < 1_000.0
    {
        assert!(
            Instant::now() < deadline,
            "no transaction\n{}",
            logs(&replicas)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    {
        let _paused = Paused::new(pid);
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    let closing = closing_events(91);
    produce(&input, &closing).await;
    records.extend(closing);
    let want = expected(&records);
    let got = read_results(&topics, &want, Duration::from_secs(120)).await;
    assert!(
        replicas[0].alive(),
        "the processor exited:\n{}",
        logs(&replicas)
    );
    assert_matches(&got, &want);
    let aborted = replicas[0].metric("shopstream_processor_transactions_aborted_total");
    let rewinds = replicas[0].metric("shopstream_processor_merge_rewinds_total");
    assert!(
        aborted >= 1.0,
        "no transaction was aborted ({rewinds} merge rewinds)\n{}",
        logs(&replicas)
    );
    eprintln!("{aborted} transactions aborted, {rewinds} merge rewinds");
    sigterm(&mut replicas[0]);
}
