//! Command line and environment: every option has a flag and an environment
//! variable (the operator configures pods through the latter).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use clap::{Parser, ValueEnum};

use shopstream_common::contract::{generator as env, shared};
pub use shopstream_common::logging::LogFormat;

use super::clock::EventClock;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "generator",
    version,
    about = "Produces realistic, reproducible e-commerce purchase events to a Kafka topic.",
    long_about = "Produces realistic, reproducible e-commerce purchase events (JSON, key = user_id) \
                  to a Kafka topic, at a steady rate held by a token bucket, unthrottled, or \
                  exactly --count of them. Every option can also be set through the environment \
                  variable shown with it; a flag wins over its variable."
)]
pub struct Args {
    /// Kafka bootstrap servers (host:port[,host:port…]).
    #[arg(
        long,
        env = shared::KAFKA_BOOTSTRAP_SERVERS,
        default_value = "localhost:9092"
    )]
    pub bootstrap_servers: String,

    /// TLS and authentication to Kafka.
    #[command(flatten)]
    pub kafka_security: kafka_security::KafkaSecurityArgs,

    /// Topic to write to; it must exist (the generator never creates topics).
    #[arg(long, env = env::TOPIC)]
    pub topic: String,

    /// Target rate in events per second (fractions allowed, e.g. 0.5). 0
    /// keeps the generator running, ready and producing nothing (the
    /// operator's `eventsPerSecond: 0`).
    #[arg(long, env = env::EVENTS_PER_SECOND, default_value_t = 100.0, value_parser = non_negative_f64)]
    pub events_per_second: f64,

    /// Send exactly this many events, wait for every delivery report and exit
    /// (0 only if all were acknowledged). Without it, run until SIGTERM/SIGINT.
    #[arg(long, env = env::COUNT, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Send as fast as possible (benchmarks); --events-per-second is ignored.
    /// The variable takes true/false, 1/0, yes/no or on/off.
    #[arg(
        long,
        env = env::UNTHROTTLED,
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub unthrottled: bool,

    /// Seed: the same seed gives the same events (ids, users, products,
    /// amounts; timestamps too with --start-time). Default: random per run.
    #[arg(long, env = env::SEED)]
    pub seed: Option<u64>,

    /// Simulated event time of the first event (RFC 3339, e.g.
    /// 2026-11-25T00:00:00Z); event n is stamped start + n × --time-step.
    /// Default: the wall clock.
    #[arg(long, env = env::START_TIME, value_parser = rfc3339)]
    pub start_time: Option<DateTime<Utc>>,

    /// Simulated time between consecutive events (e.g. 100ms, 1s); needs
    /// --start-time. Default: 1 / rate (1ms when unthrottled).
    #[arg(long, env = env::TIME_STEP, value_parser = humantime::parse_duration)]
    pub time_step: Option<Duration>,

    /// Share (0–1) of events stamped up to --out-of-order-max-seconds in the past.
    #[arg(long, env = env::OUT_OF_ORDER_SHARE, default_value_t = 0.0, value_parser = share)]
    pub out_of_order_share: f64,

    /// How far back (seconds) an out-of-order event may be stamped; each is
    /// moved back by a uniform 1 ms … this.
    #[arg(long, env = env::OUT_OF_ORDER_MAX_SECONDS, default_value_t = 30.0, value_parser = non_negative_f64)]
    pub out_of_order_max_seconds: f64,

    /// Share (0–1) of records written malformed (invalid JSON, a missing
    /// field, or a field of the wrong type, equally often).
    #[arg(long, env = env::MALFORMED_SHARE, default_value_t = 0.0, value_parser = share)]
    pub malformed_share: f64,

    /// Event shape: `shopstream` (ours: string product ids, decimal
    /// amounts) or `original` (the original system's Python producer: its
    /// catalogue with integer ids and prices, segments drawn per event,
    /// uniform choices, 3-decimal discount rates, JSON exactly as
    /// `json.dumps` writes it; event ids stay unique).
    #[arg(long, env = env::SCHEMA, value_enum, default_value_t = Schema::Shopstream)]
    pub schema: Schema,

    /// Catalogue file (YAML, or JSON by .json extension): products, regions,
    /// segments, device and payment weights. Default: the built-in shop.
    #[arg(long, env = env::CATALOGUE)]
    pub catalogue: Option<PathBuf>,

    /// Number of producer tasks. 0 = auto: 1 up to 50,000 events/s, else one
    /// per two CPUs (1 to 8).
    #[arg(long, env = env::PRODUCERS, default_value_t = 0)]
    pub producers: usize,

    /// Address of the HTTP server for /metrics, /healthz and /readyz.
    #[arg(long, env = shared::METRICS_ADDR, default_value = "0.0.0.0:9090")]
    pub metrics_addr: SocketAddr,

    /// Compression codec of the producer.
    #[arg(long, env = env::COMPRESSION, value_enum, default_value_t = Compression::Lz4)]
    pub compression: Compression,

    /// Producer linger (how long to wait to fill a batch), e.g. 5ms.
    #[arg(long, env = env::LINGER, default_value = "10ms", value_parser = humantime::parse_duration)]
    pub linger: Duration,

    /// Extra librdkafka producer property, KEY=VALUE (repeatable; in the
    /// variable, comma-separated). Applied last, so it overrides the defaults.
    #[arg(short = 'X', long = "producer-property", env = env::PRODUCER_PROPERTIES, value_delimiter = ',', value_parser = key_value)]
    pub producer_properties: Vec<(String, String)>,

    /// How long to wait at start for the topic's metadata before giving up.
    #[arg(long, env = env::STARTUP_TIMEOUT, default_value = "2m", value_parser = humantime::parse_duration)]
    pub startup_timeout: Duration,

    /// How long to wait for outstanding deliveries when stopping (after
    /// SIGTERM/SIGINT at most 5 s, within a pod's grace period).
    #[arg(long, env = env::FLUSH_TIMEOUT, default_value = "60s", value_parser = humantime::parse_duration)]
    pub flush_timeout: Duration,

    /// Log format (filter with RUST_LOG, e.g. info or shopstream_generator=debug).
    #[arg(long, env = shared::LOG_FORMAT, value_enum, ignore_case = true, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// The shape of the events written.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Schema {
    /// Ours (docs/generator.md).
    #[default]
    Shopstream,
    /// The original system's producer dialect (docs/migration.md).
    Original,
}

