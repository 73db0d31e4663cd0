//! The operator's Kafka client cache under churn: 200 distinct
//! `bootstrapServers` values (the real broker, each time spelled with
//! another unreachable second address), used by pipelines that come, move
//! and go. Afterwards no client is cached and this process's threads, open
//! files and memory are back at their baseline. Its own test binary, so no
//! other test shares the process being measured.

#[path = "operator_support/mod.rs"]
mod support;

use std::time::Duration;

use operator::kafka::{ClientUse, KafkaConnections, LagQuery};

/// Threads, open file descriptors and resident memory (KiB) of this process.
fn usage() -> (usize, usize, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/self/status"))
    };
    let fds = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count();
    (field("Threads:") as usize, fds, field("VmRSS:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_unused_clusters_are_evicted() {
    let bootstrap = support::kafka_bootstrap();
    let topic = support::unique("churn-input");
    let connections = KafkaConnections::default();
    // The topic, and one full round of use and release, before the
    // baseline: the allocator's and runtime's one-time growth is not churn.
    connections
        .admin(ClientUse::Pipeline("warm/up"), &bootstrap)
        .expect("client")
        .create_topics(&[&operator::model::DesiredTopic {
            role: operator::model::TopicRole::Input,
            name: topic.clone(),
            partitions: 1,
            replication_factor: 1,
            config: Default::default(),
            adopt: Default::default(),
        }])
        .await
        .expect("topic");
    let query = |group: &str| LagQuery {
        group: group.to_string(),
        input_topic: topic.clone(),
        output_topics: vec![],
    };
    connections
        .lag_sampler(ClientUse::Pipeline("warm/up"), &bootstrap)
        .expect("sampler")
        .sample(query("warm"))
        .await
        .expect("sample");
    connections.release("warm/up");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (threads, fds, rss) = usage();

    // Ten pipelines; each moves through 20 spellings of the cluster.
    for i in 0..200u16 {
        let key = format!("churn/p{}", i % 10);
        let spelling = format!("{bootstrap},127.0.0.1:{}", 1 + i);
        let admin = connections
            .admin(ClientUse::Pipeline(&key), &spelling)
            .expect("client");
        admin
            .describe_topics(std::slice::from_ref(&topic))
            .await
            .expect("described");
        connections
            .lag_sampler(ClientUse::Pipeline(&key), &spelling)
            .expect("sampler")
            .sample(query(&key))
            .await
            .expect("sample");
        assert!(
            connections.cached_clusters() <= 10,
            "one cluster per pipeline at most, {} cached",
            connections.cached_clusters()
        );
    }
    for p in 0..10 {
        connections.release(&format!("churn/p{p}"));
    }
    assert_eq!(connections.cached_clusters(), 0, "every client evicted");

    // Connections close as their tasks end; give the runtime a moment.
    let mut last = usage();
    for _ in 0..50 {
        last = usage();
        if last.0 <= threads && last.1 <= fds {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (threads_after, fds_after, rss_after) = last;
    assert!(
        threads_after <= threads,
        "threads {threads} → {threads_after}"
    );
    assert!(fds_after <= fds, "open files {fds} → {fds_after}");
    // Freed memory need not go back to the kernel at once; 200 leaked
    // clients with their buffers would be far above this margin.
    assert!(
        rss_after <= rss + 8 * 1024,
        "RSS {rss} KiB → {rss_after} KiB"
    );
    eprintln!(
        "threads {threads} → {threads_after}, fds {fds} → {fds_after}, RSS {rss} → {rss_after} KiB"
    );
}
