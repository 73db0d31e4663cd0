//! The dashboard's data, assembled from what Redis returned: pure, so the
//! JSON API's shape is unit-tested without Redis.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// What the reader fetched, raw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Raw {
    /// The latest hourly window's label, and its categories' and top
    /// products' stored values in ranking order (`None`: expired key).
    pub hour: Option<String>,
    pub hourly: Vec<Option<String>>,
    pub top_products: Vec<Option<String>>,
    /// The latest sales windows (label, fields of the hash), any order.
    pub sales: Vec<(String, Vec<(String, String)>)>,
    /// The latest segments window.
    pub segments: Option<(String, Vec<(String, String)>)>,
    /// The latest anomalies, newest first.
    pub anomalies: Vec<String>,
}

fn parsed(values: impl IntoIterator<Item = String>) -> Vec<Value> {
    values
        .into_iter()
        // A value that is not JSON was not written by us: left out.
        .filter_map(|text| serde_json::from_str(&text).ok())
        .collect()
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn number(record: &Value, field: &str) -> f64 {
    record.get(field).and_then(Value::as_f64).unwrap_or(0.0)
}

/// One sales window: totals, and sales by category and by region.
fn sales_window(label: String, fields: Vec<(String, String)>) -> Value {
    let mut by_category: BTreeMap<String, f64> = BTreeMap::new();
    let mut by_region: BTreeMap<String, f64> = BTreeMap::new();
    let (mut total, mut orders) = (0.0, 0u64);
    for record in parsed(fields.into_iter().map(|(_, value)| value)) {
        let sales = number(&record, "total_sales");
        let text = |field| {
            record
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        *by_category.entry(text("category")).or_default() += sales;
        *by_region.entry(text("region")).or_default() += sales;
        total += sales;
        orders += record
            .get("order_count")
            .and_then(Value::as_u64)
            .unwrap_or(0);
    }
    let rounded = |map: BTreeMap<String, f64>| -> Map<String, Value> {
        map.into_iter()
            .map(|(k, v)| (k, json!(round2(v))))
            .collect()
    };
    json!({
        "window": label,
        "total_sales": round2(total),
        "order_count": orders,
        "by_category": rounded(by_category),
        "by_region": rounded(by_region),
    })
}

pub fn assemble(raw: Raw) -> Value {
    let mut sales = raw.sales;
    sales.sort_by(|a, b| a.0.cmp(&b.0));
    let sales: Vec<Value> = sales
        .into_iter()
        .map(|(label, fields)| sales_window(label, fields))
        .collect();
    let segments = raw.segments.map(|(label, fields)| {
        let mut records = parsed(fields.into_iter().map(|(_, value)| value));
        records.sort_by(|a, b| number(b, "revenue").total_cmp(&number(a, "revenue")));
        json!({ "window": label, "segments": records })
    });
    json!({
        "hourly": {
            "hour": raw.hour,
            "categories": parsed(raw.hourly.into_iter().flatten()),
        },
        "top_products": {
            "hour": raw.hour,
            "products": parsed(raw.top_products.into_iter().flatten()),
        },
        "sales_per_minute": sales,
        "segments": segments,
        "anomalies": parsed(raw.anomalies),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(category: &str, region: &str, total: f64, orders: u64) -> (String, String) {
        (
            format!("{category}|{region}"),
            json!({"category": category, "region": region, "total_sales": total, "order_count": orders})
                .to_string(),
        )
    }

    #[test]
    fn windows_are_summed_by_category_and_region_in_time_order() {
        let raw = Raw {
            hour: Some("2025-08-12 10:00:00".into()),
            hourly: vec![
                Some(r#"{"category": "food", "total_sales": 2.5}"#.into()),
                None,
            ],
            top_products: vec![Some(r#"{"product_id": 5, "revenue_rank": 1}"#.into())],
            sales: vec![
                (
                    "2025-08-12 10:02:00".into(),
                    vec![sale("food", "Tokyo", 1.1, 1)],
                ),
                (
                    "2025-08-12 10:01:00".into(),
                    vec![
                        sale("food", "Tokyo", 0.1, 1),
                        sale("food", "Osaka", 0.2, 2),
                        sale("books", "Osaka", 3.0, 1),
                    ],
                ),
            ],
            segments: Some((
                "2025-08-12 10:00:00".into(),
                vec![
                    (
                        "new".into(),
                        r#"{"user_segment":"new","revenue":1.0}"#.into(),
                    ),
                    (
                        "vip".into(),
                        r#"{"user_segment":"vip","revenue":9.0}"#.into(),
                    ),
                ],
            )),
            anomalies: vec![r#"{"event_id":"e2"}"#.into(), "not json".into()],
        };
        let got = assemble(raw);
        assert_eq!(
            got["sales_per_minute"],
            json!([
                {"window": "2025-08-12 10:01:00", "total_sales": 3.3, "order_count": 4,
                 "by_category": {"books": 3.0, "food": 0.3}, "by_region": {"Osaka": 3.2, "Tokyo": 0.1}},
                {"window": "2025-08-12 10:02:00", "total_sales": 1.1, "order_count": 1,
                 "by_category": {"food": 1.1}, "by_region": {"Tokyo": 1.1}},
            ])
        );
        assert_eq!(
            got["hourly"]["categories"],
            json!([{"category": "food", "total_sales": 2.5}])
        );
        assert_eq!(got["top_products"]["products"][0]["product_id"], 5);
        assert_eq!(got["segments"]["segments"][0]["user_segment"], "vip");
        assert_eq!(got["anomalies"], json!([{"event_id": "e2"}]));
    }

    #[test]
    fn an_empty_redis_is_an_empty_dashboard() {
        let got = assemble(Raw::default());
        assert_eq!(got["hourly"]["hour"], Value::Null);
        assert_eq!(got["sales_per_minute"], json!([]));
        assert_eq!(got["segments"], Value::Null);
    }
}
