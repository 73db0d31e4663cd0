use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Thresholds of the alerts besides lag verdicts (docs/alerts.md): the
/// operator judges processor restarts, the processor judges dead letters,
/// high-value anomalies and slow windows. Each alert is a record on the
/// pipeline's alerts topic and an Event on the pipeline.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AlertsSpec {
    /// Restarts of one processor container within
    /// `processorRestartWindowSeconds` that raise a `processor_restarts`
    /// alert (default 3). A container waiting in CrashLoopBackOff raises a
    /// `processor_crash_loop` alert whatever its count.
    #[serde(default = "default_processor_restarts")]
    #[schemars(range(min = 1, max = 1000))]
    pub processor_restarts: i32,

    /// The window over which restarts are counted (default 900 s).
    #[serde(default = "default_processor_restart_window_seconds")]
    #[schemars(range(min = 60, max = 86400))]
    pub processor_restart_window_seconds: i32,

    /// A `dead_letter_rate` alert when more input records than this went
    /// to the dead-letter topic within one minute (by their Kafka record
    /// timestamps; counted exactly by the processor). Default 60 (1/s);
    /// 0 switches it off.
    #[serde(default = "default_dead_letters_per_minute")]
    #[schemars(range(min = 0, max = 1_000_000_000))]
    pub dead_letters_per_minute: i64,

    /// A `high_value_anomaly_burst` alert when more anomalies than this
    /// (purchases with `final_amount` above `spec.processor.anomalyThreshold`)
    /// have event times within one minute. Default 100; 0 switches it off.
    #[serde(default = "default_high_value_anomalies_per_minute")]
    #[schemars(range(min = 0, max = 1_000_000_000))]
    pub high_value_anomalies_per_minute: i64,

    /// A `window_close_slow` alert when a window's results are emitted
    /// more than this many seconds after the window's end plus the allowed
    /// lateness (wall clock: best effort). Default 60; 0 switches it off.
    #[serde(default = "default_window_close_slower_than_seconds")]
    #[schemars(range(min = 0, max = 86400))]
    pub window_close_slower_than_seconds: i32,
}

pub const DEFAULT_PROCESSOR_RESTARTS: i32 = 3;
pub const DEFAULT_PROCESSOR_RESTART_WINDOW_SECONDS: i32 = 900;
pub const DEFAULT_DEAD_LETTERS_PER_MINUTE: i64 = 60;
pub const DEFAULT_HIGH_VALUE_ANOMALIES_PER_MINUTE: i64 = 100;
pub const DEFAULT_WINDOW_CLOSE_SLOWER_THAN_SECONDS: i32 = 60;

fn default_dead_letters_per_minute() -> i64 {
    DEFAULT_DEAD_LETTERS_PER_MINUTE
}

fn default_high_value_anomalies_per_minute() -> i64 {
    DEFAULT_HIGH_VALUE_ANOMALIES_PER_MINUTE
}

fn default_window_close_slower_than_seconds() -> i32 {
    DEFAULT_WINDOW_CLOSE_SLOWER_THAN_SECONDS
}

fn default_processor_restarts() -> i32 {
    DEFAULT_PROCESSOR_RESTARTS
}

fn default_processor_restart_window_seconds() -> i32 {
    DEFAULT_PROCESSOR_RESTART_WINDOW_SECONDS
}

impl Default for AlertsSpec {
    fn default() -> Self {
        Self {
            processor_restarts: DEFAULT_PROCESSOR_RESTARTS,
            processor_restart_window_seconds: DEFAULT_PROCESSOR_RESTART_WINDOW_SECONDS,
            dead_letters_per_minute: DEFAULT_DEAD_LETTERS_PER_MINUTE,
            high_value_anomalies_per_minute: DEFAULT_HIGH_VALUE_ANOMALIES_PER_MINUTE,
            window_close_slower_than_seconds: DEFAULT_WINDOW_CLOSE_SLOWER_THAN_SECONDS,
        }
    }
}
