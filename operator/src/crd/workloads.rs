use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The purchase-event load generator.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorSpec {
    /// Run the generator. Disable it when real producers feed the input topic.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// Target events per second, summed over all generator replicas.
    /// 0 keeps the generator running but idle.
    #[serde(default = "default_events_per_second")]
    #[schemars(range(min = 0, max = 10000000))]
    pub events_per_second: i32,

    /// Number of generator pods; the rate is split evenly between them.
    #[serde(default = "default_one")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: i32,

    /// Container image of the generator. Defaults to the image the operator
    /// was installed with (`--generator-image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,

    /// Shape of the generated events: `shopstream` (default) or `original`,
    /// the dialect of the Python producer of the system shopstream replaces
    /// (integer product ids and prices, JSON as Python's `json.dumps` writes
    /// it), to test a pipeline with what a migrating team's producer sends.
    #[serde(default)]
    pub schema: GeneratorSchema,
}

impl Default for GeneratorSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            events_per_second: default_events_per_second(),
            replicas: 1,
            image: None,
            schema: GeneratorSchema::default(),
        }
    }
}

/// The event shape the generator writes (`generator --schema`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GeneratorSchema {
    /// shopstream's own events: string product ids, decimal amounts.
    #[default]
    Shopstream,
    /// The original system's producer dialect.
    Original,
}

impl GeneratorSchema {
    /// The value of `generator --schema` / `GENERATOR_SCHEMA`.
    pub fn as_str(self) -> &'static str {
        match self {
            GeneratorSchema::Shopstream => "shopstream",
            GeneratorSchema::Original => "original",
        }
    }
}

/// The windowed analytics processor (a Kafka consumer group).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.hourlyWindowSeconds >= self.salesWindowSeconds").message("hourlyWindowSeconds must be at least salesWindowSeconds"))]
#[x_kube(validation = Rule::new("self.allowedLatenessSeconds < self.hourlyWindowSeconds").message("allowedLatenessSeconds must be shorter than hourlyWindowSeconds"))]
pub struct ProcessorSpec {
    /// Number of processor pods in the consumer group. Replicas beyond the
    /// input topic's partition count stay idle; the status reports that.
    #[serde(default = "default_one")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: i32,

    /// Container image of the processor. Defaults to the image the operator
    /// was installed with (`--processor-image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,

    /// Length of the tumbling window for sales by category and region, in
    /// seconds (default 60).
    #[serde(default = "default_sales_window")]
    #[schemars(range(min = 1, max = 86400))]
    pub sales_window_seconds: i32,

    /// Length of the tumbling window for per-segment metrics, in seconds
    /// (default 120).
    #[serde(default = "default_segment_window")]
    #[schemars(range(min = 1, max = 86400))]
    pub segment_window_seconds: i32,

    /// Length of the tumbling window for hourly sales and top products, in
    /// seconds (default 3600).
    #[serde(default = "default_hourly_window")]
    #[schemars(range(min = 1, max = 86400))]
    pub hourly_window_seconds: i32,

    /// How long after a window's end events may still arrive and be counted,
    /// in seconds (default 10). Later events are counted as late and dropped
    /// from the window's final result.
    #[serde(default = "default_lateness")]
    #[schemars(range(min = 0, max = 3600))]
    pub allowed_lateness_seconds: i32,

    /// Purchases whose final amount (in yen) is strictly above this value are
    /// reported as high-value anomalies (default 50000).
    #[serde(default = "default_anomaly_threshold")]
    #[schemars(range(min = 0.0))]
    pub anomaly_threshold: f64,

    /// An input partition that has been read to its end and has received
    /// no new event for this many seconds stops holding the event-time
    /// watermark back, so windows close without it until its next event
    /// (default 30). Events that then arrive on it with an event time older
    /// than the watermark are counted as late; with uneven keys a quiet
    /// partition delays results by at most this long. 0: never, so one
    /// partition without data stops all windowed results.
    #[serde(default = "default_idle_partition_timeout")]
    #[schemars(range(min = 0, max = 86400))]
    pub idle_partition_timeout_seconds: i32,

    /// Events whose time is more than this many seconds ahead of the Kafka
    /// broker's clock go to the dead-letter topic (reason `event time too
    /// far ahead`) instead of closing windows early (default 300). 0: no
    /// check.
    #[serde(default = "default_max_event_time_skew")]
    #[schemars(range(min = 0, max = 2592000))]
    pub max_event_time_skew_seconds: i32,

    /// CPU and memory requests and limits of each processor container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Scale the processor between `minReplicas` and `maxReplicas` on its
    /// consumer lag instead of running `replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<super::AutoscalingSpec>,
}

impl Default for ProcessorSpec {
    fn default() -> Self {
        Self {
            replicas: 1,
            image: None,
            sales_window_seconds: default_sales_window(),
            segment_window_seconds: default_segment_window(),
            hourly_window_seconds: default_hourly_window(),
            allowed_lateness_seconds: default_lateness(),
            anomaly_threshold: default_anomaly_threshold(),
            idle_partition_timeout_seconds: default_idle_partition_timeout(),
            max_event_time_skew_seconds: default_max_event_time_skew(),
            resources: None,
            autoscaling: None,
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_one() -> i32 {
    1
}
fn default_events_per_second() -> i32 {
    5
}
fn default_sales_window() -> i32 {
    60
}
fn default_segment_window() -> i32 {
    120
}
fn default_hourly_window() -> i32 {
    3600
}
fn default_lateness() -> i32 {
    10
}
fn default_anomaly_threshold() -> f64 {
    50_000.0
}
fn default_idle_partition_timeout() -> i32 {
    30
}
fn default_max_event_time_skew() -> i32 {
    300
}
