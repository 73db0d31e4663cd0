use std::collections::BTreeMap;

use super::*;
use crate::analytics::preagg::parse_event;

fn event(id: &str, user: &str, ts: &str, amount: f64, quantity: u32, rate: f64) -> String {
    format!(
        r#"{{"event_id":"{id}","timestamp":"{ts}","user_id":"{user}","user_segment":"regular",
        "product_id":"P1","product_name":"Pen","category":"office","quantity":{quantity},
        "unit_price":1.0,"base_amount":1.0,"discount_rate":{rate},"discount_amount":0.0,
        "final_amount":{amount},"region":"Tokyo","device":"web","payment_method":"card"}}"#
    )
}

fn agg_of(events: &[String]) -> UserAgg {
    let mut agg = UserAgg::default();
    for e in events {
        agg.add(&parse_event(Some(e.as_bytes())).expect("valid"));
    }
    agg
}

fn window(end: Millis, users: Vec<(&str, UserAgg)>) -> Window<String, UserAgg> {
    Window {
        start: end - 60_000,
        end,
        groups: users
            .into_iter()
            .map(|(u, a)| (u.to_owned(), a))
            .collect::<BTreeMap<_, _>>(),
        first_offset: 0,
        bytes: 0,
    }
}

const T0: Millis = 1_755_338_400_000; // 2025-08-16T10:00:00Z, a Saturday

#[test]
fn merging_in_any_order_gives_the_same_aggregate() {
    let a = event("e1", "u", "2025-08-16T10:00:01Z", 100.10, 1, 0.0);
    let b = event("e2", "u", "2025-08-16T10:00:30Z", 2000.0, 4, 0.08);
    let c = event("e3", "u", "2025-08-16T10:00:30Z", 5.0, 1, 0.2);
    let all = agg_of(&[a.clone(), b.clone(), c.clone()]);
    let mut split = agg_of(&[c]);
    split.merge(agg_of(&[b, a]));
    assert_eq!(all, split);
    assert_eq!(all.orders, 3);
    assert_eq!(all.monetary_cents, 210_510);
    assert_eq!(all.first_ms, T0 + 1_000);
    // Equal times: the larger event id is the latest, whatever the order.
    assert_eq!(all.last.as_ref().map(|l| l.event_id.as_str()), Some("e3"));
}

#[test]
fn a_replayed_window_is_not_added_twice() {
    let mut histories = Histories::default();
    let w1 = agg_of(&[event("e1", "u", "2025-08-16T10:00:01Z", 10.0, 1, 0.0)]);
    let w2 = agg_of(&[event("e2", "u", "2025-08-16T10:01:01Z", 20.0, 2, 0.06)]);
    let out = histories.absorb(vec![window(T0 + 60_000, vec![("u", w1.clone())])]);
    assert_eq!(out.len(), 1);
    let out = histories.absorb(vec![window(T0 + 120_000, vec![("u", w2.clone())])]);
    let written = out[0].value.clone();
    // A restart reads the last record back and replays both windows.
    let record: HistoryRecord = serde_json::from_str(&written).unwrap();
    let mut restarted = Histories::default();
    restarted.learn("u".into(), record.history().unwrap());
    let replayed = restarted.absorb(vec![
        window(T0 + 60_000, vec![("u", w1.clone())]),
        window(T0 + 120_000, vec![("u", w2.clone())]),
    ]);
    assert!(replayed.is_empty(), "{replayed:?}");
    assert_eq!(restarted.get("u"), histories.get("u"));
    // A restart whose last record was lost with the crash adds it again,
    // and writes the same bytes.
    let mut behind = Histories::default();
    let first: HistoryRecord = serde_json::from_str(
        &Histories::default().absorb(vec![window(T0 + 60_000, vec![("u", w1.clone())])])[0].value,
    )
    .unwrap();
    behind.learn("u".into(), first.history().unwrap());
    let again = behind.absorb(vec![
        window(T0 + 60_000, vec![("u", w1)]),
        window(T0 + 120_000, vec![("u", w2)]),
    ]);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].value, written);
}

#[test]
fn a_stale_record_never_replaces_a_newer_history() {
    let mut histories = Histories::default();
    let newer = History {
        agg: agg_of(&[event("e1", "u", "2025-08-16T10:00:01Z", 10.0, 1, 0.0)]),
        through: T0 + 120_000,
    };
    histories.learn("u".into(), newer.clone());
    let mut older = newer.clone();
    older.through = T0 + 60_000;
    older.agg.orders = 99;
    histories.learn("u".into(), older);
    assert_eq!(histories.get("u"), Some(&newer));
}

/// The record's exact bytes: RFM inputs, the latest purchase and the
/// original's features of it.
#[test]
fn history_record_golden() {
    let mut histories = Histories::default();
    let w1 = agg_of(&[
        event("e1", "user_1", "2025-08-16T10:00:01.250Z", 80820.0, 2, 0.1),
        event("e0", "user_1", "2025-08-16T10:00:00Z", 1140.1, 3, 0.100001),
    ]);
    let out = histories.absorb(vec![window(T0 + 60_000, vec![("user_1", w1)])]);
    assert_eq!(out[0].key, "user_1");
    assert_eq!(
        out[0].value,
        r#"{"user_id":"user_1","user_segment":"regular","orders":2,"monetary":81960.1,"monetary_cents":8196010,"first_purchase":"2025-08-16T10:00:00Z","last_purchase":"2025-08-16T10:00:01.250Z","as_of":"2025-08-16T10:01:00Z","last_event":{"event_id":"e1","timestamp":"2025-08-16T10:00:01.250Z","final_amount":80820.0,"quantity":2,"discount_rate":0.1},"features":{"hour":10,"day_of_week":7,"is_weekend":1,"price_per_quantity":40410.0,"discount_category":"medium"}}"#
    );
    let record: HistoryRecord = serde_json::from_str(&out[0].value).unwrap();
    assert_eq!(record.history().as_ref(), histories.get("user_1"));
}

#[test]
fn features_as_the_original_computes_them() {
    let f = |ts: &str, amount: f64, quantity: u32, rate: f64| {
        let agg = agg_of(&[event("e", "u", ts, amount, quantity, rate)]);
        Features::of(agg.last.as_ref().unwrap())
    };
    // Sunday 00:00 UTC.
    let sunday = f("2025-08-17T00:00:00Z", 100.0, 3, 0.05);
    assert_eq!(
        (sunday.hour, sunday.day_of_week, sunday.is_weekend),
        (0, 1, 1)
    );
    assert_eq!(sunday.price_per_quantity, Some(33.33));
    assert_eq!(sunday.discount_category, "low");
    // Monday 23:59 in +09:00 is Monday 14:59 UTC.
    let monday = f("2025-08-18T23:59:00+09:00", 10.0, 4, 0.051);
    assert_eq!(
        (monday.hour, monday.day_of_week, monday.is_weekend),
        (14, 2, 0)
    );
    assert_eq!(monday.price_per_quantity, Some(2.5));
    assert_eq!(monday.discount_category, "medium");
    assert_eq!(
        f("2025-08-18T10:00:00Z", 1.0, 1, 0.1).discount_category,
        "medium"
    );
    assert_eq!(
        f("2025-08-18T10:00:00Z", 1.0, 1, 0.11).discount_category,
        "high"
    );
}
