//! Benchmark (ignored; `make bench-serving`): can the serving component keep
//! up with a processor fed 200,000 events/s?
//!
//! What serving receives is the processor's output, not its input. Per
//! simulated second at `BENCH_RATE` input events/s that is the generator's
//! share of high-value events as anomalies (13.8 % of the generator's
//! catalogue, measured in docs/benchmarks.md: ~27,600 records/s at
//! 200,000 events/s), plus the windowed results, which are few (15 sales
//! rows a minute, 3 segment rows every 2 minutes, an hour's categories and
//! products once an hour). The benchmark writes `BENCH_SECONDS` of that
//! output into fresh output topics in committed transactions, as the
//! processor does, then starts the real `serving` binary (the profile of
//! this test: run it with `--release`) against the local Kafka and Redis,
//! and measures how fast it drains them: records written to Redis per
//! second, against the rate 200,000 events/s produces. It also reports the
//! binary's peak RSS, and checks the result: every record counted as
//! written, none skipped, `anomalies:recent` holding exactly its newest
//! `KEEP_ANOMALIES`.
//!
//! cargo test --release -p integration-tests --test serving_bench -- --ignored --nocapture

mod redis_env;
mod serving_support;

use std::time::{Duration, Instant};

use rdkafka::producer::Producer;
use redis::AsyncCommands;
use redis_env::Instance;
use serving_support::process::{Serving, Topics, metric, transactional_producer};
use shopstream_serving::mapping::KEEP_ANOMALIES;
use shopstream_serving::records::Output;

/// The generator's share of events above the anomaly threshold
/// (docs/benchmarks.md: 13.8 % of its catalogue's amounts).
const ANOMALY_SHARE: f64 = 0.138;
const REGIONS: [&str; 5] = ["Tokyo", "Osaka", "Nagoya", "Fukuoka", "Sapporo"];
const CATEGORIES: [&str; 3] = ["electronics", "books", "food"];
const PRODUCTS: usize = 20;
const SEGMENTS: [&str; 3] = ["premium", "regular", "new"];

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("in range")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The output records of `seconds` simulated seconds at `rate` input
/// events/s, in the processor's formats, as (output, JSON).
fn processor_output(rate: u64, seconds: u64) -> Vec<(Output, String)> {
    let start_ms = 1_764_460_800_000i64; // 2025-11-30T00:00:00Z, an hour boundary
    let mut out = Vec::new();
    let anomalies = (rate as f64 * ANOMALY_SHARE) as u64;
    for second in 0..seconds {
        for n in 0..anomalies {
            let ms = start_ms + (second * 1000 + n * 1000 / anomalies.max(1)) as i64;
            out.push((
                Output::Anomalies,
                format!(
                    r#"{{"event_id":"evt_{second}_{n}","timestamp":"{}","user_id":"user_{}","product_name":"Product {}","final_amount":{}.0,"region":"{}","anomaly_type":"high_value_transaction"}}"#,
                    iso(ms),
                    n % 10_000,
                    n as usize % PRODUCTS,
                    50_000 + (n * 7919) % 250_000,
                    REGIONS[n as usize % REGIONS.len()],
                ),
            ));
        }
        let now = start_ms + second as i64 * 1000;
        if second % 60 == 59 {
            let window = now - 59_000;
            for category in CATEGORIES {
                for region in REGIONS {
                    out.push((
                        Output::Sales,
                        format!(
                            r#"{{"window_start":"{}","window_end":"{}","category":"{category}","region":"{region}","order_count":800,"total_sales":24000000.0,"avg_order_value":30000.0,"unique_customers":700}}"#,
                            iso(window),
                            iso(window + 60_000)
                        ),
                    ));
                }
            }
        }
        if second % 120 == 119 {
            let window = now - 119_000;
            for segment in SEGMENTS {
                out.push((
                    Output::Segments,
                    format!(
                        r#"{{"window_start":"{}","window_end":"{}","user_segment":"{segment}","orders":8000,"revenue":240000000.0,"avg_discount":0.1,"total_items":16000,"revenue_per_order":30000.0}}"#,
                        iso(window),
                        iso(window + 120_000)
                    ),
                ));
            }
        }
    }
    // The hour the simulated span falls in, closed once at the end.
    let hour = start_ms;
    for (rank, category) in CATEGORIES.iter().enumerate() {
        out.push((
            Output::Hourly,
            format!(
                r#"{{"window_start":"{}","window_end":"{}","category":"{category}","total_sales":{}.0,"order_count":1000,"avg_order_value":30000.0,"unique_customers":900,"hour":"2025-11-30 00:00:00"}}"#,
                iso(hour),
                iso(hour + 3_600_000),
                3_000_000 - rank * 1000
            ),
        ));
    }
    for product in 0..PRODUCTS {
        out.push((
            Output::TopProducts,
            format!(
                r#"{{"window_start":"{}","window_end":"{}","product_id":{product},"product_name":"Product {product}","category":"{}","total_quantity":100,"total_revenue":{}.0,"order_count":90,"revenue_rank":{}}}"#,
                iso(hour),
                iso(hour + 3_600_000),
                CATEGORIES[product % CATEGORIES.len()],
                1_000_000 - product * 1000,
                product + 1
            ),
        ));
    }
    out
}

