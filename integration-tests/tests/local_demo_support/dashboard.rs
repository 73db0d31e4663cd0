//! The demo's dashboard looked at as a user does: the serving process the
//! local runner started (its loopback port from the runner's log, as
//! `make demo` finds it), opened in the real headless Chromium. The
//! numbers the page shows are checked against the output topic they come
//! from, read back independently (`read_committed`), not against Redis or
//! the JSON API.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::browser::Browser;
use crate::processor_support::pipeline::read_records;
use crate::support::wait_until;

/// The loopback port of the serving process's HTTP listener (dashboard,
/// API, probes), from the newest "started" line of the runner's log: a
/// restarted process gets a new port.
pub fn serving_port(runner_log: &str, ns: &str, pipeline: &str) -> Option<u16> {
    let workload = format!("workload=Deployment {ns}/{pipeline}-serving replica=0 ");
    runner_log
        .lines()
        .filter(|line| line.contains(&workload) && line.contains("started"))
        .filter_map(|line| {
            let (_, rest) = line.split_once("metrics=Some(\"127.0.0.1:")?;
            rest.split('"').next()?.parse().ok()
        })
        .next_back()
}

/// The status code of `GET path` on 127.0.0.1:`port`.
async fn http_status(port: u16, path: &str) -> Result<u16, String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connecting to 127.0.0.1:{port}: {e}"))?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 12];
    stream
        .read_exact(&mut head)
        .await
        .map_err(|e| e.to_string())?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP reply: {head:?}"))
}

/// Waits until the serving process the runner started answers `/readyz`
/// with 200 (Kafka and Redis reachable); returns the dashboard's URL.
pub async fn wait_dashboard(runner_log: impl Fn() -> String, ns: &str, pipeline: &str) -> String {
    wait_until(
        "the serving process ready (/readyz 200)",
        Duration::from_secs(120),
        || async {
            let log = runner_log();
            let port = serving_port(&log, ns, pipeline)
                .ok_or_else(|| format!("no serving process in the runner's log:\n{log}"))?;
            match http_status(port, "/readyz").await? {
                200 => Ok(format!("http://127.0.0.1:{port}/")),
                code => Err(format!("/readyz answered {code}")),
            }
        },
    )
    .await
}

/// A money cell as the page prints it ("1,234.5") as a number.
fn money(text: &str) -> Option<f64> {
    text.trim().replace(',', "").parse().ok()
}

/// Sales by region of the sales window labelled `label` ("YYYY-MM-DD
/// HH:MM:SS", the window's start in UTC), from the output topic's records.
fn sales_by_region(records: &[(String, Value)], label: &str) -> BTreeMap<String, f64> {
    let mut by_region = BTreeMap::new();
    // One record per (window, category, region); a re-emission after a
    // restart repeats a key with the same value, so the last one per key
    // counts.
    let latest: BTreeMap<&str, &Value> = records.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for record in latest.values() {
        let start = record["window_start"].as_str().unwrap_or_default();
        if start.replace('T', " ").trim_end_matches('Z') != label {
            continue;
        }
        let region = record["region"].as_str().unwrap_or_default().to_owned();
        *by_region.entry(region).or_insert(0.0) += record["total_sales"].as_f64().unwrap_or(0.0);
    }
    by_region
}

/// The "latest minute by region" section: its window label and rows.
async fn page_regions(browser: &Browser) -> (String, BTreeMap<String, String>) {
    let label = browser.text("#region-window").await;
    let label = label.trim().trim_start_matches('(').trim_end_matches(')');
    let rows = browser
        .eval(
            "Array.from(document.querySelectorAll('#regions tbody tr'))\
             .map(r => Array.from(r.cells).map(c => c.textContent))",
        )
        .await;
    let rows = rows
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| {
            Some((
                row.get(0)?.as_str()?.to_owned(),
                row.get(1)?.as_str()?.to_owned(),
            ))
        })
        .collect();
    (label.to_owned(), rows)
}

