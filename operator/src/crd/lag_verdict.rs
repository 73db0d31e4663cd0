use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a consumer group keeps up with its topic over the operator's lag
/// window (`--lag-window`), judged the way Burrow judges it, from the
/// committed offsets and the lag the operator samples every refresh.
/// Ordered from healthy to worst.
#[derive(
    JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum LagVerdict {
    /// Caught up at some point in the window, or the lag is not growing.
    Ok,
    /// The group commits, but its lag grew over the whole window: it
    /// consumes slower than records arrive.
    Warn,
    /// Records wait, and the committed offset did not move for the whole
    /// window although the group has active members: a consumer is stuck.
    Stall,
    /// Records wait, and nothing committed for the whole window because
    /// the group has no active member: the consumer is stopped.
    Stop,
}

impl LagVerdict {
    /// Every verdict, from best to worst.
    pub const ALL: [LagVerdict; 4] = [
        LagVerdict::Ok,
        LagVerdict::Warn,
        LagVerdict::Stall,
        LagVerdict::Stop,
    ];

    /// As shown in the status and in Events: `OK`, `WARN`, `STALL`, `STOP`.
    pub fn as_str(self) -> &'static str {
        match self {
            LagVerdict::Ok => "OK",
            LagVerdict::Warn => "WARN",
            LagVerdict::Stall => "STALL",
            LagVerdict::Stop => "STOP",
        }
    }
}

/// The verdict on one consumer group of the processor.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GroupLagVerdict {
    /// Kafka consumer group id: the processor's group (on the input topic)
    /// or its merge stage's `<group>-merge` (on the partials topic).
    pub group: String,
    /// The topic whose lag is judged.
    pub topic: String,
    /// The worst verdict over the group's partitions.
    pub verdict: LagVerdict,
    /// Why, in a sentence.
    pub reason: String,
    /// The partitions whose verdict is not `OK` (at most 16 listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["partition"]))]
    pub partitions: Vec<PartitionLagVerdict>,
    /// When the group got this verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Time>,
}

/// The verdict on one partition of a consumer group.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PartitionLagVerdict {
    /// Partition number.
    pub partition: i32,
    pub verdict: LagVerdict,
    /// Records waiting on the partition at the last sample.
    pub lag: i64,
}