fn non_negative_f64(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("expected a number >= 0, got {s:?}")),
    }
}

fn share(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a share between 0 and 1, got {s:?}")),
    }
}

fn rfc3339(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("expected an RFC 3339 time such as 2026-11-25T00:00:00Z: {e}"))
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// The fastest the auto setting runs on a single producer task.
const SINGLE_TASK_RATE: f64 = 50_000.0;

impl Args {
    /// The target rate, or `None` when unthrottled.
    pub fn rate(&self) -> Option<f64> {
        (!self.unthrottled).then_some(self.events_per_second)
    }

    /// Rate 0: run and stay ready, produce nothing.
    pub fn idle(&self) -> bool {
        self.rate() == Some(0.0)
    }

    /// Combinations that cannot run.
    pub fn check(&self) -> Result<(), String> {
        if self.idle() && self.count.is_some() {
            return Err("--count needs --events-per-second above 0 or --unthrottled".into());
        }
        Ok(())
    }

    /// The number of producer tasks to run.
    pub fn producer_tasks(&self) -> usize {
        if self.producers > 0 {
            return self.producers;
        }
        match self.rate() {
            Some(rate) if rate <= SINGLE_TASK_RATE => 1,
            // librdkafka's broker and delivery-report threads need CPU too
            // (and, locally, the broker): one task per two CPUs.
            _ => (std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                / 2)
            .clamp(1, 8),
        }
    }

    /// The event clock, or an error for an unusable combination.
    pub fn clock(&self) -> Result<EventClock, String> {
        match (self.start_time, self.time_step) {
            (None, Some(_)) => Err("--time-step needs --start-time".into()),
            (None, None) => Ok(EventClock::Wall),
            (Some(start), step) => {
                let step = match step {
                    Some(step) => step,
                    None => match self.rate() {
                        Some(rate) if rate > 0.0 => Duration::from_secs_f64(1.0 / rate),
                        // Unthrottled, or idle (no event is ever stamped).
                        _ => Duration::from_millis(1),
                    },
                };
                let step = TimeDelta::from_std(step).map_err(|e| format!("--time-step: {e}"))?;
                Ok(EventClock::Simulated { start, step })
            }
        }
    }

    /// The options that do not fit the schema: the original dialect has its
    /// own fixed catalogue.
    pub fn check_schema(&self) -> Result<(), String> {
        if self.schema == Schema::Original && self.catalogue.is_some() {
            return Err(
                "--catalogue does not apply to --schema original, which writes the original \
                 system's fixed catalogue"
                    .into(),
            );
        }
        Ok(())
    }

