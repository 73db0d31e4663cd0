//! Builds event number `n` of a run: a pure function of the run seed and `n`
//! (plus the wall clock when event time is not simulated), so any number of
//! producer tasks can build disjoint sequence numbers and a seeded run is
//! reproduced exactly.

use std::borrow::Cow;

use chrono::TimeDelta;

use super::catalogue::{Catalogue, DEVICES, PAYMENT_METHODS};
use super::clock::EventClock;
use super::config::Schema;
use super::malformed::{self, MalformedKind};
use super::original;
use super::rng::{SplitMix64, mix64};
use purchase_event::{ProductId, PurchaseEvent, round_cents};

/// Independent random streams per event: turning out-of-order or malformed
/// records on does not change the users, products and amounts drawn.
const RUN_ID_SALT: u64 = 0x7275_6e2d_6964_0001;
const OUT_OF_ORDER_SALT: u64 = 0x6f75_742d_6f66_0002;
const MALFORMED_SALT: u64 = 0x6d61_6c66_6f72_0003;

#[derive(Clone, Debug)]
pub struct FactoryOptions {
    /// The run seed: `--seed`, or fresh entropy.
    pub seed: u64,
    pub clock: EventClock,
    /// Share (0–1) of events stamped up to `out_of_order_max` in the past.
    pub out_of_order_share: f64,
    pub out_of_order_max: std::time::Duration,
    /// Share (0–1) of records written malformed.
    pub malformed_share: f64,
    /// Our event shape, or the original system's producer dialect.
    pub schema: Schema,
}

/// What was written for one sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordInfo {
    pub malformed: Option<MalformedKind>,
    pub out_of_order: bool,
}

pub struct EventFactory {
    catalogue: Catalogue,
    options: FactoryOptions,
    run_id: u64,
    out_of_order_max_ms: u64,
}

impl EventFactory {
    pub fn new(catalogue: Catalogue, options: FactoryOptions) -> Self {
        let out_of_order_max_ms =
            u64::try_from(options.out_of_order_max.as_millis()).unwrap_or(u64::MAX);
        Self {
            catalogue,
            run_id: mix64(options.seed ^ RUN_ID_SALT),
            options,
            out_of_order_max_ms,
        }
    }

