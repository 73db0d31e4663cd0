//! End-to-end tests of what must never stop the processor's results or
//! falsify them, against the real local broker: partitions added while
//! events flow, an input partition without data, stage 2 at its memory
//! bound, event times in the far future, hostile records (huge, binary,
//! out-of-range amounts, colliding keys, a large catalogue), hundreds of
//! input partitions in stage 2's checkpoint, and a replica replaced under
//! load. The broker-pause test is in `processor_broker_pause.rs` (it stops
//! the broker, so it runs in a test binary of its own).

#[path = "processor_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::dataset::*;
use support::pipeline::*;
use support::recompute::assert_matches;
use support::{create_topics, grow_topic, unique};

/// Every replica answered /readyz with 200.
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

/// The merge group's checkpoints (commit metadata, JSON) per partials
/// partition that has a commit.
fn checkpoints(group: &str, partials: &str, partitions: i32) -> Vec<(i32, i64, Value)> {
    committed(&format!("{group}-merge"), partials, partitions)
        .into_iter()
        .filter_map(|(p, offset, metadata)| {
            let value = serde_json::from_str(&metadata).ok()?;
            Some((p, offset?, value))
        })
        .collect()
}

fn assert_alive(replicas: &mut [Replica]) {
    for r in replicas.iter_mut() {
        assert!(r.alive(), "a replica exited:\n{}", r.log_text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn growing_partitions_while_events_flow_keeps_results_exact() {
    let input = unique("grow-input");
    create_topics(&[(&input, 3)]).await;
    let topics = Topics::create_with(&input, "grow", 3).await;
    let group = unique("grow-g");
    let mut replicas = vec![
        spawn(&topics, &group, "0", &SETTINGS),
        spawn(&topics, &group, "1", &SETTINGS),
    ];
    wait_ready(&replicas).await;

    // 40 s of event time on the 3 partitions.
    let mut records = data_set_on(21, 300, T0_MS, 40, 0..3);
    produce(&input, &records).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Both topics grow to 6 partitions while the replicas run; stage 2
    // counts the new input partitions before any event is written to them.
    grow_topic(&input, 6).await;
    grow_topic(&topics.partials, 6).await;
    wait_until(
        "stage 2 counts 6 input partitions",
        Duration::from_secs(20),
        &replicas,
        || {
            replicas
                .iter()
                .all(|r| r.metric("shopstream_processor_input_partitions") >= 6.0)
        },
    )
    .await;

    // The next 60 s on all 6 partitions, in slices; between slices a
    // replica is replaced by a new process, which sees 6 partials
    // partitions from its start and must still route as the group does.
    let more = data_set_on(22, 600, T0_MS + 40_000, 60, 0..6);
    for (i, slice) in more.chunks(1_200).enumerate() {
        produce(&input, slice).await;
        if i == 1 {
            sigterm(&mut replicas[1]);
            replicas[1] = spawn(&topics, &group, "1", &SETTINGS);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    records.extend(more);
    let closing = closing_events_on(21, 0..6);
    produce(&input, &closing).await;
    records.extend(closing);

    let want = expected(&records);
    let got = read_results(&topics, &want, Duration::from_secs(90)).await;
    assert_matches(&got, &want);
    // Nothing was lost to lateness on the new partitions.
    let late: f64 = replicas
        .iter()
        .map(|r| r.metric("shopstream_processor_late_events_total"))
        .sum();
    assert_eq!(late, 0.0, "{}", logs(&replicas));
    // Partials were routed over the 3 partitions of the group's start only.
    for (p, offset, _) in checkpoints(&group, &topics.partials, 6) {
        assert!(p < 3 || offset == 0, "partials partition {p} was used");
    }
    assert_alive(&mut replicas);
    for r in &mut replicas {
        sigterm(r);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_partition_is_reported_and_times_out() {
    let input = unique("idle-input");
    create_topics(&[(&input, 3)]).await;
    let topics = Topics::create(&input, "idle").await;
    let group = unique("idle-g");
    // Partition 2 never gets data.
    let mut records = data_set_on(31, 200, T0_MS, 40, 0..2);
    records.extend(closing_events_on(31, 0..2));
    produce(&input, &records).await;
    let want = expected(&records);

    // Without an idle timeout, partition 2 holds every window open, and the
    // checkpoint says so.
    let mut waiting = vec![spawn_with(
        &topics,
        &group,
        "0",
        &SETTINGS,
        &[("PROCESSOR_IDLE_PARTITION_TIMEOUT_SECONDS", "0")],
    )];
    let held_by_2 = |c: &Value| c["h"] == json!([[2, null]]) && c["hn"] == json!(1);
    wait_until(
        "the checkpoint names partition 2",
        Duration::from_secs(30),
        &waiting,
        || {
            checkpoints(&group, &topics.partials, 3)
                .iter()
                .any(|(_, _, c)| held_by_2(c))
        },
    )
    .await;
    assert!(
        read_topic(&topics.outputs["sales"], 1, Duration::from_secs(2))
            .await
            .is_empty(),
        "windows closed although partition 2 holds them"
    );
    assert_eq!(
        waiting[0].metric("shopstream_processor_watermark_holding_partitions"),
        1.0
    );
    sigterm(&mut waiting[0]);

    // With a timeout, it stops counting after that long without data.
    let mut replicas = vec![spawn_with(
        &topics,
        &group,
        "0",
        &SETTINGS,
        &[("PROCESSOR_IDLE_PARTITION_TIMEOUT_SECONDS", "3")],
    )];
    let got = read_results(&topics, &want, Duration::from_secs(60)).await;
    assert_matches(&got, &want);
    wait_until(
        "the checkpoint counts an idle partition",
        Duration::from_secs(20),
        &replicas,
        || {
            checkpoints(&group, &topics.partials, 3)
                .iter()
                .any(|(_, _, c)| c["i"].as_u64() >= Some(1))
        },
    )
    .await;
    sigterm(&mut replicas[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage2_at_its_memory_bound_closes_windows_early_and_keeps_running() {
    let input = unique("bound-input");
    create_topics(&[(&input, 3)]).await;
    let topics = Topics::create(&input, "bound").await;
    let group = unique("bound-g");
    // Partition 2 never gets data and there is no idle timeout: the
    // watermark never moves, so every window stays open. 30,000 distinct
    // users (over 1 MB of state) on partitions 0 and 1.
    let mut rng = Lcg(41);
    let records: Vec<(i32, String)> = (0..30_000)
        .map(|i| {
            let mut e = event(&format!("b{i}"), T0_MS + i * 20, &mut rng);
            e["user_id"] = json!(format!("bound-user-{i}"));
            ((i % 2) as i32, e.to_string())
        })
        .collect();
    produce(&input, &records).await;
    let mut replicas = vec![spawn_with(
        &topics,
        &group,
        "0",
        &SETTINGS,
        &[
            ("PROCESSOR_IDLE_PARTITION_TIMEOUT_SECONDS", "0"),
            ("PROCESSOR_MERGE_STATE_LIMIT_MB", "1"),
        ],
    )];
    // Results appear (the oldest windows, closed early) instead of the
    // state growing until the process dies.
    let sales = read_topic(&topics.outputs["sales"], 1, Duration::from_secs(60)).await;
    assert!(!sales.is_empty(), "no window closed\n{}", logs(&replicas));
    wait_until(
        "windows closed early are counted and reported",
        Duration::from_secs(30),
        &replicas,
        || {
            replicas[0].metric("shopstream_processor_windows_closed_early_total") > 0.0
                && checkpoints(&group, &topics.partials, 3)
                    .iter()
                    .any(|(_, _, c)| c["fc"].as_i64().is_some())
        },
    )
    .await;
    let bytes = replicas[0].metric("shopstream_processor_merge_state_bytes");
    assert!(
        bytes <= (1 << 20) as f64,
        "state {bytes} bytes above the bound"
    );
    assert_alive(&mut replicas);
    sigterm(&mut replicas[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn far_future_event_times_are_dead_lettered_and_move_no_watermark() {
    let input = unique("future-input");
    create_topics(&[(&input, 3)]).await;
    let topics = Topics::create(&input, "future").await;
    let group = unique("future-g");
    let mut replicas = vec![spawn(&topics, &group, "0", &SETTINGS)];
    wait_ready(&replicas).await;
    let data = data_set(51, 300, 60);
    let (first, rest) = data.split_at(data.len() / 3);
    let mut rng = Lcg(52);
    let future: Vec<(i32, String)> = (0..3)
        .map(|p| {
            let mut e = event(&format!("year3000-{p}"), T0_MS, &mut rng);
            e["timestamp"] = json!("3000-01-01T00:00:00Z");
            (p, e.to_string())
        })
        .collect();
    let closing = closing_events(51);
    let mut records = Vec::new();
    for part in [first, &future, rest, &closing] {
        produce(&input, part).await;
        records.extend_from_slice(part);
    }
    let want = expected(&records);
    let got = read_results(&topics, &want, Duration::from_secs(60)).await;
    assert_matches(&got, &want);
    let dead = read_topic(&topics.dead_letter, 1, Duration::from_secs(10)).await;
    let future_dead: Vec<&Value> = dead
        .values()
        .filter(|d| {
            d["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("event time too far ahead"))
        })
        .collect();
    assert_eq!(future_dead.len(), 3, "{dead:?}");
    for d in future_dead {
        assert!(d["raw"].as_str().is_some_and(|r| r.contains("3000-01-01")));
    }
    assert_eq!(
        replicas[0].metric(
            "shopstream_processor_invalid_events_by_reason_total{reason=\"future_event_time\"}"
        ),
        3.0
    );
    sigterm(&mut replicas[0]);
}

/// A valid event of the hostile test's first window, by partition.
/// Event time of the hand-made events below: after every event of the data
/// set they follow on the same partition (at most T0 + 59.4 s), so they are
/// never late, wherever stage 1's flushes cut the partition. At T0 + 5 s they
/// were late by up to 54 s whenever a flush (which moves with load) fell
/// between the data set and them, and the recomputation, which counts them,
/// disagreed with the processor, which rightly dropped them as late.
const HAND_MADE_MS: i64 = T0_MS + 59_500;

fn valid(id: &str, p: i32, rng: &mut Lcg, edit: impl FnOnce(&mut Value)) -> (i32, String) {
    let mut e = event(id, HAND_MADE_MS, rng);
    edit(&mut e);
    (p, e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_records_never_stop_the_pipeline() {
    let input = unique("hostile-input");
    create_topics(&[(&input, 3)]).await;
    let topics = Topics::create(&input, "hostile").await;
    let group = unique("hostile-g");
    let mut replicas: Vec<Replica> = (0..2)
        .map(|i| {
            // A long flush, so the catalogue below is one batch.
            spawn_with(
                &topics,
                &group,
                &i.to_string(),
                &SETTINGS,
                &[("PROCESSOR_FLUSH_INTERVAL_MS", "2000")],
            )
        })
        .collect();
    wait_ready(&replicas).await;

    let mut rng = Lcg(61);
    let mut records: Vec<(i32, String)> = data_set(61, 100, 60);
    // Out-of-range values: dead-lettered, never counted.
    for (i, (field, value)) in [
        ("final_amount", json!(-5.0)),
        ("final_amount", json!(1e17)),
        ("unit_price", json!(-1.0)),
        ("discount_rate", json!(1.5)),
        ("quantity", json!(0)),
        ("category", json!("")),
    ]
    .into_iter()
    .enumerate()
    {
        records.push(valid(&format!("range-{i}"), i as i32 % 3, &mut rng, |e| {
            e[field] = value
        }));
    }
    // Groups whose names contain the key separator: distinct keys.
    records.push(valid("pipe-1", 0, &mut rng, |e| {
        e["category"] = json!("a|b");
        e["region"] = json!("c");
        e["product_id"] = json!("pipe|1");
    }));
    records.push(valid("pipe-2", 1, &mut rng, |e| {
        e["category"] = json!("a");
        e["region"] = json!("b|c");
        e["product_id"] = json!("pipe|2");
    }));
    // A catalogue of 8,000 products in one hourly window of one input
    // partition: one partial of ~1.3 MB before splitting.
    for i in 0..8_000 {
        records.push(valid(&format!("cat-{i}"), 0, &mut rng, |e| {
            e["product_id"] = json!(format!("C{i:05}"));
            e["product_name"] = json!(format!("Catalogue product {i:05} with a descriptive name"));
            e["final_amount"] = json!(100.0 + i as f64 / 100.0);
        }));
    }
    produce(&input, &records).await;
    // Huge records: binary, NUL bytes (6 bytes each once JSON-escaped),
    // and a valid event with a 600 KB product name.
    let huge_name = valid("huge-name", 2, &mut rng, |e| {
        e["product_name"] = json!("x".repeat(600_000));
    });
    let huge: Vec<(i32, Vec<u8>)> = vec![
        (0, vec![0u8; 201_000]),
        (1, vec![0xff; 400_000]),
        (huge_name.0, huge_name.1.clone().into_bytes()),
    ];
    produce_bytes(&input, &huge).await;
    records.push(huge_name);
    let closing = closing_events(61);
    produce(&input, &closing).await;
    records.extend(closing);

    let want = expected(&records);
    let got = read_results(&topics, &want, Duration::from_secs(120)).await;
    assert_matches(&got, &want);
    let sales_window_ms = HAND_MADE_MS - HAND_MADE_MS.rem_euclid(SETTINGS.sales_s * 1000);
    let sales_window = chrono::DateTime::from_timestamp_millis(sales_window_ms)
        .expect("time")
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    assert!(got.windowed["sales"].contains_key(&format!("{sales_window}|a\\|b|c")));
    assert!(got.windowed["sales"].contains_key(&format!("{sales_window}|a|b\\|c")));
    assert!(got.windowed["top_products"].len() >= 8_000);

    let dead = read_topic(&topics.dead_letter, 9, Duration::from_secs(20)).await;
    let reasons: Vec<&str> = dead.values().filter_map(|d| d["reason"].as_str()).collect();
    for prefix in [
        "value out of range",
        "empty field",
        "field too long",
        "invalid JSON",
    ] {
        assert!(
            reasons.iter().any(|r| r.starts_with(prefix)),
            "no dead letter for {prefix}: {reasons:?}"
        );
    }
    for d in dead.values() {
        let raw = d["raw"].as_str().unwrap_or_default();
        assert!(serde_json::to_string(raw).expect("json").len() <= 16 * 1024 + 2);
        if d["raw_bytes"].as_u64() >= Some(200_000) {
            assert_eq!(d["raw_truncated"], json!(true));
            assert!(d["partition"].as_i64().is_some() && d["offset"].as_i64().is_some());
        }
    }
    assert!(
        dead.values()
            .filter(|d| d["raw_bytes"].as_u64() >= Some(200_000))
            .count()
            >= 3
    );
    assert_alive(&mut replicas);
    for r in &mut replicas {
        sigterm(r);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage2_commits_its_checkpoint_with_hundreds_of_input_partitions() {
    let input = unique("wide-input");
    create_topics(&[(&input, 300)]).await;
    let topics = Topics::create(&input, "wide").await;
    let group = unique("wide-g");
    let mut records = data_set_on(71, 3, T0_MS, 30, 0..300);
    records.extend(closing_events_on(71, 0..300));
    produce(&input, &records).await;
    let mut replicas = vec![spawn(&topics, &group, "0", &SETTINGS)];
    let want = expected(&records);
    let got = read_results(&topics, &want, Duration::from_secs(120)).await;
    assert_matches(&got, &want);
    // Every partials partition's commit succeeded, within Kafka's default
    // 4,096-byte metadata limit, with the watermark at the closing events
    // and the position at the end of the partition (no merge lag).
    let highs = support::partition_ends(&topics.partials, 3);
    wait_until(
        "the merge group committed its position on every partition",
        Duration::from_secs(30),
        &replicas,
        || {
            let c = checkpoints(&group, &topics.partials, 3);
            c.len() == 3
                && c.iter()
                    .all(|(p, _, v)| v["p"].as_i64() == highs.get(p).copied())
        },
    )
    .await;
    for (p, _, c) in checkpoints(&group, &topics.partials, 3) {
        let text = c.to_string();
        assert!(text.len() <= 4_096, "partition {p}: {} bytes", text.len());
        assert_eq!(c["v"], json!(2));
        assert_eq!(
            c["g"].as_i64(),
            Some(FUTURE_MS - LATENESS_S * 1000),
            "partition {p}: {c}"
        );
    }
    assert_eq!(
        replicas[0].metric("shopstream_processor_offset_commit_failures_total"),
        0.0
    );
    sigterm(&mut replicas[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_replaced_under_load_with_its_identity_does_not_stall_the_merge() {
    let input = unique("replace-input");
    create_topics(&[(&input, 3)]).await;
    let topics = Topics::create(&input, "replace").await;
    let group = unique("replace-g");
    let mut replicas = vec![
        spawn(&topics, &group, "0", &SETTINGS),
        spawn(&topics, &group, "1", &SETTINGS),
    ];
    wait_ready(&replicas).await;
    let data = data_set(81, 3_000, 120);
    let mut records = Vec::new();
    let mut replaced_at = None;
    for (i, slice) in data.chunks(900).enumerate() {
        records.extend_from_slice(slice);
        if i == 4 {
            // Killed inside a transaction and replaced by a pod of the same
            // identity, as a StatefulSet does. The kill watches for an open
            // transaction while this slice is being consumed: once the
            // slice is in, the replica may already be between transactions.
            let (_, open) = tokio::join!(
                produce(&input, slice),
                kill_mid_transaction(&mut replicas[0])
            );
            assert!(open, "the kill missed every open transaction");
            replicas[0] = spawn(&topics, &group, "0", &SETTINGS);
            replaced_at = Some(Instant::now());
        } else {
            produce(&input, slice).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let closing = closing_events(81);
    produce(&input, &closing).await;
    records.extend(closing);
    let want = expected(&records);
    let got = read_results(&topics, &want, Duration::from_secs(60)).await;
    assert_matches(&got, &want);
    // A predecessor's open transaction blocks read_committed readers until
    // it is aborted: by the successor's init_transactions when the identity
    // is the same, only by the 60 s transaction timeout otherwise.
    let took = replaced_at.map(|t| t.elapsed()).unwrap_or_default();
    assert!(
        took < Duration::from_secs(45),
        "results complete {took:?} after the replacement"
    );
    for r in &mut replicas {
        sigterm(r);
    }
}
