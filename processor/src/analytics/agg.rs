//! The mergeable aggregates. Every field is an exact, order-independent
//! quantity (counts, sums in fixed point, sets of user ids), so merging
//! partial aggregates in any order and grouping gives the same result as
//! aggregating all events at once.

use hashbrown::HashSet;
use serde::{Deserialize, Serialize};

use super::user_id::UserId;
use super::window::{to_cents, to_micros};
use crate::event::PurchaseEventView;

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
    pub total_cents: i64,
    /// Exact set of distinct user ids (order is irrelevant); a JSON array
    /// of strings on the wire.
    pub users: HashSet<UserId>,
}

impl SalesAgg {
    pub fn add(&mut self, event: &PurchaseEventView<'_>) {
        self.order_count += 1;
        self.total_cents += to_cents(event.final_amount);
        // Short ids are stored inline: no allocation, new or not.
        self.users.insert(UserId::new(&event.user_id));
    }
}

impl Aggregate for SalesAgg {
    fn merge(&mut self, other: Self) {
        self.order_count += other.order_count;
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
    pub revenue_cents: i64,
    /// Sum of `discount_rate`, in millionths.
    pub discount_micros: i64,
    pub total_items: u64,
}

impl SegmentAgg {
    pub fn add(&mut self, event: &PurchaseEventView<'_>) {
        self.orders += 1;
        self.revenue_cents += to_cents(event.final_amount);
        self.discount_micros += to_micros(event.discount_rate);
        self.total_items += u64::from(event.quantity);
    }
}

impl Aggregate for SegmentAgg {
    fn merge(&mut self, other: Self) {
        self.orders += other.orders;
        self.revenue_cents += other.revenue_cents;
        self.discount_micros += other.discount_micros;
        self.total_items += other.total_items;
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
    pub revenue_cents: i64,
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
        self.total_quantity += u64::from(event.quantity);
        self.revenue_cents += to_cents(event.final_amount);
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
        self.order_count += other.order_count;
        self.total_quantity += other.total_quantity;
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
}