    pub fn out_of_order_max(&self) -> Duration {
        Duration::try_from_secs_f64(self.out_of_order_max_seconds).unwrap_or(Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("generator").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_and_flags() {
        let a = parse(&["--topic", "t"]).expect("valid");
        assert_eq!(a.rate(), Some(100.0));
        assert_eq!(a.producer_tasks(), 1);
        assert_eq!(a.clock(), Ok(EventClock::Wall));
        assert_eq!(a.metrics_addr.port(), 9090);
        assert_eq!(a.schema, Schema::Shopstream);
        assert_eq!(a.check_schema(), Ok(()));
        let a = parse(&["--topic", "t", "--schema", "original"]).expect("valid");
        assert_eq!(a.schema, Schema::Original);

        let a = parse(&[
            "--topic",
            "t",
            "--unthrottled",
            "--count",
            "10",
            "--seed",
            "7",
            "--start-time",
            "2026-11-25T09:00:00+09:00",
            "--time-step",
            "100ms",
            "-X",
            "linger.ms=50",
            "-X",
            "batch.size=1000",
        ])
        .expect("valid");
        assert_eq!(a.rate(), None);
        assert_eq!((a.count, a.seed), (Some(10), Some(7)));
        assert!(a.producer_tasks() >= 1);
        let Ok(EventClock::Simulated { start, step }) = a.clock() else {
            panic!("simulated clock expected");
        };
        assert_eq!(start.to_rfc3339(), "2026-11-25T00:00:00+00:00");
        assert_eq!(step, TimeDelta::milliseconds(100));
        assert_eq!(a.producer_properties.len(), 2);
    }

    #[test]
    fn invalid_values_are_rejected() {
        for bad in [
            &["--topic", "t", "--events-per-second", "-1"][..],
            &["--topic", "t", "--events-per-second", "fast"],
            &["--topic", "t", "--count", "0"],
            &["--topic", "t", "--malformed-share", "1.5"],
            &["--topic", "t", "--out-of-order-share", "-0.1"],
            &["--topic", "t", "--start-time", "yesterday"],
            &["--topic", "t", "--time-step", "soon"],
            &["--topic", "t", "-X", "novalue"],
            &[],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let a = parse(&["--topic", "t", "--time-step", "1s"]).expect("parses");
        assert!(a.clock().is_err(), "time step without start time");
        assert!(parse(&["--topic", "t", "--schema", "spark"]).is_err());
        let a = parse(&[
            "--topic",
            "t",
            "--schema",
            "original",
            "--catalogue",
            "x.yaml",
        ])
        .expect("parses");
        assert!(
            a.check_schema().is_err(),
            "the original has its own catalogue"
        );
    }

    #[test]
    fn rate_zero_is_idle() {
        let a = parse(&[
            "--topic",
            "t",
            "--events-per-second",
            "0",
            "--start-time",
            "2026-01-01T00:00:00Z",
        ])
        .expect("0 means idle, as the operator's eventsPerSecond: 0");
        assert!(a.idle());
        assert_eq!(a.check(), Ok(()));
        assert!(a.clock().is_ok());
        let a =
            parse(&["--topic", "t", "--events-per-second", "0", "--count", "5"]).expect("parses");
        assert!(a.check().is_err(), "idle with a count never ends");
        let a =
            parse(&["--topic", "t", "--events-per-second", "0", "--unthrottled"]).expect("parses");
        assert!(!a.idle(), "unthrottled ignores the rate");
    }

    #[test]
    fn default_step_follows_rate() {
        let a = parse(&[
            "--topic",
            "t",
            "--events-per-second",
            "2000",
            "--start-time",
            "2026-01-01T00:00:00Z",
        ])
        .expect("valid");
        let Ok(EventClock::Simulated { step, .. }) = a.clock() else {
            panic!("simulated clock expected");
        };
        assert_eq!(step, TimeDelta::microseconds(500));
    }

    #[test]
    fn help_names_every_variable() {
        let help = <Args as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for var in [
            "KAFKA_BOOTSTRAP_SERVERS",
            "GENERATOR_TOPIC",
            "GENERATOR_EVENTS_PER_SECOND",
            "GENERATOR_COUNT",
            "GENERATOR_UNTHROTTLED",
            "GENERATOR_SEED",
            "GENERATOR_START_TIME",
            "GENERATOR_TIME_STEP",
            "GENERATOR_OUT_OF_ORDER_SHARE",
            "GENERATOR_OUT_OF_ORDER_MAX_SECONDS",
            "GENERATOR_MALFORMED_SHARE",
            "GENERATOR_CATALOGUE",
            "GENERATOR_SCHEMA",
            "GENERATOR_PRODUCERS",
            "METRICS_ADDR",
            "LOG_FORMAT",
        ] {
            assert!(help.contains(var), "--help lacks {var}");
        }
    }
}
