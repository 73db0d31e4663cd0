//! The dashboard the `serving` binary serves, looked at in the real headless
//! Chromium: the processor's records go into the output topics, the page
//! (served by the binary, polling its JSON API) shows their numbers without
//! a reload, and shows new records when they arrive. A screenshot of each
//! state goes to the test's artifacts folder.

mod browser;
mod redis_env;
mod serving_support;

use std::time::Duration;

use browser::Browser;
use rdkafka::producer::Producer;
use redis::AsyncCommands;
use redis_env::Instance;
use serving_support::RECORDS;
use serving_support::process::{Serving, Topics, send, transactional_producer};
use shopstream_serving::records::Output;

/// A later record of the same hour: a product that overtakes product 1.
const NEW_TOP: &str = r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","product_id":7,"product_name":"Camera","category":"electronics","total_quantity":4,"total_revenue":300000.0,"order_count":4,"revenue_rank":1}"#;
const NEW_ANOMALY: &str = r#"{"event_id":"evt_2","timestamp":"2025-08-12T10:05:00Z","user_id":"user_7","product_name":"Camera","final_amount":75000.0,"region":"Fukuoka","anomaly_type":"high_value_transaction"}"#;

const ROWS: &str = "document.querySelectorAll('#top-products tbody tr').length";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_records_and_updates_live() {
    let artifacts = browser::artifacts_dir("serving_dashboard");
    let topics = Topics::create("serving-dash").await;
    let serving = Serving::spawn("serving-dash", &topics, &Instance::Open.addr(), None);
    let producer = transactional_producer();
    producer.begin_transaction().unwrap();
    for (output, value) in RECORDS {
        send(&producer, topics.of(*output), 0, value).await;
    }
    producer
        .commit_transaction(Duration::from_secs(30))
        .unwrap();

    let browser = Browser::start(&artifacts).await;
    browser.open(&format!("http://{}/", serving.addr)).await;
    browser
        .wait_until(
            "the top products shown",
            &format!("{ROWS} === 2"),
            Duration::from_secs(60),
        )
        .await;
    let first = browser.text("#top-products tbody tr:first-child").await;
    assert!(
        first.contains("ノートPC (1)") && first.contains("255,930.5"),
        "{first}"
    );
    let hourly = browser.text("#hourly tbody tr:first-child").await;
    assert!(
        hourly.contains("electronics") && hourly.contains("161,640"),
        "{hourly}"
    );
    let region = browser.text("#regions tbody tr:first-child").await;
    assert!(
        region.contains("Tokyo") && region.contains("1,140"),
        "{region}"
    );
    let anomaly = browser.text("#anomalies tbody tr:first-child").await;
    assert!(
        anomaly.contains("evt_1") && anomaly.contains("80,820"),
        "{anomaly}"
    );
    let lines = browser
        .eval("document.querySelectorAll('#sales-chart polyline[data-category=\"food\"]').length")
        .await;
    assert_eq!(lines, 1, "the chart draws the food category");
    assert!(
        browser.screenshot(&artifacts.join("first.png")).await > 10_000,
        "a screenshot with content"
    );

    // New records while the page is open: it shows them without a reload.
    let marker = browser.eval("window.__sameDocument = true").await;
    assert_eq!(marker, true);
    producer.begin_transaction().unwrap();
    send(&producer, topics.of(Output::TopProducts), 0, NEW_TOP).await;
    send(&producer, topics.of(Output::Anomalies), 0, NEW_ANOMALY).await;
    producer
        .commit_transaction(Duration::from_secs(30))
        .unwrap();
    browser
        .wait_until(
            "the new product on top",
            &format!(
                "{ROWS} === 3 && document.querySelector('#top-products tbody tr').dataset.key === '7'"
            ),
            Duration::from_secs(60),
        )
        .await;
    let anomaly = browser.text("#anomalies tbody tr:first-child").await;
    assert!(anomaly.contains("evt_2"), "newest anomaly first: {anomaly}");
    assert_eq!(
        browser.eval("window.__sameDocument === true").await,
        true,
        "updated in place, not reloaded"
    );
    browser.screenshot(&artifacts.join("updated.png")).await;
    browser.close().await;

    let mut redis = redis_env::connect(Instance::Open).await;
    let names: Vec<String> = redis
        .keys(format!("{}*", serving.keys.prefix()))
        .await
        .unwrap();
    if !names.is_empty() {
        let () = redis.del(names).await.unwrap();
    }
    topics.delete().await;
}
