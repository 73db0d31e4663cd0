//! The records of the internal partials topic, between stage 1
//! (pre-aggregate) and stage 2 (merge + finalize).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::agg::{ProductAgg, SalesAgg, SegmentAgg};
use super::window::Millis;

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
    /// Any segment string (a JSON string on the wire, as when this was
    /// an enum of three: old and new partials read alike).
    Segments {
        user_segment: String,
        agg: SegmentAgg,
    },
    Hourly {
        category: String,
        agg: SalesAgg,
    },
    /// All products of the window in one record: the rank needs them together,
    /// so top products are partitioned by window only. String ids in
    /// `products` (the only field before integer ids were accepted, so
    /// partials written by an older version read as they were meant);
    /// integer ids in `integer_products` (`[[id, aggregate], …]`: JSON
    /// object keys would be strings), omitted when empty, so a partial
    /// without integer ids is byte-identical to the old form.
    TopProducts {
        products: BTreeMap<String, ProductAgg>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty", with = "id_pairs")]
        integer_products: BTreeMap<i64, ProductAgg>,
    },
}

/// A map with integer keys as a list of `[key, value]` pairs. serde_json
/// writes integer map keys as strings, which the buffering that internally
/// tagged enums (this one) go through cannot read back as integers.
mod id_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::ProductAgg;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<i64, ProductAgg>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<i64, ProductAgg>, D::Error> {
        let pairs = Vec::<(i64, ProductAgg)>::deserialize(deserializer)?;
        Ok(pairs.into_iter().collect())
    }
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
                format!("{kind}|{}|{user_segment}", self.window_start)
            }
            PartialBody::Hourly { category, .. } => {
                format!("{kind}|{}|{category}", self.window_start)
            }
            PartialBody::TopProducts { .. } => format!("{kind}|{}", self.window_start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Partials as the version before integer product ids wrote them: a
    /// new stage 2 reads them as they were meant (rolling upgrades).
    #[test]
    fn partials_of_the_previous_version_read_unchanged() {
        let agg = r#"{"product_name":"Pen","category":"office","total_quantity":2,"revenue_cents":500,"order_count":1}"#;
        let old = format!(
            r#"{{"type":"partial","window_start":0,"input_partition":1,"watermark":5,"body":{{"kind":"top_products","products":{{"P1":{agg}}}}}}}"#
        );
        let record: PartialsRecord = serde_json::from_str(&old).expect("old form reads");
        let PartialsRecord::Partial(partial) = &record else {
            panic!("a partial");
        };
        let PartialBody::TopProducts {
            products,
            integer_products,
        } = &partial.body
        else {
            panic!("top products");
        };
        assert_eq!(products["P1"].revenue_cents, 500);
        assert!(integer_products.is_empty());
        // Without integer ids the new form is the old form, byte for byte.
        assert_eq!(serde_json::to_string(&record).expect("serialises"), old);

        let segment = r#"{"type":"partial","window_start":0,"input_partition":0,"watermark":0,"body":{"kind":"segments","user_segment":"premium","agg":{"orders":1,"revenue_cents":100,"discount_micros":0,"total_items":1}}}"#;
        let record: PartialsRecord = serde_json::from_str(segment).expect("old form reads");
        assert_eq!(serde_json::to_string(&record).expect("serialises"), segment);
    }

    #[test]
    fn integer_ids_travel_next_to_string_ids() {
        let body = PartialBody::TopProducts {
            products: BTreeMap::from([("5".to_owned(), ProductAgg::default())]),
            integer_products: BTreeMap::from([(5, ProductAgg::default())]),
        };
        let json = serde_json::to_string(&body).expect("serialises");
        assert!(json.contains(r#""integer_products":[[5,{"#), "{json}");
        let back: PartialBody = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, body);
    }
}
