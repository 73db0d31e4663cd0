//! The records of the internal partials topic, between stage 1
//! (pre-aggregate) and stage 2 (merge + finalize).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::agg::{ProductAgg, SalesAgg, SegmentAgg};
use super::alert_counts::AlertCounts;
use super::user_history::UserAgg;
use super::window::Millis;

/// The aggregate kinds, one per windowed output.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Sales,
    Segments,
    Hourly,
    TopProducts,
    /// Per-user purchases of a user window (`user_history.rs`).
    Users,
    /// Dead letters and high-value anomalies of an alert window
    /// (`alert_counts.rs`): judged by stage 2, not an output of its own.
    Alerts,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Sales,
        Kind::Segments,
        Kind::Hourly,
        Kind::TopProducts,
        Kind::Users,
        Kind::Alerts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sales => "sales",
            Kind::Segments => "segments",
            Kind::Hourly => "hourly",
            Kind::TopProducts => "top_products",
            Kind::Users => "user_history",
            Kind::Alerts => "alerts",
        }
    }
}

/// One record of the partials topic. Readers skip records they cannot
/// read (with a warning), so new record types can be added.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PartialsRecord {
    Partial(Partial),
    /// "Input partition `input_partition` has seen event times up to
    /// `watermark`": one input partition's marker (written by versions
    /// before [`PartialsRecord::Watermarks`]; still read).
    Watermark {
        input_partition: i32,
        watermark: Millis,
    },
    /// The markers of one flush: (input partition, largest event time)
    /// pairs, written to every routing partition after the partials of the
    /// same flush (one record instead of one per input partition), and the
    /// input partitions stage 1 found idle (`idleness.rs`).
    Watermarks {
        watermarks: Vec<(i32, Millis)>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        idle: Vec<i32>,
    },
}

/// Target size of one partials record's JSON. Far below the broker's
/// default limit of 1 MB: a batch's user set of one group, or the products
/// of one window, is spread over several partials of the same key (stage 2
/// merges them like any other partials of that key).
pub const PARTIAL_BUDGET_BYTES: usize = 256 * 1024;

/// `partial` as one or more partials-topic records (JSON) of at most
/// `budget` bytes each: an aggregate too large for one is split — user
/// ids, or products, spread over several partials, the counts and sums in
/// the first — which merges to the same result. A single user id or
/// product is never split (text fields are bounded by input validation).
pub fn encode_partial(partial: Partial, budget: usize) -> Result<Vec<String>, serde_json::Error> {
    let mut out = Vec::new();
    let mut todo = vec![partial];
    while let Some(partial) = todo.pop() {
        let record = PartialsRecord::Partial(partial);
        let json = serde_json::to_string(&record)?;
        let PartialsRecord::Partial(partial) = record else {
            continue;
        };
        if json.len() <= budget {
            out.push(json);
            continue;
        }
        match partial.halve() {
            Some((a, b)) => {
                // Depth first, first half first: the output order is stable.
                todo.push(b);
                todo.push(a);
            }
            // Cannot be split further: written as it is.
            None => out.push(json),
        }
    }
    Ok(out)
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
    /// One user's purchases in a user window; routed by the user alone,
    /// so all of a user's windows meet on one partials partition.
    Users {
        user_id: String,
        agg: UserAgg,
    },
    /// One input partition's alert counts of an alert window. A stage 2
    /// of an older version cannot read it and skips it with a warning.
    Alerts {
        counts: AlertCounts,
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
            PartialBody::Users { .. } => Kind::Users,
            PartialBody::Alerts { .. } => Kind::Alerts,
        }
    }
}

