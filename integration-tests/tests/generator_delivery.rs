//! The `generator` binary against the real broker of the test environment:
//! exact `--count` delivery of schema-valid events, seeded reproducibility,
//! and the malformed and out-of-order options.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use integration_tests::generator::{run_ok, sequence_of};
use integration_tests::kafka::{Record, consume_all, create_topic, delete_topics};
use purchase_event::{ProductId, PurchaseEvent, UserSegment, round_cents};
use serde_json::Value;
use shopstream_generator::catalogue::{Catalogue, CatalogueSpec};
use shopstream_generator::malformed::FIELDS;

#[tokio::test]
async fn count_delivers_exactly_n_valid_events() {
    const N: u64 = 3_000;
    let topic = create_topic("gen-count", 3, &[]).await;
    let output = run_ok(&topic, &["--count", &N.to_string(), "--unthrottled"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("{N} of {N} events acknowledged, 0 failed")),
        "{stdout}"
    );

    let records = consume_all(&topic, 3).await;
    delete_topics(&[&topic]).await;
    assert_eq!(records.len() as u64, N, "exactly N records on the topic");
    let catalogue = Catalogue::new(CatalogueSpec::builtin());
    let mut sequences = BTreeSet::new();
    let mut runs = BTreeSet::new();
    let mut partitions = BTreeSet::new();
    for record in &records {
        let raw: serde_json::Map<String, Value> =
            serde_json::from_slice(&record.payload).expect("a JSON object");
        let fields: BTreeSet<&str> = raw.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            FIELDS.into_iter().collect(),
            "exactly the schema's fields"
        );
        let e: PurchaseEvent = serde_json::from_slice(&record.payload).expect("matches the schema");
        assert_eq!(record.key, e.user_id, "key = user_id");
        let user: u32 = e
            .user_id
            .strip_prefix("user_")
            .and_then(|n| n.parse().ok())
            .expect("user_N");
        assert!((1..=10_000).contains(&user));
        let segment = catalogue.segment_of(&e.user_id).expect("our user");
        assert_eq!(segment.as_str(), e.user_segment, "a user keeps its segment");
        let product = catalogue
            .spec
            .products
            .iter()
            .find(|p| ProductId::from(p.id.as_str()) == e.product_id)
            .expect("known product");
        assert_eq!(
            (
                product.name.as_str(),
                product.category.as_str(),
                product.unit_price
            ),
            (e.product_name.as_str(), e.category.as_str(), e.unit_price)
        );
        let (quantities, discounts) = match segment {
            UserSegment::Premium => (1..=5, (0.05, 0.15)),
            UserSegment::Regular => (1..=3, (0.0, 0.10)),
            UserSegment::New => (1..=1, (0.10, 0.20)),
        };
        assert!(quantities.contains(&e.quantity), "{e:?}");
        assert!(
            e.discount_rate >= discounts.0 - 1e-9 && e.discount_rate <= discounts.1 + 1e-9,
            "{e:?}"
        );
        assert_eq!(
            e.base_amount,
            round_cents(e.unit_price * f64::from(e.quantity)),
            "{e:?}"
        );
        assert_eq!(
            e.discount_amount,
            round_cents(e.base_amount * e.discount_rate),
            "{e:?}"
        );
        assert_eq!(
            e.final_amount,
            round_cents(e.base_amount - e.discount_amount),
            "{e:?}"
        );
        assert!(["Tokyo", "Osaka", "Nagoya", "Fukuoka", "Sapporo"].contains(&e.region.as_str()));
        let age = Utc::now() - e.timestamp;
        assert!(
            age >= TimeDelta::zero() && age < TimeDelta::minutes(5),
            "wall-clock time {}",
            e.timestamp
        );
        runs.insert(e.event_id[..16].to_string());
        assert!(
            sequences.insert(sequence_of(&e.event_id)),
            "duplicate {}",
            e.event_id
        );
        partitions.insert(record.partition);
    }
    assert_eq!(runs.len(), 1, "one run id per process");
    assert_eq!(
        sequences,
        (0..N).collect(),
        "sequence numbers 0..N, each once"
    );
    assert_eq!(partitions.len(), 3, "keys spread over the partitions");
}

