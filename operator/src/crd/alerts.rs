use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Thresholds of the alerts the operator raises besides lag verdicts
/// (docs/alerts.md). Each alert is an Event on the pipeline and a record on
/// its alerts topic.
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
}

pub const DEFAULT_PROCESSOR_RESTARTS: i32 = 3;
pub const DEFAULT_PROCESSOR_RESTART_WINDOW_SECONDS: i32 = 900;

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
        }
    }
}
