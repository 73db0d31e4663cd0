//! SIGTERM stops the processor promptly, with exit code 0: within seconds
//! while its topics exist, and within the local runner's 10 s (well within
//! a pod's grace period) after they were deleted under it, the way
//! deleting a pipeline does, with records flowing so that a transaction is
//! in flight. Before the stop was bounded, the last transaction waited for
//! its records to the deleted partials topic until the 30 s produce
//! timeout, and the runner killed the processor (SIGKILL) after 10 s.
//!
//! Against the local environment's broker (`hack/env.sh`).

#[path = "processor_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use support::dataset::{Lcg, SETTINGS, event};
use support::pipeline::*;
use support::{bootstrap, create_topics, delete_topics, unique};
use tokio::task::JoinHandle;

/// Within this, a processor whose topics exist has stopped (it takes well
/// under a second on an idle machine; the rest is headroom for a loaded one).
const HEALTHY_STOP: Duration = Duration::from_secs(5);
/// The local runner's SIGKILL deadline, also the bound `stopping.rs`
/// keeps below.
const RUNNER_KILL: Duration = Duration::from_secs(10);

/// Produces a few current purchase events to every input partition every
/// 50 ms until stopped (errors ignored: the topic is deleted under it).
fn feed(input: &str, partitions: i32, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    let input = input.to_owned();
    tokio::spawn(async move {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap())
            .set("linger.ms", "5")
            .set("message.timeout.ms", "2000")
            .create()
            .expect("producer");
        let mut rng = Lcg(7);
        let mut n = 0u64;
        while !stop.load(Ordering::Acquire) {
            let now = chrono::Utc::now().timestamp_millis();
            for p in 0..partitions {
                n += 1;
                let value = event(&format!("stop-{n}"), now, &mut rng).to_string();
                let record = FutureRecord::<(), _>::to(&input)
                    .partition(p)
                    .payload(&value);
                let _ = producer.send(record, Duration::from_millis(100)).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// Sends SIGTERM; the exit status and how long the exit took (waits up to
/// 40 s, to report the time even when it is far too long).
fn terminate(replica: &mut Replica) -> (std::process::ExitStatus, Duration) {
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(replica.child.id().to_string())
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let sent = Instant::now();
    loop {
        if let Some(status) = replica.child.try_wait().expect("wait") {
            return (status, sent.elapsed());
        }
        assert!(
            sent.elapsed() < Duration::from_secs(40),
            "no exit 40 s after SIGTERM\n{}",
            replica.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A replica running on fresh topics, ready, with records flowing and
/// committed through both stages for a moment.
async fn running(prefix: &str) -> (Topics, Replica, Arc<AtomicBool>, JoinHandle<()>) {
    let input = unique(&format!("{prefix}-input"));
    create_topics(&[(&input, 2)]).await;
    let topics = Topics::create(&input, prefix).await;
    let replica = spawn(&topics, &unique(&format!("{prefix}-g")), "0", &SETTINGS);
    let replicas = [replica];
    wait_ready(&replicas, Duration::from_secs(60)).await;
    let [replica] = replicas;
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(&input, 2, Arc::clone(&stop));
    let deadline = Instant::now() + Duration::from_secs(30);
    while replica.metric("shopstream_processor_events_consumed_total") < 20.0 {
        assert!(
            Instant::now() < deadline,
            "no records consumed\n{}",
            replica.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (topics, replica, stop, feeder)
}

fn all_topics(topics: &Topics) -> Vec<&str> {
    let mut names = vec![topics.partials.as_str(), topics.dead_letter.as_str()];
    names.extend(topics.outputs.values().map(String::as_str));
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_its_topics_present_exits_0_within_seconds() {
    let (topics, mut replica, stop, feeder) = running("stop-live").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, took) = terminate(&mut replica);
    stop.store(true, Ordering::Release);
    feeder.await.expect("feeder");
    let log = replica.log_text();
    assert!(status.success(), "exit {status} after SIGTERM\n{log}");
    assert!(
        took < HEALTHY_STOP,
        "exit {took:?} after SIGTERM (over {HEALTHY_STOP:?})\n{log}"
    );
    // A clean stop, not the stop limit giving up.
    assert!(log.contains("stage 1 stopped"), "{log}");
    assert!(log.contains("stage 2 stopped"), "{log}");
    println!("exit 0 {took:?} after SIGTERM with the topics present");
    let mut names = all_topics(&topics);
    names.push(&topics.input);
    delete_topics(&names).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_after_its_topics_were_deleted_exits_0_before_the_runner_kills_it() {
    let (topics, mut replica, stop, feeder) = running("stop-deleted").await;
    // The outputs go first while records still flow in, so the transaction
    // in flight has records for a topic that no longer exists; then the
    // input.
    delete_topics(&all_topics(&topics)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    delete_topics(&[&topics.input]).await;
    stop.store(true, Ordering::Release);
    feeder.await.expect("feeder");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, took) = terminate(&mut replica);
    let log = replica.log_text();
    assert!(status.success(), "exit {status} after SIGTERM\n{log}");
    assert!(
        took < RUNNER_KILL,
        "exit {took:?} after SIGTERM: the runner would have killed it at {RUNNER_KILL:?}\n{log}"
    );
    println!("exit 0 {took:?} after SIGTERM with the topics deleted");
}
