//! Running the `serving` binary on its own topics, for the suites that
//! test it as a process.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use integration_tests::environment::kafka_bootstrap;
use integration_tests::{binaries, kafka};
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde_json::Value;
use shopstream_serving::keys::KeySpace;
use shopstream_serving::records::Output;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Topics {
    names: Vec<(Output, String)>,
    input: String,
}

impl Topics {
    pub async fn create(test: &str) -> Topics {
        let mut names = Vec::new();
        for output in Output::ALL {
            let topic = kafka::create_topic(&format!("{test}-{}", output.name()), 2, &[]).await;
            names.push((output, topic));
        }
        let input = kafka::create_topic(&format!("{test}-input"), 1, &[]).await;
        Topics { names, input }
    }

    pub fn of(&self, output: Output) -> &str {
        self.names
            .iter()
            .find(|(o, _)| *o == output)
            .map(|(_, name)| name.as_str())
            .unwrap()
    }

    pub async fn delete(&self) {
        let mut all: Vec<&str> = self.names.iter().map(|(_, n)| n.as_str()).collect();
        all.push(&self.input);
        kafka::delete_topics(&all).await;
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

pub struct Serving {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
    pub keys: KeySpace,
    pub group: String,
}

impl Serving {
    /// Runs `serving` on the topics, writing to Redis at `redis_addr`.
    pub fn spawn(
        test: &str,
        topics: &Topics,
        redis_addr: &str,
        password: Option<String>,
    ) -> Serving {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let pipeline = kafka::unique(test);
        let group = format!("{pipeline}-serving");
        let log = std::env::temp_dir().join(format!("{pipeline}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut command = tokio::process::Command::new(binaries::path("serving"));
        command
            .env_clear()
            .env("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap())
            .env("SERVING_GROUP_ID", &group)
            .env("PROCESSOR_GROUP_ID", format!("{pipeline}-processor"))
            .env("PROCESSOR_INPUT_TOPIC", &topics.input)
            .env("PROCESSOR_SALES_TOPIC", topics.of(Output::Sales))
            .env("PROCESSOR_SEGMENTS_TOPIC", topics.of(Output::Segments))
            .env("PROCESSOR_HOURLY_TOPIC", topics.of(Output::Hourly))
            .env(
                "PROCESSOR_TOP_PRODUCTS_TOPIC",
                topics.of(Output::TopProducts),
            )
            .env("PROCESSOR_ANOMALIES_TOPIC", topics.of(Output::Anomalies))
            .env(
                "PROCESSOR_USER_HISTORY_TOPIC",
                topics.of(Output::UserHistory),
            )
            .env("SERVING_REDIS_ADDRESS", redis_addr)
            .env("SERVING_PIPELINE_NAMESPACE", "serving-binary")
            .env("SERVING_PIPELINE_NAME", &pipeline)
            .env("SERVING_FLUSH_INTERVAL_MS", "50")
            .env("METRICS_ADDR", addr.to_string())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .kill_on_drop(true);
        if let Some(password) = password {
            command.env("SERVING_REDIS_PASSWORD", password);
        }
        let child = command.spawn().unwrap();
        Serving {
            child,
            addr,
            log,
            keys: KeySpace::for_pipeline("serving-binary", &pipeline),
            group,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("serving exited ({status}):\n{}", self.log_text());
        }
    }

    /// (status code, body) of `GET path`; (0, "") when nothing answers.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let Ok(mut stream) = tokio::net::TcpStream::connect(self.addr).await else {
            return (0, String::new());
        };
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        if stream.write_all(request.as_bytes()).await.is_err() {
            return (0, String::new());
        }
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply).await;
        let code = reply
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = reply
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (code, body)
    }

    pub async fn json(&self, path: &str) -> Value {
        let (code, body) = self.get(path).await;
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path} answered {code} with no JSON ({e}): {body}"))
    }

    /// Waits until `check` holds, failing with the log after `within`.
    pub async fn wait_for<F, Fut>(&mut self, what: &str, within: Duration, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + within;
        loop {
            self.assert_alive();
            if check().await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {within:?}\n--- serving log ---\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

pub fn transactional_producer() -> FutureProducer {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("transactional.id", kafka::unique("serving-test-txn"))
        .create()
        .unwrap();
    producer.init_transactions(Duration::from_secs(30)).unwrap();
    producer
}

pub async fn send(producer: &FutureProducer, topic: &str, partition: i32, value: &str) {
    producer
        .send(
            FutureRecord::<(), _>::to(topic)
                .partition(partition)
                .payload(value),
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("producing to {topic}: {e}"));
}
