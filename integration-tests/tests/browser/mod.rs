//! Headless Chromium for tests that look at a page as a person would (the
//! serving layer's dashboard): Debian's `chromium`, driven through WebDriver
//! by Debian's `chromedriver` (both installed by hack/chromium/ensure.sh,
//! which `make test` runs), with the flags in hack/chromium/flags.
//!
//! WebDriver rather than `chromium --dump-dom`: a test must wait, in real
//! time, until data shows, then read the numbers and take the screenshot of
//! that same page. See hack/chromium/README.md.
#![allow(dead_code)] // each test crate uses a different subset

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// The folder for a test's screenshots and logs, outside the repository:
/// `$SHOPSTREAM_ARTIFACTS_DIR/<test>` (hack/env.sh sets it to
/// `$SHOPSTREAM_RUN_DIR/artifacts`). Each run overwrites the previous run's
/// files of the same names.
pub fn artifacts_dir(test: &str) -> PathBuf {
    let root = std::env::var("SHOPSTREAM_ARTIFACTS_DIR").unwrap_or_else(|_| {
        panic!(
            "SHOPSTREAM_ARTIFACTS_DIR is not set: run this test with `make test`, or export \
             what `hack/env.sh` prints."
        )
    });
    let dir = PathBuf::from(root).join(test);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

/// A program on PATH (or the path in `override_var`), or a panic that says
/// how to install it.
fn program(name: &str, override_var: &str) -> PathBuf {
    if let Ok(path) = std::env::var(override_var) {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is not installed: run hack/chromium/ensure.sh (or set {override_var})")
        })
}

/// hack/chromium/flags: one flag per line, `#` comments.
fn chromium_flags() -> Vec<String> {
    let path = integration_tests::checkout::workspace_root().join("hack/chromium/flags");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    parse_flags(&text)
}

fn parse_flags(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|flag| !flag.is_empty())
        .map(str::to_string)
        .collect()
}

/// JavaScript truthiness of a value WebDriver returned.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn free_loopback_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

pub struct Browser {
    client: Client,
    driver: tokio::process::Child,
    profile: PathBuf,
    driver_log: PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a Chromium session
    /// with a fresh profile. chromedriver's log, with Chromium's own output,
    /// goes to `log_dir/chromedriver.log`.
    pub async fn start(log_dir: &Path) -> Browser {
        let chromium = program("chromium", "SHOPSTREAM_CHROMIUM");
        let chromedriver = program("chromedriver", "SHOPSTREAM_CHROMEDRIVER");
        let port = free_loopback_port();
        let driver_log = log_dir.join("chromedriver.log");
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let profile = std::env::temp_dir().join(format!(
            "shopstream-chromium-{}-{nanos}",
            std::process::id()
        ));

        let mut command = tokio::process::Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", driver_log.display()))
            .arg("--enable-chrome-logs")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so Drop can end Chromium with it even
            // when a failed test never closes the session.
            .process_group(0)
            .kill_on_drop(true);
        let mut driver = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));

        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if let Ok(Some(status)) = driver.try_wait() {
                panic!(
                    "chromedriver exited ({status}) during startup; log: {}",
                    driver_log.display()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not listen on {addr} within 30 s; log: {}",
                driver_log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let mut args = chromium_flags();
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        // Bounded page loads and scripts: a hung page fails the test.
        capabilities.insert(
            "timeouts".into(),
            json!({ "pageLoad": 30_000, "script": 10_000, "implicit": 0 }),
        );
        let client = tokio::time::timeout(
            Duration::from_secs(60),
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&format!("http://{addr}")),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "Chromium did not start within 60 s; log: {}",
                driver_log.display()
            )
        })
        .unwrap_or_else(|e| {
            panic!(
                "starting a Chromium session: {e}; log: {}",
                driver_log.display()
            )
        });
        Browser {
            client,
            driver,
            profile,
            driver_log,
        }
    }

    /// The WebDriver client, for anything the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("loading {url}: {e}"));
    }

    /// Evaluates the JavaScript expression `expr` in the page.
    pub async fn eval(&self, expr: &str) -> Value {
        self.client
            .execute(&format!("return ({expr});"), Vec::new())
            .await
            .unwrap_or_else(|e| panic!("evaluating `{expr}`: {e}"))
    }

    /// Polls `expr` until it is truthy and returns its value; after
    /// `timeout`, fails naming `what` and showing the page's text.
    pub async fn wait_until(&self, what: &str, expr: &str, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let value = self.eval(expr).await;
            if truthy(&value) {
                return value;
            }
            if tokio::time::Instant::now() >= deadline {
                let text = self
                    .eval("document.body ? document.body.innerText : ''")
                    .await;
                panic!(
                    "{what}: `{expr}` still {value} after {timeout:?}; the page shows:\n{}",
                    text.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The rendered text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}` on the page: {e}"));
        element
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of `{css}`: {e}"))
    }

    /// Saves a PNG of the viewport to `path` and returns its size in bytes.
    pub async fn screenshot(&self, path: &Path) -> usize {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(path, &png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        png.len()
    }

    /// Ends the session (Chromium exits) and chromedriver.
    pub async fn close(mut self) {
        if let Err(e) = self.client.clone().close().await {
            eprintln!(
                "closing the Chromium session: {e}; log: {}",
                self.driver_log.display()
            );
        }
        self.end_driver_group();
        let _ = self.driver.wait().await;
    }

    /// SIGTERM to chromedriver's process group, which Chromium and its
    /// helpers share, then SIGKILL to whatever is left after 3 s. TERM
    /// first: Chromium then reaps its own helpers, where a KILL to all at
    /// once would leave them to init (as zombies on machines whose init does
    /// not reap).
    fn end_driver_group(&mut self) {
        let Some(pid) = self.driver.id() else { return };
        let group = format!("-{pid}");
        let signal = |sig: &str| {
            std::process::Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        };
        if !signal("-TERM") {
            return;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            // Reap chromedriver itself, or it would keep the group alive.
            let _ = self.driver.try_wait();
            if !signal("-0") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal("-KILL");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.end_driver_group();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_file_lines_without_comments() {
        let flags = parse_flags("# header\n--headless\n\n--window-size=1,2  # why\n  # indented\n");
        assert_eq!(flags, ["--headless", "--window-size=1,2"]);
    }

    #[test]
    fn javascript_truthiness() {
        for falsy in [json!(null), json!(false), json!(0), json!(""), json!(0.0)] {
            assert!(!truthy(&falsy), "{falsy} is falsy");
        }
        for truthy_value in [json!(true), json!(1), json!("x"), json!([]), json!({})] {
            assert!(truthy(&truthy_value), "{truthy_value} is truthy");
        }
    }
}
