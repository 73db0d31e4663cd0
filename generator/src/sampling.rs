//! The catalogue made ready for sampling: cumulative weights, every user's
//! id and (fixed) segment.

use super::catalogue::CatalogueSpec;
use super::rng::{SplitMix64, mix64};
use purchase_event::{Device, PaymentMethod, UserSegment};

/// Cumulative weights for picking an index in proportion to its weight.
#[derive(Clone, Debug)]
pub struct WeightedIndex {
    cumulative: Vec<f64>,
}

impl WeightedIndex {
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Self { cumulative }
    }

    /// Picks with a uniform draw `u` in `[0, 1)`; zero-weight entries are never picked.
    pub fn pick_with(&self, u: f64) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let target = u * total;
        self.cumulative
            .iter()
            .position(|&c| target < c)
            .unwrap_or(self.cumulative.len().saturating_sub(1))
    }

    pub fn pick(&self, rng: &mut SplitMix64) -> usize {
        self.pick_with(rng.next_f64())
    }
}

/// A catalogue ready for sampling.
#[derive(Clone, Debug)]
pub struct Catalogue {
    pub spec: CatalogueSpec,
    pub products: WeightedIndex,
    pub regions: WeightedIndex,
    pub devices: WeightedIndex,
    pub payment_methods: WeightedIndex,
    /// `user_segments[i]` is the segment of `user_{i+1}`.
    user_segments: Vec<UserSegment>,
    /// `user_ids[i]` is `user_{i+1}`, preformatted.
    user_ids: Vec<String>,
}

pub const DEVICES: [Device; 3] = [Device::Web, Device::Mobile, Device::Tablet];
pub const PAYMENT_METHODS: [PaymentMethod; 3] = [
    PaymentMethod::CreditCard,
    PaymentMethod::BankTransfer,
    PaymentMethod::DigitalWallet,
];

/// Salt of the user → segment assignment; fixed so that a user keeps its
/// segment across runs, seeds and processes.
const SEGMENT_SALT: u64 = 0x5345_474d_454e_5453;

impl Catalogue {
    pub fn new(spec: CatalogueSpec) -> Self {
        let s = &spec.segments;
        let segments = WeightedIndex::new([s.premium.weight, s.regular.weight, s.new.weight]);
        let user_segments = (1..=u64::from(spec.users))
            .map(|user| {
                let mut rng = SplitMix64::new(mix64(user ^ SEGMENT_SALT));
                UserSegment::ALL[segments.pick(&mut rng)]
            })
            .collect();
        let user_ids = (1..=spec.users).map(|u| format!("user_{u}")).collect();
        let d = &spec.devices;
        let p = &spec.payment_methods;
        Self {
            products: WeightedIndex::new(spec.products.iter().map(|p| p.weight)),
            regions: WeightedIndex::new(spec.regions.iter().map(|r| r.weight)),
            devices: WeightedIndex::new([d.web, d.mobile, d.tablet]),
            payment_methods: WeightedIndex::new([p.credit_card, p.bank_transfer, p.digital_wallet]),
            user_segments,
            user_ids,
            spec,
        }
    }

    pub fn users(&self) -> u32 {
        self.spec.users
    }

    /// Segment and id of user number `index` (0-based: `user_{index+1}`).
    pub fn user(&self, index: usize) -> (&str, UserSegment) {
        match (self.user_ids.get(index), self.user_segments.get(index)) {
            (Some(id), Some(segment)) => (id, *segment),
            _ => ("user_1", UserSegment::Regular),
        }
    }

    /// The segment `user_id` (`user_N`) belongs to, if it is one of ours.
    pub fn segment_of(&self, user_id: &str) -> Option<UserSegment> {
        let n: usize = user_id.strip_prefix("user_")?.parse().ok()?;
        self.user_segments.get(n.checked_sub(1)?).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_pick_follows_weights() {
        let w = WeightedIndex::new([1.0, 0.0, 3.0]);
        assert_eq!(w.pick_with(0.0), 0);
        assert_eq!(w.pick_with(0.2499), 0);
        assert_eq!(w.pick_with(0.25), 2);
        assert_eq!(w.pick_with(0.999_999), 2);
        let mut rng = SplitMix64::new(5);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[w.pick(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((9_000..11_000).contains(&counts[0]), "{counts:?}");
    }

    #[test]
    fn users_keep_their_segment_in_the_configured_shares() {
        let catalogue = Catalogue::new(CatalogueSpec::builtin());
        let again = Catalogue::new(CatalogueSpec::builtin());
        let mut premium = 0;
        for i in 0..10_000 {
            let (id, segment) = catalogue.user(i);
            assert_eq!(id, format!("user_{}", i + 1));
            assert_eq!(again.user(i).1, segment);
            assert_eq!(catalogue.segment_of(id), Some(segment));
            premium += usize::from(segment == UserSegment::Premium);
        }
        assert!((1_800..2_200).contains(&premium), "{premium}");
        assert_eq!(catalogue.segment_of("user_0"), None);
        assert_eq!(catalogue.segment_of("user_10001"), None);
        assert_eq!(catalogue.segment_of("bob"), None);
    }
}
