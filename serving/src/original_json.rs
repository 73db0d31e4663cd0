//! Values as the original's dashboard aggregator wrote them: seed document,
//! 監視とアラート機能 › 2. ダッシュボード用集約処理, `save_to_redis`:
//!
//! ```python
//! value = json.dumps(row.asDict(), default=str)
//! self.redis_client.setex(key, 7200, value)  # 2時間TTL
//! ```
//!
//! `row.asDict()` keeps the query's column order; `window` is a struct,
//! i.e. a `Row` (a tuple), which `json.dumps` writes as a list, and its two
//! datetimes go through `default=str`. `json.dumps` uses `", "` and `": "`,
//! escapes every non-ASCII character (`ensure_ascii`) and writes floats as
//! Python's `repr`. A reader of the original's keys parses ours with the
//! same code and gets the same dict, with exact totals where the original
//! had sums of doubles (`161640.00000000003`).

use purchase_event::product_id::ProductId;
use purchase_event::python_json::{push_float, push_str};

use crate::records::{Hourly, TopProduct};
use crate::time::python_str;

/// A Python dict literal as `json.dumps` writes it, built in column order.
struct PyDict {
    out: String,
}

impl PyDict {
    fn new() -> PyDict {
        PyDict {
            out: String::from("{"),
        }
    }

    fn key(&mut self, name: &str) -> &mut String {
        if self.out.len() > 1 {
            self.out.push_str(", ");
        }
        push_str(&mut self.out, name);
        self.out.push_str(": ");
        &mut self.out
    }

    fn str(&mut self, name: &str, value: &str) -> &mut PyDict {
        push_str(self.key(name), value);
        self
    }

    fn float(&mut self, name: &str, value: f64) -> &mut PyDict {
        push_float(self.key(name), value);
        self
    }

    fn int(&mut self, name: &str, value: impl std::fmt::Display) -> &mut PyDict {
        let out = self.key(name);
        out.push_str(&value.to_string());
        self
    }

    /// The `window` struct: `["start", "end"]` (Python's `str(datetime)`).
    fn window(&mut self, start: &str, end: &str) -> &mut PyDict {
        let out = self.key("window");
        out.push('[');
        push_str(out, start);
        out.push_str(", ");
        push_str(out, end);
        out.push(']');
        self
    }

    fn finish(&mut self) -> String {
        self.out.push('}');
        std::mem::take(&mut self.out)
    }
}

/// A row of `aggregate_hourly_sales`: `window`, `category`, `total_sales`,
/// `order_count`, `avg_order_value`, `unique_customers`, `hour`.
pub fn hourly(row: &Hourly) -> String {
    PyDict::new()
        .window(&python_str(&row.window_start), &python_str(&row.window_end))
        .str("category", &row.category)
        .float("total_sales", row.total_sales)
        .int("order_count", row.order_count)
        .float("avg_order_value", row.avg_order_value)
        .int("unique_customers", row.unique_customers)
        .str("hour", &row.hour)
        .finish()
}

/// A row of `aggregate_top_products`: `window`, `product_id`,
/// `product_name`, `category`, `total_quantity`, `total_revenue`,
/// `order_count`, `revenue_rank`. `product_id` keeps its JSON type (the
/// original's `IntegerType` read string ids as null; ours stay strings).
pub fn top_product(row: &TopProduct) -> String {
    let mut dict = PyDict::new();
    dict.window(&python_str(&row.window_start), &python_str(&row.window_end));
    match &row.product_id {
        ProductId::Integer(id) => dict.int("product_id", id),
        ProductId::Text(id) => dict.str("product_id", id),
    };
    dict.str("product_name", &row.product_name)
        .str("category", &row.category)
        .int("total_quantity", row.total_quantity)
        .float("total_revenue", row.total_revenue)
        .int("order_count", row.order_count)
        .int("revenue_rank", row.revenue_rank)
        .finish()
}
