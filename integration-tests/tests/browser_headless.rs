//! Headless Chromium works as the dashboard test needs it: a page served on
//! 127.0.0.1 renders data that its script fetches later, in real time; the
//! test waits until the data shows, reads the numbers on the page, compares
//! them with what it served, and saves a screenshot outside the repository.

mod browser;

use std::sync::Arc;
use std::time::Duration;

use browser::Browser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The page polls `/api/summary` like a live dashboard polls its JSON API.
const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>browser test</title>
<style>body{font-family:sans-serif;margin:2em} .n{font-size:2em;font-weight:bold}</style>
</head><body>
<h1>Sales</h1>
<p>Total: <span id="total" class="n">—</span></p>
<p>Orders: <span id="orders" class="n">—</span></p>
<p id="state">waiting for data</p>
<script>
async function poll() {
  try {
    const response = await fetch('/api/summary', {cache: 'no-store'});
    if (response.ok) {
      const data = await response.json();
      document.getElementById('total').textContent =
        data.total.toLocaleString('en-US', {minimumFractionDigits: 2, maximumFractionDigits: 2});
      document.getElementById('orders').textContent = String(data.orders);
      document.getElementById('state').textContent = 'live';
      document.body.dataset.ready = 'true';
      return;
    }
  } catch (e) {}
  setTimeout(poll, 200);
}
poll();
</script></body></html>"#;

/// What the API serves once its data is "ready".
const TOTAL: f64 = 1_234_567.5;
const ORDERS: u64 = 4242;

/// How long the API answers 503 before it has data: longer than a page
/// load, so a test that does not wait reads the placeholders.
const DATA_DELAY: Duration = Duration::from_millis(1500);

struct Site {
    started: tokio::time::Instant,
}

async fn serve(site: Arc<Site>, mut stream: TcpStream) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&request);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let (status, content_type, body) = match path {
        "/" => ("200 OK", "text/html; charset=utf-8", PAGE.to_string()),
        "/api/summary" if site.started.elapsed() >= DATA_DELAY => (
            "200 OK",
            "application/json",
            serde_json::json!({ "total": TOTAL, "orders": ORDERS }).to_string(),
        ),
        "/api/summary" => (
            "503 Service Unavailable",
            "text/plain",
            "no data yet".into(),
        ),
        _ => ("404 Not Found", "text/plain", "not found".into()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[tokio::test]
async fn chromium_waits_for_live_data_reads_it_and_saves_a_screenshot() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let artifacts = browser::artifacts_dir("browser_headless");
    let browser = Browser::start(&artifacts).await;

    let site = Arc::new(Site {
        started: tokio::time::Instant::now(),
    });
    let server = tokio::spawn({
        let site = site.clone();
        async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(site.clone(), stream));
            }
        }
    });

    browser.open(&url).await;
    // Loaded, scripts running, but the API has no data yet.
    assert_eq!(browser.text("#total").await, "—");

    browser
        .wait_until(
            "the page shows the API's data",
            "document.body.dataset.ready === 'true'",
            Duration::from_secs(20),
        )
        .await;
    assert!(
        site.started.elapsed() >= DATA_DELAY,
        "the page showed data before the API had any"
    );
    assert_eq!(browser.text("#total").await, "1,234,567.50");
    let orders: u64 = browser
        .text("#orders")
        .await
        .parse()
        .expect("a number of orders");
    assert_eq!(orders, ORDERS);
    assert_eq!(browser.text("#state").await, "live");

    let shot = artifacts.join("page.png");
    let bytes = browser.screenshot(&shot).await;
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(
        &png[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is a PNG",
        shot.display()
    );
    assert!(
        bytes > 2_000,
        "a 1280x900 page with text is more than {bytes} bytes"
    );
    eprintln!("screenshot: {}", shot.display());

    browser.close().await;
    server.abort();
}
