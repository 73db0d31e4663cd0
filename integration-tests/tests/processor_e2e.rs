//! End-to-end tests of the `processor` binary against the real local broker:
//! a seeded data set processed by 1 replica and by 3 replicas (each of which
//! must have consumed part of it) gives the same final outputs, equal to a
//! deliberately simple recomputation (`support/recompute.rs`); malformed
//! records are dead-lettered; late events are counted and change nothing;
//! replicas killed with SIGKILL while a transaction is open, and restarted,
//! change nothing.

#[path = "processor_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use serde_json::json;
use support::dataset::*;
use support::pipeline::*;
use support::recompute::{assert_matches, is_valid};
use support::{bootstrap, create_topics, unique};

// ------------------------------------------------------------------- tests

/// Until every replica answers /readyz with 200, i.e. received its first
/// assignment. The last one to join can only get one once the group has
/// rebalanced over all of them, so afterwards each holds a share.
async fn wait_ready(replicas: &[Replica]) {
    wait_until(
        "every replica ready",
        Duration::from_secs(60),
        replicas,
        || {
            replicas
                .iter()
                .all(|r| scrape(r.metrics, "/readyz").contains("200 OK"))
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_and_three_replicas_equal_the_recompute() {
    let input = unique("e2e-input");
    create_topics(&[(&input, 3)]).await;
    let single = Topics::create(&input, "e2e-one").await;
    let triple = Topics::create(&input, "e2e-three").await;

    // Replicas first, input afterwards: with the input already there, the
    // first replica to join could process all of it alone.
    let group_one = unique("e2e-g1");
    let group_three = unique("e2e-g3");
    let mut one = vec![spawn(&single, &group_one, "0", &SETTINGS)];
    let mut three: Vec<Replica> = (0..3)
        .map(|i| spawn(&triple, &group_three, &i.to_string(), &SETTINGS))
        .collect();
    wait_ready(&three).await;
    wait_ready(&one).await;

    let mut records = data_set(7, 600, 150);
    produce(&input, &records).await;
    let closing = closing_events(7);
    produce(&input, &closing).await;
    records.extend(closing);
    let want = expected(&records);

    let got_one = read_results(&single, &want, Duration::from_secs(60)).await;
    let got_three = read_results(&triple, &want, Duration::from_secs(30)).await;
    assert_eq!(
        got_one,
        got_three,
        "1 replica and 3 replicas differ\n{}",
        logs(&three)
    );
    assert_matches(&got_one, &want);
    // Each of the three did part of the work.
    let consumed: Vec<f64> = three
        .iter()
        .map(|r| r.metric("shopstream_processor_events_consumed_total"))
        .collect();
    assert!(
        consumed.iter().all(|&c| c > 0.0),
        "a replica consumed nothing: {consumed:?}"
    );
    assert_eq!(consumed.iter().sum::<f64>(), records.len() as f64);

    // Dead letters: every malformed record, with a reason and its source.
    let malformed = records.iter().filter(|(_, v)| !is_valid(v)).count();
    let dead = read_topic(&single.dead_letter, malformed, Duration::from_secs(20)).await;
    assert_eq!(dead.len(), malformed);
    for d in dead.values() {
        assert!(!d["reason"].as_str().unwrap_or_default().is_empty());
        assert_eq!(d["source_topic"], json!(input));
        assert!(d["offset"].as_i64().is_some() && d["partition"].as_i64().is_some());
    }
    let metrics = scrape(one[0].metrics, "/metrics");
    assert_eq!(
        metric_sum(&metrics, "shopstream_processor_invalid_events_total"),
        malformed as f64
    );
    assert!(scrape(one[0].metrics, "/readyz").contains("200 OK"));
    assert!(scrape(one[0].metrics, "/healthz").contains("200 OK"));

    // Late events: old event times after everything was closed. Counted,
    // never folded: outputs unchanged.
    let mut rng = Lcg(99);
    let late: Vec<(i32, String)> = (0..3)
        .map(|p| (p, event(&format!("late-{p}"), T0_MS + 1_000, &mut rng)))
        .map(|(p, mut e)| {
            e["final_amount"] = json!(5.0);
            (p, e.to_string())
        })
        .collect();
    produce(&input, &late).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let late_sales =
        |r: &Replica| r.metric("shopstream_processor_late_events_total{output=\"sales\"}");
    while late_sales(&one[0]) < 3.0 || three.iter().map(late_sales).sum::<f64>() < 3.0 {
        assert!(
            Instant::now() < deadline,
            "late events not counted\n{}",
            logs(&one)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let again = read_results(&single, &want, Duration::from_secs(10)).await;
    assert_eq!(again, got_one, "late events changed the results");

    for r in one.iter_mut().chain(three.iter_mut()) {
        sigterm(r);
    }
}

/// Data records in `topic` as a consumer with `isolation` sees them, read
/// until nothing arrives for 2 s.
async fn count_records(topic: &str, isolation: &str) -> usize {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("e2e-count"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut stream = consumer.stream();
    let mut n = 0;
    let mut wait = Duration::from_secs(15);
    while let Ok(Some(m)) = tokio::time::timeout(wait, stream.next()).await {
        m.expect("consume");
        n += 1;
        wait = Duration::from_secs(2);
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_transaction_and_restart_change_nothing() {
    let input = unique("e2e-crash-input");
    create_topics(&[(&input, 3)]).await;
    let topics = Topics::create(&input, "e2e-crash").await;
    let group = unique("e2e-crash-g");
    let mut records = data_set(11, 2_400, 150);
    let want_all = {
        let mut all = records.clone();
        all.extend(closing_events(11));
        expected(&all)
    };

    let mut replicas: Vec<Replica> = (0..3)
        .map(|i| spawn(&topics, &group, &i.to_string(), &SETTINGS))
        .collect();
    wait_ready(&replicas).await;
    // Feed the input in slices while replicas are killed inside a
    // transaction and restarted with the same replica id.
    let slices: Vec<Vec<(i32, String)>> = records.chunks(1_200).map(<[_]>::to_vec).collect();
    let mut kills = 0;
    let mut inside = 0;
    for (i, slice) in slices.iter().enumerate() {
        let feed = produce(&input, slice);
        if i % 2 == 1 {
            let victim = (i / 2) % 3;
            let (_, open) = tokio::join!(feed, kill_mid_transaction(&mut replicas[victim]));
            kills += 1;
            inside += usize::from(open);
            tokio::time::sleep(Duration::from_millis(300)).await;
            replicas[victim] = spawn(&topics, &group, &victim.to_string(), &SETTINGS);
        } else {
            feed.await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let closing = closing_events(11);
    produce(&input, &closing).await;
    records.extend(closing);

    let got = read_results(&topics, &want_all, Duration::from_secs(90)).await;
    let keys: usize = got.windowed.values().map(BTreeMap::len).sum();
    assert!(keys > 0, "no outputs\n{}", logs(&replicas));
    assert_matches(&got, &want_all);
    // The kills landed inside transactions: the gauge showed one open, and
    // the log holds records of transactions that were aborted (by the
    // restarted replica's init_transactions), which read_committed readers
    // never saw.
    assert!(inside >= 1, "none of {kills} kills hit an open transaction");
    let mut all = 0;
    let mut committed = 0;
    for topic in [&topics.outputs["anomalies"], &topics.partials] {
        all += count_records(topic, "read_uncommitted").await;
        committed += count_records(topic, "read_committed").await;
    }
    assert!(
        all > committed,
        "no aborted records: {all} read uncommitted, {committed} committed ({inside} of {kills} \
         kills inside a transaction)"
    );
    eprintln!(
        "{inside} of {kills} kills inside a transaction; {} aborted records",
        all - committed
    );
    for r in &mut replicas {
        sigterm(r);
    }
}

#[test]
fn recompute_sanity() {
    let records = data_set(3, 50, 30);
    let mut all = records.clone();
    all.extend(closing_events(3));
    let out = expected(&all);
    let orders: u64 = out.windowed["sales"]
        .values()
        .map(|v| v["order_count"].as_u64().unwrap_or(0))
        .sum();
    let valid = records.iter().filter(|(_, v)| is_valid(v)).count();
    assert_eq!(orders as usize, valid);
    // The malformed records of the data set are not valid.
    assert!(valid < records.len());
}
