//! The `generator` binary against the real broker of the test environment:
//! rate control measured from broker timestamps, the HTTP endpoints, and a
//! clean flush on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use integration_tests::generator::{generator, run_ok};
use integration_tests::kafka::{consume_all, create_topic, delete_topics};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

#[tokio::test]
async fn rate_is_held_within_five_percent() {
    const RATE: f64 = 2_000.0;
    const N: u64 = 20_000; // 10 s
    // Record timestamps as stored by the broker, CreateTime (the default):
    // librdkafka stamps each record when the generator hands it over, so the
    // measurement sees the rate limiter's releases and not the batching,
    // linger or a broker stalled on a loaded machine.
    let topic = create_topic("gen-rate", 1, &[("message.timestamp.type", "CreateTime")]).await;
    let started = std::time::Instant::now();
    run_ok(
        &topic,
        &["--count", &N.to_string(), "--events-per-second", "2000"],
    )
    .await;
    let wall = started.elapsed().as_secs_f64();
    let records = consume_all(&topic, 1).await;
    delete_topics(&[&topic]).await;
    assert_eq!(records.len() as u64, N);
    let first = records
        .iter()
        .map(|r| r.timestamp_ms)
        .min()
        .expect("records");
    let last = records
        .iter()
        .map(|r| r.timestamp_ms)
        .max()
        .expect("records");
    let span = (last - first) as f64 / 1000.0;
    // N events are released in N/RATE seconds; the first batch is released
    // after one batch interval, so N - batch events span the measured time.
    let measured = (N - 10) as f64 / span;
    eprintln!("rate: {measured:.1} events/s over {span:.3} s (wall {wall:.2} s)");
    assert!(
        (measured - RATE).abs() / RATE < 0.05,
        "measured {measured:.1} events/s over {span:.3} s (wall {wall:.1} s), target {RATE}"
    );
    assert!(
        wall >= 9.5,
        "{N} events at {RATE}/s cannot take only {wall:.2} s"
    );
}

async fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the metrics port");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    (status, response)
}

#[tokio::test]
async fn endpoints_and_clean_stop_on_sigterm() {
    let topic = create_topic("gen-http", 2, &[]).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = generator(
        &topic,
        &["--events-per-second", "500", "--metrics-addr", &addr],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("the generator starts");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if tokio::net::TcpStream::connect(&addr).await.is_ok()
            && http_get(&addr, "/readyz").await.0 == 200
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the generator exited early ({status})");
        }
        assert!(tokio::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(http_get(&addr, "/healthz").await.0, 200);
    assert_eq!(http_get(&addr, "/nope").await.0, 404);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (status, metrics) = http_get(&addr, "/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "shopstream_generator_events_sent_total",
        "shopstream_generator_delivery_errors_total 0",
        "shopstream_generator_rate_events_per_second",
        "shopstream_generator_queue_depth",
    ] {
        assert!(metrics.contains(name), "{name} missing from\n{metrics}");
    }
    let sent: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("shopstream_generator_events_sent_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("sent counter");
    assert!(sent > 0, "events are being sent");

    let pid = child.id().expect("running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("stops within 30 s of SIGTERM")
        .expect("exit status");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {} after SIGTERM: {stdout}",
        output.status
    );
    // Everything handed to the producer was flushed and acknowledged.
    let acknowledged: usize = stdout
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary in {stdout:?}"));
    assert!(
        stdout.contains(&format!(
            "{acknowledged} of {acknowledged} events acknowledged, 0 failed"
        )),
        "{stdout}"
    );
    let records = consume_all(&topic, 2).await;
    delete_topics(&[&topic]).await;
    assert_eq!(records.len(), acknowledged);
}

/// `generator.eventsPerSecond: 0` reaches the generator as
/// GENERATOR_EVENTS_PER_SECOND=0 (the operator's ConfigMap): it must run,
/// turn ready and stay healthy, produce nothing, and stop cleanly, instead
/// of rejecting the rate and crash-looping.
#[tokio::test]
async fn rate_zero_runs_idle_ready_and_healthy() {
    let topic = create_topic("gen-idle", 1, &[]).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = generator(&topic, &["--metrics-addr", &addr])
        .env("GENERATOR_EVENTS_PER_SECOND", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the generator starts");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if tokio::net::TcpStream::connect(&addr).await.is_ok()
            && http_get(&addr, "/readyz").await.0 == 200
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let output = child.wait_with_output().await.expect("output");
            panic!(
                "the idle generator exited ({status}): {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(tokio::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Still up, healthy and ready a while later, having sent nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        matches!(child.try_wait(), Ok(None)),
        "the idle generator exited"
    );
    assert_eq!(http_get(&addr, "/healthz").await.0, 200);
    assert_eq!(http_get(&addr, "/readyz").await.0, 200);
    let (_, metrics) = http_get(&addr, "/metrics").await;
    assert!(
        metrics.contains("shopstream_generator_events_sent_total 0"),
        "{metrics}"
    );

    let pid = child.id().expect("running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("stops within 30 s of SIGTERM")
        .expect("exit status");
    assert!(
        output.status.success(),
        "exit {} after SIGTERM: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        consume_all(&topic, 1).await.is_empty(),
        "the idle generator produced"
    );
    delete_topics(&[&topic]).await;
}