/// Whether the page's rows are the topic's sums (to the cent the page
/// rounds to), region for region.
fn matches(page: &BTreeMap<String, String>, topic: &BTreeMap<String, f64>) -> bool {
    page.len() == topic.len()
        && topic.iter().all(|(region, sum)| {
            page.get(region)
                .and_then(|text| money(text))
                .is_some_and(|shown| (shown - sum).abs() < 0.006)
        })
}

/// Opens the dashboard, waits until a closed sales window shows, and checks
/// its numbers against the sales topic. The page and the topic are read at
/// different moments and serving may be between two batches of one window,
/// so a mismatch is read again (until `within`); a page that keeps showing
/// other numbers fails. Screenshots go to `artifacts`.
pub async fn check_against_topic(url: &str, sales_topic: &str, artifacts: &Path, within: Duration) {
    let browser = Browser::start(artifacts).await;
    browser.open(url).await;
    browser
        .wait_until(
            "a closed sales window on the dashboard",
            "document.querySelectorAll('#regions tbody tr').length > 0",
            within,
        )
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (label, page) = page_regions(&browser).await;
        let records = read_records(sales_topic, 1, Duration::from_secs(30)).await;
        let topic = sales_by_region(&records, &label);
        if !topic.is_empty() && matches(&page, &topic) {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            browser.screenshot(&artifacts.join("mismatch.png")).await;
            panic!(
                "the dashboard's sales for window {label:?} are not the sales topic's:\n\
                 page:  {page:?}\ntopic: {topic:?} ({} records read from {sales_topic})",
                records.len()
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let shown = browser.text("#input-rate").await;
    assert!(
        money(&shown).is_some_and(|rate| rate > 0.0),
        "the dashboard shows no input rate: {shown:?}"
    );
    assert!(
        browser.screenshot(&artifacts.join("dashboard.png")).await > 10_000,
        "a screenshot with content"
    );
    browser.close().await;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_newest_started_line_names_the_port() {
        let log = "\
            INFO started /b/serving workload=Deployment ns/shop-serving replica=0 pod=x pid=1 metrics=Some(\"127.0.0.1:4001\") log=a\n\
            INFO started /b/serving workload=Deployment ns/shop-serving-x replica=0 pod=y pid=2 metrics=Some(\"127.0.0.1:4002\") log=b\n\
            INFO stopping: exited workload=Deployment ns/shop-serving replica=0 pod=x pid=1 metrics_port=Some(4001)\n\
            INFO started /b/serving workload=Deployment ns/shop-serving replica=0 pod=x pid=3 metrics=Some(\"127.0.0.1:4003\") log=a\n";
        assert_eq!(serving_port(log, "ns", "shop"), Some(4003));
        assert_eq!(serving_port(log, "ns", "other"), None);
    }

    #[test]
    fn sums_one_window_by_region_counting_a_repeated_key_once() {
        let record = |start: &str, region: &str, sales: f64| json!({"window_start": start, "region": region, "total_sales": sales});
        let records = vec![
            (
                "a".to_owned(),
                record("2026-11-30T03:01:00Z", "Tokyo", 100.5),
            ),
            (
                "b".to_owned(),
                record("2026-11-30T03:01:00Z", "Tokyo", 20.0),
            ),
            (
                "c".to_owned(),
                record("2026-11-30T03:01:00Z", "Osaka", 7.25),
            ),
            (
                "a".to_owned(),
                record("2026-11-30T03:01:00Z", "Tokyo", 100.5),
            ),
            ("d".to_owned(), record("2026-11-30T03:02:00Z", "Tokyo", 1.0)),
        ];
        let sums = sales_by_region(&records, "2026-11-30 03:01:00");
        assert_eq!(
            sums,
            BTreeMap::from([("Osaka".to_owned(), 7.25), ("Tokyo".to_owned(), 120.5)])
        );
        let page = BTreeMap::from([
            ("Osaka".to_owned(), "7.25".to_owned()),
            ("Tokyo".to_owned(), "120.5".to_owned()),
        ]);
        assert!(matches(&page, &sums));
        let wrong = BTreeMap::from([
            ("Osaka".to_owned(), "7.25".to_owned()),
            ("Tokyo".to_owned(), "1,120.5".to_owned()),
        ]);
        assert!(!matches(&wrong, &sums));
    }
}
