//! The records of the internal partials topic, between stage 1
//! (pre-aggregate) and stage 2 (merge + finalize).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::agg::{ProductAgg, SalesAgg, SegmentAgg};
use super::window::Millis;
use crate::event::UserSegment;

/// The aggregate kinds, one per windowed output.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Sales,
    Segments,
    Hourly,
    TopProducts,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Sales, Kind::Segments, Kind::Hourly, Kind::TopProducts];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sales => "sales",
            Kind::Segments => "segments",
            Kind::Hourly => "hourly",
            Kind::TopProducts => "top_products",
        }
    }
}

/// One record of the partials topic.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PartialsRecord {
    Partial(Partial),
    /// "Input partition `input_partition` has seen event times up to
    /// `watermark`": written to every partials partition after the partials
    /// of the same flush.
    Watermark {
        input_partition: i32,
        watermark: Millis,
    },
}

/// A partial aggregate of one input partition's events of one flush, for
/// one (kind, window, group).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Partial {
    pub window_start: Millis,
    pub input_partition: i32,
    /// The input partition's largest event time when this was written
    /// (informational; stage 2 advances watermarks from markers only).
    pub watermark: Millis,
    pub body: PartialBody,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PartialBody {
    Sales {
        category: String,
        region: String,
        agg: SalesAgg,
    },
    Segments {
        user_segment: UserSegment,
        agg: SegmentAgg,
    },
    Hourly {
        category: String,
        agg: SalesAgg,
    },
    /// All products of the window in one record: the rank needs them together,
    /// so top products are partitioned by window only.
    TopProducts {
        products: BTreeMap<String, ProductAgg>,
    },
}

impl PartialBody {
    pub fn kind(&self) -> Kind {
        match self {
            PartialBody::Sales { .. } => Kind::Sales,
            PartialBody::Segments { .. } => Kind::Segments,
            PartialBody::Hourly { .. } => Kind::Hourly,
            PartialBody::TopProducts { .. } => Kind::TopProducts,
        }
    }
}

impl Partial {
    /// Record key on the partials topic: (kind, window start, group), so all
    /// partials of one result land on one partials partition.
    pub fn key(&self) -> String {
        let kind = self.body.kind().as_str();
        match &self.body {
            PartialBody::Sales {
                category, region, ..
            } => format!("{kind}|{}|{category}|{region}", self.window_start),
            PartialBody::Segments { user_segment, .. } => {
                format!("{kind}|{}|{}", self.window_start, user_segment.as_str())
            }
            PartialBody::Hourly { category, .. } => {
                format!("{kind}|{}|{category}", self.window_start)
            }
            PartialBody::TopProducts { .. } => format!("{kind}|{}", self.window_start),
        }
    }
}