impl Partial {
    /// Splits in two partials that merge to this one; `None` if it cannot
    /// be split (one element, or no set to split).
    fn halve(self) -> Option<(Partial, Partial)> {
        let Partial {
            window_start,
            input_partition,
            watermark,
            body,
        } = self;
        let part = |body| Partial {
            window_start,
            input_partition,
            watermark,
            body,
        };
        fn split_users(agg: SalesAgg) -> Option<(SalesAgg, SalesAgg)> {
            if agg.users.len() < 2 {
                return None;
            }
            let mut users: Vec<_> = agg.users.into_iter().collect();
            users.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
            let rest = users.split_off(users.len() / 2);
            let first = SalesAgg {
                order_count: agg.order_count,
                total_cents: agg.total_cents,
                users: users.into_iter().collect(),
            };
            let second = SalesAgg {
                users: rest.into_iter().collect(),
                ..SalesAgg::default()
            };
            Some((first, second))
        }
        match body {
            PartialBody::Sales {
                category,
                region,
                agg,
            } => {
                let (a, b) = split_users(agg)?;
                Some((
                    part(PartialBody::Sales {
                        category: category.clone(),
                        region: region.clone(),
                        agg: a,
                    }),
                    part(PartialBody::Sales {
                        category,
                        region,
                        agg: b,
                    }),
                ))
            }
            PartialBody::Hourly { category, agg } => {
                let (a, b) = split_users(agg)?;
                Some((
                    part(PartialBody::Hourly {
                        category: category.clone(),
                        agg: a,
                    }),
                    part(PartialBody::Hourly { category, agg: b }),
                ))
            }
            PartialBody::TopProducts {
                mut products,
                mut integer_products,
            } => {
                // String ids and integer ids apart first, then the larger
                // map in the middle: either way each product stays whole.
                let (rest, integer_rest) = if !products.is_empty() && !integer_products.is_empty() {
                    (std::mem::take(&mut products), BTreeMap::new())
                } else if products.len() >= 2 {
                    let middle = products.keys().nth(products.len() / 2).cloned()?;
                    (products.split_off(&middle), BTreeMap::new())
                } else if integer_products.len() >= 2 {
                    let middle = *integer_products.keys().nth(integer_products.len() / 2)?;
                    (BTreeMap::new(), integer_products.split_off(&middle))
                } else {
                    return None;
                };
                Some((
                    part(PartialBody::TopProducts {
                        products,
                        integer_products,
                    }),
                    part(PartialBody::TopProducts {
                        products: rest,
                        integer_products: integer_rest,
                    }),
                ))
            }
            _ => None,
        }
    }

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
            // No window: the user's windows must share a partials partition.
            PartialBody::Users { user_id, .. } => format!("{kind}|{user_id}"),
            PartialBody::Alerts { .. } => format!("{kind}|{}", self.window_start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::agg::Aggregate;
    use crate::analytics::user_id::UserId;

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

    fn decode(json: &str) -> Partial {
        match serde_json::from_str::<PartialsRecord>(json).expect("parses") {
            PartialsRecord::Partial(p) => p,
            other => panic!("not a partial: {other:?}"),
        }
    }

    #[test]
    fn large_user_sets_are_split_and_merge_back() {
        let agg = SalesAgg {
            order_count: 30_000,
            // Beyond an i64, as a sum of many large valid amounts can be.
            total_cents: i128::from(i64::MAX) * 3,
            users: (0..30_000)
                .map(|i| UserId::new(&format!("user_{i}")))
                .collect(),
        };
        let partial = Partial {
            window_start: 0,
            input_partition: 1,
            watermark: 5,
            body: PartialBody::Hourly {
                category: "books".into(),
                agg: agg.clone(),
            },
        };
        let records = encode_partial(partial.clone(), 64 * 1024).expect("encodes");
        assert!(records.len() >= 4, "{}", records.len());
        let mut merged = SalesAgg::default();
        for json in &records {
            assert!(json.len() <= 64 * 1024, "{}", json.len());
            let p = decode(json);
            assert_eq!(p.key(), partial.key());
            let PartialBody::Hourly { agg, .. } = p.body else {
                panic!("kind changed")
            };
            merged.merge(agg);
        }
        assert_eq!(merged, agg);
        assert_eq!(merged.events(), 30_000, "counted once");
    }

    #[test]
    fn a_large_catalogue_is_split_by_product() {
        let agg = |i: i64| ProductAgg {
            product_name: format!("Product number {i} with a long descriptive name"),
            category: "electronics".into(),
            total_quantity: 3,
            revenue_cents: 1_000 + i128::from(i),
            order_count: 1,
        };
        // String and integer ids (the original producer's) alike.
        let products: BTreeMap<String, ProductAgg> =
            (0..7_000).map(|i| (format!("P{i:05}"), agg(i))).collect();
        let integer_products: BTreeMap<i64, ProductAgg> = (0..7_000).map(|i| (i, agg(i))).collect();
        let partial = Partial {
            window_start: 3_600_000,
            input_partition: 0,
            watermark: 0,
            body: PartialBody::TopProducts {
                products: products.clone(),
                integer_products: integer_products.clone(),
            },
        };
        let records = encode_partial(partial, PARTIAL_BUDGET_BYTES).expect("encodes");
        assert!(records.len() >= 2);
        let mut seen = BTreeMap::new();
        let mut seen_integers = BTreeMap::new();
        for json in &records {
            assert!(json.len() <= PARTIAL_BUDGET_BYTES);
            let PartialBody::TopProducts {
                products,
                integer_products,
            } = decode(json).body
            else {
                panic!("kind changed")
            };
            seen.extend(products);
            seen_integers.extend(integer_products);
        }
        assert_eq!(seen, products);
        assert_eq!(seen_integers, integer_products);
    }

    #[test]
    fn small_partials_stay_whole() {
        let partial = Partial {
            window_start: 0,
            input_partition: 0,
            watermark: 0,
            body: PartialBody::Segments {
                user_segment: "new".into(),
                agg: SegmentAgg::default(),
            },
        };
        let records = encode_partial(partial.clone(), 10).expect("encodes");
        assert_eq!(records.len(), 1, "cannot be split: written as it is");
        assert_eq!(decode(&records[0]), partial);
    }

    #[test]
    fn multi_partition_markers_round_trip() {
        let record = PartialsRecord::Watermarks {
            watermarks: vec![(0, 5), (7, 9)],
            idle: vec![],
        };
        let json = serde_json::to_string(&record).expect("serialises");
        assert_eq!(json, r#"{"type":"watermarks","watermarks":[[0,5],[7,9]]}"#);
        assert_eq!(
            serde_json::from_str::<PartialsRecord>(&json).expect("parses"),
            record
        );
        let idle = r#"{"type":"watermarks","watermarks":[],"idle":[2]}"#;
        let record = serde_json::from_str::<PartialsRecord>(idle).expect("parses");
        assert_eq!(
            record,
            PartialsRecord::Watermarks {
                watermarks: vec![],
                idle: vec![2]
            }
        );
    }
}