#[tokio::test]
async fn same_seed_gives_identical_events() {
    let (a, b) = tokio::join!(
        create_topic("gen-seed-a", 3, &[]),
        create_topic("gen-seed-b", 3, &[])
    );
    let common = [
        "--count",
        "2000",
        "--unthrottled",
        "--seed",
        "20261125",
        "--start-time",
        "2026-11-25T09:00:00+09:00",
        "--time-step",
        "50ms",
        "--out-of-order-share",
        "0.1",
        "--malformed-share",
        "0.05",
    ];
    // Different numbers of producer tasks: the events must not depend on it.
    let one: Vec<&str> = common.iter().copied().chain(["--producers", "1"]).collect();
    let two: Vec<&str> = common.iter().copied().chain(["--producers", "2"]).collect();
    tokio::join!(run_ok(&a, &one), run_ok(&b, &two));
    let (ra, rb) = tokio::join!(consume_all(&a, 3), consume_all(&b, 3));
    delete_topics(&[&a, &b]).await;
    let sorted = |records: Vec<Record>| {
        let mut v: Vec<(i32, String, Vec<u8>)> = records
            .into_iter()
            .map(|r| (r.partition, r.key, r.payload))
            .collect();
        v.sort();
        v
    };
    let (ra, rb) = (sorted(ra), sorted(rb));
    assert_eq!(ra.len(), 2000);
    assert!(ra == rb, "the two seeded runs wrote different records");
    let valid = ra
        .iter()
        .filter(|r| serde_json::from_slice::<PurchaseEvent>(&r.2).is_ok())
        .count();
    assert!(valid > 1800 && valid < 2000, "{valid} valid records");
}

#[tokio::test]
async fn malformed_and_out_of_order_shares() {
    const N: usize = 10_000;
    let topic = create_topic("gen-shares", 3, &[]).await;
    run_ok(
        &topic,
        &[
            "--count",
            "10000",
            "--unthrottled",
            "--seed",
            "7",
            "--malformed-share",
            "0.1",
            "--out-of-order-share",
            "0.2",
            "--out-of-order-max-seconds",
            "30",
            "--start-time",
            "2026-01-01T00:00:00Z",
            "--time-step",
            "100ms",
        ],
    )
    .await;
    let records = consume_all(&topic, 3).await;
    delete_topics(&[&topic]).await;
    assert_eq!(records.len(), N);
    let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("time");
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    let (mut valid, mut late) = (0usize, 0usize);
    for record in &records {
        assert!(
            record.key.starts_with("user_"),
            "malformed records keep their key"
        );
        let kind = match serde_json::from_slice::<Value>(&record.payload) {
            Err(_) => "invalid_json",
            Ok(Value::Object(object)) if FIELDS.iter().any(|f| !object.contains_key(*f)) => {
                assert_eq!(object.len(), FIELDS.len() - 1);
                "missing_field"
            }
            Ok(_) => match serde_json::from_slice::<PurchaseEvent>(&record.payload) {
                Err(_) => "wrong_type",
                Ok(e) => {
                    valid += 1;
                    let on_time =
                        start + TimeDelta::milliseconds(100 * sequence_of(&e.event_id) as i64);
                    if e.timestamp != on_time {
                        late += 1;
                        let back = on_time - e.timestamp;
                        assert!(
                            back > TimeDelta::zero() && back <= TimeDelta::seconds(30),
                            "{back} for {}",
                            e.event_id
                        );
                    }
                    "valid"
                }
            },
        };
        *kinds.entry(kind).or_default() += 1;
    }
    let malformed = N - valid;
    // Expected 1,000 ± 30 (one standard deviation): ±150 is five.
    assert!((850..=1_150).contains(&malformed), "{kinds:?}");
    for kind in ["invalid_json", "missing_field", "wrong_type"] {
        let n = kinds.get(kind).copied().unwrap_or(0);
        assert!((230..=440).contains(&n), "{kind}: {kinds:?}");
    }
    // 20 % of the valid ones, ± 5 standard deviations.
    let share = late as f64 / valid as f64;
    assert!(
        (share - 0.2).abs() < 0.021,
        "out-of-order share {share:.4} ({late} of {valid})"
    );
}
