//! The operator's first contact with a brand-new broker, ten times over.
//!
//! Each round starts a private Kafka broker with an empty data directory on
//! its own ports (hack/kafka/up.sh with its own run directory, so the
//! environment's main broker is never touched), starts the operator on a
//! fresh namespace, applies several new pipelines at once and waits until
//! every one has its topics and a lag sample in its status: the sample
//! asked the group coordinator for the committed offsets of brand-new
//! groups while `__consumer_offsets` was still being created. With
//! librdkafka 2.10's admin API that answer (NOT_COORDINATOR) crashed the
//! operator with SIGSEGV (librdkafka #5040); the operator must be alive
//! after every round.

#[path = "operator_support/mod.rs"]
mod support;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use kube::Api;
use operator::crd::AnalyticsPipeline;
use serde_json::json;
use support::private_broker::PrivateBroker;
use support::{OperatorProcess, apply_pipeline, condition, wait_until};

const ROUNDS: usize = 10;
const PIPELINES_PER_ROUND: usize = 4;

fn lag_sampled(p: &AnalyticsPipeline) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.processor.as_ref())
        .is_some_and(|processor| processor.total_lag.is_some())
}

/// Whether the process runs (exists and is not a zombie waiting for us).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}

/// Fails the test with the operator's exit (signal) and the end of its log.
fn assert_alive(operator: &mut OperatorProcess, log: &str, round: usize) {
    if let Ok(Some(status)) = operator.child.try_wait() {
        let tail: String = std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        panic!(
            "round {round}: the operator died ({status}, signal {:?}); last log lines:\n{tail}",
            status.signal()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_survives_first_contact_with_fresh_brokers() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let started = Instant::now();
    for round in 0..ROUNDS {
        let broker = PrivateBroker::start(&format!("cold-{round}"));
        let ns = support::namespace(&client, &format!("cold-{round}")).await;
        let identity = format!("cold-{round}");
        let mut operator = OperatorProcess::start(&ns, &identity, "shopstream-operator");
        let log = OperatorProcess::log_path(&ns, &identity);
        let pid = operator.child.id();
        let names: Vec<String> = (0..PIPELINES_PER_ROUND)
            .map(|i| format!("cold-{i}"))
            .collect();
        // All at once: the operator reconciles them concurrently, each one
        // asking for its own new consumer group's offsets.
        futures::future::join_all(names.iter().map(|name| {
            apply_pipeline(
                &client,
                &ns,
                name,
                json!({
                    "kafka": {"bootstrapServers": broker.bootstrap()},
                    "topics": {"input": {"partitions": 2}},
                    "generator": {"enabled": false},
                    "processor": {"replicas": 1},
                }),
            )
        }))
        .await;

        let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
        for name in &names {
            let what = format!("round {round}: {name} with topics and a lag sample");
            let result = tokio::time::timeout(
                Duration::from_secs(90),
                wait_until(&what, Duration::from_secs(90), || async {
                    if !running(pid) {
                        // Stop waiting: assert_alive below says how it died.
                        return Ok(());
                    }
                    let p = pipelines.get(name).await.map_err(|e| e.to_string())?;
                    let topics = condition(&p, "TopicsReady");
                    match (&topics, lag_sampled(&p)) {
                        (Some((status, _, _)), true) if status == "True" => Ok(()),
                        _ => Err(format!(
                            "TopicsReady {topics:?}, lag sampled: {}",
                            lag_sampled(&p)
                        )),
                    }
                }),
            )
            .await;
            assert!(result.is_ok(), "{what}: timed out");
            assert_alive(&mut operator, &log, round);
        }
        assert_alive(&mut operator, &log, round);
        operator.kill();
        drop(broker);
        support::delete_namespace(&client, &ns).await;
        eprintln!("round {round} passed ({:?} so far)", started.elapsed());
    }
}