fn status_kb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: needs the local broker and Redis, and a quiet machine"]
async fn drain() {
    let rate = setting("BENCH_RATE", 200_000);
    let seconds = setting("BENCH_SECONDS", 30);
    let records = processor_output(rate, seconds);
    let total = records.len() as u64;
    let needed = total as f64 / seconds as f64;

    let topics = Topics::create("serving-bench").await;
    let producer = transactional_producer();
    let loaded = Instant::now();
    for chunk in records.chunks(20_000) {
        producer.begin_transaction().expect("begin");
        for (output, value) in chunk {
            loop {
                match producer.send_result(
                    rdkafka::producer::FutureRecord::<(), _>::to(topics.of(*output))
                        .payload(value.as_str()),
                ) {
                    Ok(_) => break,
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull,
                        ),
                        _,
                    )) => producer.poll(Duration::from_millis(10)),
                    Err((e, _)) => panic!("producing: {e}"),
                }
            }
        }
        producer
            .commit_transaction(Duration::from_secs(60))
            .expect("commit");
    }
    println!(
        "loaded {total} output records ({seconds} s of a processor at {rate} events/s) in {:.1} s",
        loaded.elapsed().as_secs_f64()
    );

    // Built before the clock starts (the first call builds the workspace).
    integration_tests::binaries::path("serving");
    let started = Instant::now();
    let mut serving = Serving::spawn("serving-bench", &topics, &Instance::Open.addr(), None);
    let pid = serving.child.id().expect("serving pid");
    let mut first_write: Option<Instant> = None;
    let mut rss_max = 0f64;
    let deadline = started + Duration::from_secs(600);
    let written = loop {
        serving.assert_alive();
        rss_max = rss_max.max(status_kb(pid, "VmRSS:"));
        let (_, text) = serving.get("/metrics").await;
        let written: f64 = text
            .lines()
            .filter(|l| l.starts_with("shopstream_serving_records_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if written > 0.0 && first_write.is_none() {
            first_write = Some(Instant::now());
        }
        if written as u64 >= total {
            break written;
        }
        assert!(
            Instant::now() < deadline,
            "serving wrote {written} of {total} records within 600 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let drained = started.elapsed().as_secs_f64();
    let writing = first_write.map_or(drained, |t| t.elapsed().as_secs_f64());
    let hwm = status_kb(pid, "VmHWM:");
    let (_, text) = serving.get("/metrics").await;
    let skipped = metric(&text, "shopstream_serving_records_skipped_total");
    let batches = metric(&text, "shopstream_serving_redis_batches_total");

    let mut redis = redis_env::connect(Instance::Open).await;
    let recent: u64 = redis
        .zcard(serving.keys.recent_anomalies())
        .await
        .expect("ZCARD");
    let rate_done = total as f64 / drained;
    println!(
        "RESULT serving drained {total} records in {drained:.2} s from start ({:.2} s from its first write): \
         {rate_done:.0} records/s ({:.0} while writing); a processor at {rate} events/s emits {needed:.0} records/s: \
         {:.1}x headroom; {batches} MULTI/EXEC batches; peak RSS {:.1} MB (VmHWM; sampled VmRSS max {:.1} MB); uptime: {}",
        writing,
        total as f64 / writing,
        rate_done / needed,
        hwm / 1024.0,
        rss_max / 1024.0,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    assert_eq!(written as u64, total, "every record written once");
    assert_eq!(skipped, 0.0, "no record skipped");
    assert_eq!(
        recent, KEEP_ANOMALIES as u64,
        "anomalies:recent keeps the newest {KEEP_ANOMALIES}"
    );

    let names: Vec<String> = redis
        .keys(format!("{}*", serving.keys.prefix()))
        .await
        .expect("KEYS");
    if !names.is_empty() {
        let () = redis.del(names).await.expect("DEL");
    }
    drop(serving);
    topics.delete().await;
}

#[test]
fn the_output_mix_is_the_processors_at_the_rate() {
    let records = processor_output(1000, 120);
    let count = |o: Output| records.iter().filter(|(x, _)| *x == o).count();
    assert_eq!(count(Output::Anomalies), 138 * 120);
    assert_eq!(count(Output::Sales), 2 * 15);
    assert_eq!(count(Output::Segments), 3);
    assert_eq!(count(Output::Hourly), 3);
    assert_eq!(count(Output::TopProducts), PRODUCTS);
    for (_, json) in &records {
        serde_json::from_str::<serde_json::Value>(json).expect("JSON");
    }
}
