//! The mergeable aggregates. Every field is an exact, order-independent
//! quantity (counts, sums in fixed point, sets of user ids), so merging
//! partial aggregates in any order and grouping gives the same result as
//! aggregating all events at once. Money is summed in 128-bit cents:
//! validated amounts are at most 10^14 cents, so no window of any realistic
//! size can overflow a sum (an i64 wrapped after ~92,000 such events); the
//! wire format is unchanged (JSON integers).

use hashbrown::HashSet;
use serde::{Deserialize, Serialize};

use super::user_id::UserId;
use super::window::{to_cents, to_micros};
use crate::event::PurchaseEventView;

/// Serde for the 128-bit sums: a JSON integer as before when it fits an
/// i64 (always, in practice), else a decimal string — JSON readers, and
/// serde's buffering of tagged enums, only keep 64-bit integers exact.
pub(crate) mod wide {
    use serde::Serializer;
    use serde::de::{self, Deserializer, Visitor};

    pub fn serialize<S: Serializer>(value: &i128, s: S) -> Result<S::Ok, S::Error> {
        match i64::try_from(*value) {
            Ok(v) => s.serialize_i64(v),
            Err(_) => s.serialize_str(&value.to_string()),
        }
    }

    struct Wide;

    impl Visitor<'_> for Wide {
        type Value = i128;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer, or one as a decimal string")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
            Ok(i128::from(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
            Ok(i128::from(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i128, E> {
            v.parse().map_err(E::custom)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
        d.deserialize_any(Wide)
    }
}

/// Merging and counting, common to every aggregate.
pub trait Aggregate: Default {
    /// Folds `other` into `self`.
    fn merge(&mut self, other: Self);
    /// How many events the aggregate covers.
    fn events(&self) -> u64;
}

/// Orders, sales and the exact set of customers: the sales (category ×
/// region) and hourly (category) aggregates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct SalesAgg {
    pub order_count: u64,
    #[serde(with = "wide")]
    pub total_cents: i128,
    /// Exact set of distinct user ids (order is irrelevant); a JSON array
    /// of strings on the wire.
    pub users: HashSet<UserId>,
}

impl SalesAgg {
    pub fn add(&mut self, event: &PurchaseEventView<'_>) {
        self.order_count += 1;
        self.total_cents += i128::from(to_cents(event.final_amount));
        // Short ids are stored inline: no allocation, new or not.
        self.users.insert(UserId::new(&event.user_id));
    }
}

impl Aggregate for SalesAgg {
    fn merge(&mut self, other: Self) {
        self.order_count = self.order_count.saturating_add(other.order_count);
        self.total_cents += other.total_cents;
        if self.users.is_empty() {
            self.users = other.users;
        } else {
            self.users.extend(other.users);
        }
    }
    fn events(&self) -> u64 {
        self.order_count
    }
}

/// Per user segment: orders, revenue, discount rates, items.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct SegmentAgg {
    pub orders: u64,
    #[serde(with = "wide")]
    pub revenue_cents: i128,
    /// Sum of `discount_rate`, in millionths.
    #[serde(with = "wide")]
    pub discount_micros: i128,
    pub total_items: u64,
}

impl SegmentAgg {
    pub fn add(&mut self, event: &PurchaseEventView<'_>) {
        self.orders += 1;
        self.revenue_cents += i128::from(to_cents(event.final_amount));
        self.discount_micros += i128::from(to_micros(event.discount_rate));
        self.total_items = self.total_items.saturating_add(u64::from(event.quantity));
    }
}

impl Aggregate for SegmentAgg {
    fn merge(&mut self, other: Self) {
        self.orders = self.orders.saturating_add(other.orders);
        self.revenue_cents += other.revenue_cents;
        self.discount_micros += other.discount_micros;
        self.total_items = self.total_items.saturating_add(other.total_items);
    }
    fn events(&self) -> u64 {
        self.orders
    }
}

/// Per product: quantity, revenue, orders, and its name and category (taken
/// from the event; the smallest name wins if events ever disagree, so the
/// result does not depend on arrival order).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ProductAgg {
    pub product_name: String,
    pub category: String,
    pub total_quantity: u64,
    #[serde(with = "wide")]
    pub revenue_cents: i128,
    pub order_count: u64,
}

impl ProductAgg {
    pub fn add(&mut self, event: &PurchaseEventView<'_>) {
        if self.order_count == 0 {
            self.product_name.clear();
            self.product_name.push_str(&event.product_name);
            self.category.clear();
            self.category.push_str(&event.category);
        } else {
            self.keep_smallest_labels(&event.product_name, &event.category);
        }
        self.order_count += 1;
        self.total_quantity = self
            .total_quantity
            .saturating_add(u64::from(event.quantity));
        self.revenue_cents += i128::from(to_cents(event.final_amount));
    }

    fn keep_smallest_labels(&mut self, name: &str, category: &str) {
        if name < self.product_name.as_str() {
            self.product_name = name.to_owned();
        }
        if category < self.category.as_str() {
            self.category = category.to_owned();
        }
    }
}

impl Aggregate for ProductAgg {
    fn merge(&mut self, other: Self) {
        if self.order_count == 0 {
            self.product_name = other.product_name;
            self.category = other.category;
        } else if other.order_count > 0 {
            self.keep_smallest_labels(&other.product_name, &other.category);
        }
        self.order_count = self.order_count.saturating_add(other.order_count);
        self.total_quantity = self.total_quantity.saturating_add(other.total_quantity);
        self.revenue_cents += other.revenue_cents;
    }
    fn events(&self) -> u64 {
        self.order_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_users_stay_exact_after_merge() {
        let mut a = SalesAgg {
            order_count: 2,
            total_cents: 300,
            users: ["u1", "u2"].into_iter().map(UserId::new).collect(),
        };
        let b = SalesAgg {
            order_count: 2,
            total_cents: 500,
            users: ["u2", "u3"].into_iter().map(UserId::new).collect(),
        };
        a.merge(b);
        assert_eq!(a.order_count, 4);
        assert_eq!(a.total_cents, 800);
        assert_eq!(a.users.len(), 3);
    }

    #[test]
    fn sums_do_not_wrap_and_keep_their_wire_format() {
        // 1e17 yen was enough to wrap an i64 cent total in two events.
        let big = 100_000_000_000_000_i128; // 10^14 cents, the largest valid amount
        let mut total = SegmentAgg::default();
        for _ in 0..200_000 {
            total.merge(SegmentAgg {
                orders: 1,
                revenue_cents: big,
                ..SegmentAgg::default()
            });
        }
        assert_eq!(total.revenue_cents, big * 200_000);
        let json = serde_json::to_string(&total).expect("serialises");
        assert!(
            json.contains("\"revenue_cents\":\"20000000000000000000\""),
            "{json}"
        );
        let back: SegmentAgg = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, total);
        // What older versions wrote still reads.
        let old: SalesAgg =
            serde_json::from_str(r#"{"order_count":2,"total_cents":300,"users":["u1"]}"#)
                .expect("parses");
        assert_eq!(old.total_cents, 300);
    }
}