    /// The 64-bit run id in every `event_id` (`{run_id:016x}-{sequence}`):
    /// derived from the seed, so random per process unless `--seed` is given.
    pub fn run_id(&self) -> u64 {
        self.run_id
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// Event `sequence`, and whether its time was pushed into the past.
    pub fn event(&self, sequence: u64) -> (PurchaseEvent, bool) {
        let mut rng = SplitMix64::for_event(self.options.seed, sequence);
        let catalogue = &self.catalogue;

        let user = rng.below(u64::from(catalogue.users())) as usize;
        let (user_id, segment) = catalogue.user(user);
        let products = &catalogue.spec.products;
        let product = &products[catalogue.products.pick(&mut rng).min(products.len() - 1)];
        let behaviour = catalogue.spec.segments.get(segment);
        let quantity = rng.range_inclusive(
            u64::from(behaviour.min_quantity),
            u64::from(behaviour.max_quantity),
        ) as u32;
        let (low, high) = behaviour.discount_percent_range();
        let percent = rng.range_inclusive(u64::from(low), u64::from(high));
        let regions = &catalogue.spec.regions;
        let region = &regions[catalogue.regions.pick(&mut rng).min(regions.len() - 1)];
        let device = DEVICES[catalogue.devices.pick(&mut rng).min(DEVICES.len() - 1)];
        let payment_method = PAYMENT_METHODS[catalogue
            .payment_methods
            .pick(&mut rng)
            .min(PAYMENT_METHODS.len() - 1)];

        let unit_price = product.unit_price;
        let base_amount = round_cents(unit_price * f64::from(quantity));
        let discount_rate = percent as f64 / 100.0;
        let discount_amount = round_cents(base_amount * discount_rate);
        let final_amount = round_cents(base_amount - discount_amount);

        let (timestamp, out_of_order) = self.timestamp(sequence);

        let event = PurchaseEvent {
            event_id: format!("{:016x}-{sequence}", self.run_id),
            timestamp,
            user_id: user_id.to_string(),
            user_segment: Cow::Borrowed(segment.as_str()),
            product_id: ProductId::Text(Cow::Owned(product.id.clone())),
            product_name: product.name.clone(),
            category: product.category.clone(),
            quantity,
            unit_price,
            base_amount,
            discount_rate,
            discount_amount,
            final_amount,
            region: region.name.clone(),
            device: Cow::Borrowed(device.as_str()),
            payment_method: Cow::Borrowed(payment_method.as_str()),
        };
        (event, out_of_order)
    }

    /// Event time of record `sequence`, and whether it was pushed into the
    /// past.
    fn timestamp(&self, sequence: u64) -> (chrono::DateTime<chrono::Utc>, bool) {
        let mut timestamp = self.options.clock.at(sequence);
        let mut late = SplitMix64::for_event(self.options.seed ^ OUT_OF_ORDER_SALT, sequence);
        let out_of_order =
            self.out_of_order_max_ms > 0 && late.chance(self.options.out_of_order_share);
        if out_of_order {
            let back_ms = late.range_inclusive(1, self.out_of_order_max_ms);
            let back = TimeDelta::milliseconds(i64::try_from(back_ms).unwrap_or(i64::MAX));
            timestamp = timestamp.checked_sub_signed(back).unwrap_or(timestamp);
        }
        (timestamp, out_of_order)
    }

    /// Record `sequence` in the original system's dialect (see
    /// [`original`]), with a unique event id.
    fn write_original(&self, sequence: u64, payload: &mut Vec<u8>) -> (String, bool) {
        let (timestamp, out_of_order) = self.timestamp(sequence);
        let mut rng = SplitMix64::for_event(self.options.seed, sequence);
        let event_id = format!(
            "evt_{}_{:016x}-{sequence}",
            timestamp.timestamp(),
            self.run_id
        );
        let mut text = String::with_capacity(512);
        let key = original::write_event(&mut rng, &event_id, timestamp, &mut text);
        payload.clear();
        payload.extend_from_slice(text.as_bytes());
        (key, out_of_order)
    }

    /// Writes record `sequence` (JSON, possibly malformed) into `payload`,
    /// replacing its content, and returns the record key (`user_id`).
    pub fn write_record(&self, sequence: u64, payload: &mut Vec<u8>) -> (String, RecordInfo) {
        let (key, out_of_order) = match self.options.schema {
            Schema::Original => self.write_original(sequence, payload),
            Schema::Shopstream => {
                let (event, out_of_order) = self.event(sequence);
                payload.clear();
                // Serializing plain strings, numbers and enums into a Vec
                // cannot fail; an error would leave a short payload that the
                // malformed path covers.
                let _ = serde_json::to_writer(&mut *payload, &event);
                (event.user_id, out_of_order)
            }
        };
        let mut bad = SplitMix64::for_event(self.options.seed ^ MALFORMED_SALT, sequence);
        let malformed = if bad.chance(self.options.malformed_share) {
            let kind = MalformedKind::pick(&mut bad);
            malformed::corrupt(payload, kind, &mut bad);
            Some(kind)
        } else {
            None
        };
        (
            key,
            RecordInfo {
                malformed,
                out_of_order,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::CatalogueSpec;
    use chrono::{DateTime, Utc};
    use purchase_event::UserSegment;
    use std::time::Duration;

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T00:00:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn factory(seed: u64, out_of_order_share: f64, malformed_share: f64) -> EventFactory {
        factory_of(
            Schema::Shopstream,
            seed,
            out_of_order_share,
            malformed_share,
        )
    }

    fn factory_of(
        schema: Schema,
        seed: u64,
        out_of_order_share: f64,
        malformed_share: f64,
    ) -> EventFactory {
        EventFactory::new(
            Catalogue::new(CatalogueSpec::builtin()),
            FactoryOptions {
                seed,
                clock: EventClock::Simulated {
                    start: start(),
                    step: TimeDelta::milliseconds(10),
                },
                out_of_order_share,
                out_of_order_max: Duration::from_secs(30),
                malformed_share,
                schema,
            },
        )
    }

    #[test]
    fn amounts_follow_the_rules() {
        let f = factory(1, 0.0, 0.0);
        for n in 0..20_000 {
            let (e, _) = f.event(n);
            assert_eq!(
                e.base_amount,
                round_cents(e.unit_price * f64::from(e.quantity))
            );
            assert_eq!(
                e.discount_amount,
                round_cents(e.base_amount * e.discount_rate)
            );
            assert_eq!(
                e.final_amount,
                round_cents(e.base_amount - e.discount_amount)
            );
            assert!(e.final_amount <= e.base_amount && e.final_amount >= 0.0);
            let product = f
                .catalogue()
                .spec
                .products
                .iter()
                .find(|p| ProductId::from(p.id.as_str()) == e.product_id)
                .expect("catalogue product");
            assert_eq!(
                (&product.name, &product.category),
                (&e.product_name, &e.category)
            );
            assert_eq!(product.unit_price, e.unit_price);
        }
    }

    #[test]
    fn segments_buy_within_their_ranges() {
        let f = factory(2, 0.0, 0.0);
        let mut seen = std::collections::HashMap::<UserSegment, (u32, u32, f64, f64)>::new();
        for n in 0..30_000 {
            let (e, _) = f.event(n);
            let segment = f.catalogue().segment_of(&e.user_id).expect("our user");
            assert_eq!(segment.as_str(), e.user_segment);
            let (qty, disc) = match segment {
                UserSegment::Premium => ((1, 5), (0.05, 0.15)),
                UserSegment::Regular => ((1, 3), (0.0, 0.10)),
                UserSegment::New => ((1, 1), (0.10, 0.20)),
            };
            assert!((qty.0..=qty.1).contains(&e.quantity), "{e:?}");
            assert!(e.discount_rate >= disc.0 - 1e-12 && e.discount_rate <= disc.1 + 1e-12);
            let s = seen.entry(segment).or_insert((u32::MAX, 0, f64::MAX, 0.0));
            *s = (
                s.0.min(e.quantity),
                s.1.max(e.quantity),
                s.2.min(e.discount_rate),
                s.3.max(e.discount_rate),
            );
        }
        // The whole ranges are used, not just part of them.
        assert_eq!(seen[&UserSegment::Premium], (1, 5, 0.05, 0.15));
        assert_eq!(seen[&UserSegment::Regular], (1, 3, 0.0, 0.10));
        assert_eq!(seen[&UserSegment::New], (1, 1, 0.10, 0.20));
    }

    #[test]
    fn users_regions_and_ids() {
        let f = factory(3, 0.0, 0.0);
        let mut users = std::collections::HashSet::new();
        for n in 0..50_000 {
            let (e, _) = f.event(n);
            let id: u32 = e.user_id["user_".len()..].parse().expect("user_N");
            assert!((1..=10_000).contains(&id));
            users.insert(id);
            assert!(
                ["Tokyo", "Osaka", "Nagoya", "Fukuoka", "Sapporo"].contains(&e.region.as_str())
            );
            assert_eq!(e.event_id, format!("{:016x}-{n}", f.run_id()));
            assert_eq!(
                e.timestamp,
                start() + TimeDelta::milliseconds(10 * n as i64)
            );
        }
        assert!(users.len() > 9_900, "{}", users.len());
    }

    #[test]
    fn same_seed_same_records_other_seed_differs() {
        let (a, b, c) = (
            factory(42, 0.2, 0.1),
            factory(42, 0.2, 0.1),
            factory(43, 0.2, 0.1),
        );
        let (mut pa, mut pb, mut pc) = (Vec::new(), Vec::new(), Vec::new());
        let mut differ = 0;
        for n in (0..5_000).rev() {
            let ka = a.write_record(n, &mut pa);
            assert_eq!(ka, b.write_record(n, &mut pb));
            assert_eq!(pa, pb);
            let _ = c.write_record(n, &mut pc);
            differ += usize::from(pa != pc);
        }
        assert_eq!(differ, 5_000);
        assert_ne!(a.run_id(), c.run_id());
    }

    #[test]
    fn options_do_not_disturb_the_base_event() {
        let plain = factory(7, 0.0, 0.0);
        let noisy = factory(7, 0.5, 0.5);
        for n in 0..1_000 {
            let (p, _) = plain.event(n);
            let (mut q, _) = noisy.event(n);
            q.timestamp = p.timestamp;
            assert_eq!(p, q);
        }
    }

    #[test]
    fn out_of_order_share_and_bound() {
        let f = factory(11, 0.25, 0.0);
        let mut late = 0;
        for n in 0..40_000u64 {
            let (e, out_of_order) = f.event(n);
            let expected = start() + TimeDelta::milliseconds(10 * n as i64);
            if out_of_order {
                late += 1;
                let back = expected - e.timestamp;
                assert!(
                    back > TimeDelta::zero() && back <= TimeDelta::seconds(30),
                    "{back}"
                );
            } else {
                assert_eq!(e.timestamp, expected);
            }
        }
        assert!((9_500..10_500).contains(&late), "{late}");
    }

    #[test]
    fn malformed_share_and_kinds() {
        let f = factory(5, 0.0, 0.1);
        let mut payload = Vec::new();
        let mut counts = std::collections::HashMap::new();
        for n in 0..30_000 {
            let (key, info) = f.write_record(n, &mut payload);
            assert!(key.starts_with("user_"));
            let parsed = serde_json::from_slice::<PurchaseEvent>(&payload);
            assert_eq!(parsed.is_err(), info.malformed.is_some());
            *counts.entry(info.malformed).or_insert(0u32) += 1;
        }
        let malformed: u32 = MalformedKind::ALL.iter().map(|k| counts[&Some(*k)]).sum();
        assert!((2_800..3_200).contains(&malformed), "{counts:?}");
        for kind in MalformedKind::ALL {
            assert!(counts[&Some(kind)] > 850, "{counts:?}");
        }
    }

    /// `--schema original`: the original's dialect, unique ids, seeded, and
    /// read as the schema (that the processor's fast path reads them too
    /// is a processor test: `fixed_schema`'s).
    #[test]
    fn original_schema_records() {
        let f = factory_of(Schema::Original, 9, 0.0, 0.0);
        let again = factory_of(Schema::Original, 9, 0.0, 0.0);
        let (mut payload, mut other) = (Vec::new(), Vec::new());
        let mut ids = std::collections::HashSet::new();
        for n in 0..5_000 {
            let (key, info) = f.write_record(n, &mut payload);
            assert_eq!(info.malformed, None);
            assert_eq!(again.write_record(n, &mut other).0, key);
            assert_eq!(payload, other, "seeded");
            let view: purchase_event::PurchaseEventView<'_> = serde_json::from_slice(&payload)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&payload)));
            assert_eq!(view.user_id, key);
            assert!(matches!(view.product_id, ProductId::Integer(1..=8)));
            let expected_id = format!("evt_{}_{:016x}-{n}", view.timestamp.timestamp(), f.run_id());
            assert_eq!(view.event_id, expected_id);
            assert!(ids.insert(expected_id), "unique");
            assert!(payload.starts_with(b"{\"event_id\": \"evt_"));
        }
        // Malformed records apply to the original dialect too.
        let bad = factory_of(Schema::Original, 9, 0.0, 1.0);
        let (_, info) = bad.write_record(0, &mut payload);
        assert!(info.malformed.is_some());
        assert!(serde_json::from_slice::<PurchaseEvent>(&payload).is_err());
    }
}
