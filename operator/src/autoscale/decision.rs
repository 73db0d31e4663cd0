//! The autoscaler's decision, pure. Two parts, as in Kubernetes'
//! HorizontalPodAutoscaler:
//! - [`recommend`]: the replicas the lag asks for right now: enough for the
//!   backlog at the target (records per replica, or proportionally to the
//!   lag's age) and, while behind, enough to keep up with the input rate at
//!   the throughput the replicas showed ([`Throughput`]); scaling up only
//!   while the lag is above target, never past the partitions that have lag
//!   (a replica without a lagging partition adds nothing) nor the input
//!   partitions, never below the minimum;
//! - [`Stabilizer`]: scale up to the fewest replicas recommended over the
//!   up window, down to the most recommended over the down window, so a
//!   burst or a dip does not flap the count; and never scale down while
//!   the consumer group rebalances (the replica that would go may be
//!   taking over partitions; stopping it then loses that progress).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The spec's bounds and targets, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub min_replicas: i32,
    /// Already capped at the input partitions.
    pub max_replicas: i32,
    pub target_lag_per_replica: Option<i64>,
    pub target_lag_seconds: Option<f64>,
    pub up_window: Duration,
    pub down_window: Duration,
}

/// What the operator measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// Replicas running now (the autoscaler's last decision).
    pub current: i32,
    pub total_lag: i64,
    pub lag_seconds: Option<f64>,
    /// Input partitions with lag > 0.
    pub partitions_with_lag: i32,
    /// The consumer group is Stable or Empty (not rebalancing).
    pub group_settled: bool,
    /// Records appended to the input topic per second.
    pub input_rate: Option<f64>,
    /// Records the group consumed per second (its committed position's
    /// growth), from a [`PositionRate`].
    pub consumed_rate: Option<f64>,
}

/// The replicas that keep up with the input: the current replicas consumed
/// `consumed` records/s while behind, so each handles `consumed / current`.
/// Only meaningful while they are saturated (lag on the partitions), which
/// is the only time [`recommend`] asks; `None` without both rates.
fn replicas_for_input_rate(load: &Load, current: i32) -> Option<i32> {
    let (input, consumed) = (load.input_rate?, load.consumed_rate?);
    if !(consumed > 0.0 && input.is_finite() && consumed.is_finite()) {
        return None;
    }
    Some(
        (f64::from(current) * input / consumed)
            .ceil()
            .min(f64::from(i32::MAX)) as i32,
    )
}

/// The growth per second of an offset position between successive
/// observations: the input topic's log-end offsets, or the group's
/// consumed position (log-end offset − lag), each summed over partitions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PositionRate {
    last: Option<(Instant, i64)>,
    rate: Option<f64>,
}

/// The input and consumption rates of one pipeline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Throughput {
    pub input: PositionRate,
    pub consumed: PositionRate,
}

impl PositionRate {
    /// Records a position and returns the rate since the previous one. An
    /// observation less than a second after the previous keeps the last
    /// rate; a position that went back (topic recreated, offsets reset)
    /// starts over.
    pub fn observe(&mut self, position: i64, now: Instant) -> Option<f64> {
        match self.last {
            Some((at, before)) => {
                let seconds = now.saturating_duration_since(at).as_secs_f64();
                if seconds < 1.0 {
                    return self.rate;
                }
                self.rate = (position >= before).then(|| (position - before) as f64 / seconds);
                self.last = Some((now, position));
            }
            None => self.last = Some((now, position)),
        }
        self.rate
    }
}

/// The replicas the lag asks for now, and why.
pub fn recommend(policy: &Policy, load: &Load) -> (i32, String) {
    let current = load.current.max(1);
    let by_records = policy.target_lag_per_replica.map(|target| {
        let needed = (load.total_lag + target - 1) / target.max(1);
        i32::try_from(needed).unwrap_or(i32::MAX)
    });
    let by_age = match (policy.target_lag_seconds, load.lag_seconds) {
        (Some(target), Some(age)) if target > 0.0 => Some(
            (f64::from(current) * age / target)
                .ceil()
                .min(f64::from(i32::MAX)) as i32,
        ),
        _ => None,
    };
    let by_lag = by_records.max(by_age).unwrap_or(load.current);
    let describe_lag = match load.lag_seconds {
        Some(age) => format!("lag {} records ({age:.1} s)", load.total_lag),
        None => format!("lag {} records", load.total_lag),
    };
    // Behind: enough replicas for the backlog, and at least enough to keep
    // up with the input at the throughput the current ones showed (so a
    // growing input does not take one scale-up per stabilization window).
    let by_rate = (by_lag > load.current)
        .then(|| replicas_for_input_rate(load, current))
        .flatten()
        .filter(|r| *r > by_lag);
    let wanted = by_rate.unwrap_or(by_lag);
    let describe_lag = match (by_rate, load.input_rate, load.consumed_rate) {
        (Some(_), Some(input), Some(consumed)) => format!(
            "{describe_lag}, input {input:.0}/s against {consumed:.0}/s consumed by {current}"
        ),
        _ => describe_lag,
    };
    if wanted > load.current {
        // More replicas than lagging partitions would sit idle.
        let cap = policy
            .max_replicas
            .min(load.partitions_with_lag.max(load.current));
        let up = wanted.min(cap).max(policy.min_replicas);
        let why = if up < wanted {
            format!(
                "{describe_lag} asks for {wanted} replicas; capped at {up} ({} partitions have \
                 lag, at most {} replicas)",
                load.partitions_with_lag, policy.max_replicas
            )
        } else {
            format!("{describe_lag} is above target: {wanted} replicas")
        };
        return (up, why);
    }
    let down = wanted.clamp(policy.min_replicas, policy.max_replicas);
    let why = if down < load.current {
        format!("{describe_lag} is below target: {down} replicas are enough")
    } else if load.current > policy.max_replicas || load.current < policy.min_replicas {
        format!(
            "{describe_lag}; within {}–{} replicas",
            policy.min_replicas, policy.max_replicas
        )
    } else {
        format!("{describe_lag} is within target")
    };
    (down.max(policy.min_replicas), why)
}

/// A decision of the stabilizer.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub replicas: i32,
    pub reason: String,
}

/// Recent recommendations of one pipeline.
#[derive(Clone, Debug, Default)]
pub struct Stabilizer {
    recommendations: VecDeque<(Instant, i32)>,
}

impl Stabilizer {
    /// Records this recommendation and decides the replicas.
    pub fn decide(&mut self, policy: &Policy, load: &Load, now: Instant) -> Decision {
        let (recommended, why) = recommend(policy, load);
        self.recommendations.push_back((now, recommended));
        // A window covers the recommendations of its span and the last one
        // before it: what was asked for at its start.
        let keep = policy.up_window.max(policy.down_window);
        while self
            .recommendations
            .get(1)
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= keep)
        {
            self.recommendations.pop_front();
        }
        let within = |window: Duration| {
            let start = if window.is_zero() {
                self.recommendations.len().saturating_sub(1)
            } else {
                self.recommendations
                    .iter()
                    .rposition(|(at, _)| now.saturating_duration_since(*at) >= window)
                    .unwrap_or(0)
            };
            self.recommendations.iter().skip(start).map(|(_, r)| *r)
        };
        let up_to = within(policy.up_window).min().unwrap_or(recommended);
        let down_to = within(policy.down_window).max().unwrap_or(recommended);
        // Out of bounds (the spec changed): back within them at once.
        let bounded = load.current.clamp(policy.min_replicas, policy.max_replicas);
        if bounded != load.current {
            return Decision {
                replicas: bounded,
                reason: why,
            };
        }
        if up_to > load.current {
            return Decision {
                replicas: up_to,
                reason: why,
            };
        }
        if recommended > load.current {
            return Decision {
                replicas: load.current,
                reason: format!(
                    "{why}; waiting until it has asked for more for {} s",
                    policy.up_window.as_secs()
                ),
            };
        }
        if down_to < load.current {
            if !load.group_settled {
                return Decision {
                    replicas: load.current,
                    reason: format!("{why}; waiting for the consumer group's rebalance to end"),
                };
            }
            return Decision {
                replicas: down_to,
                reason: why,
            };
        }
        if recommended < load.current {
            return Decision {
                replicas: load.current,
                reason: format!(
                    "{why}; waiting until it has asked for fewer for {} s",
                    policy.down_window.as_secs()
                ),
            };
        }
        Decision {
            replicas: load.current,
            reason: why,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            min_replicas: 1,
            max_replicas: 6,
            target_lag_per_replica: Some(100),
            target_lag_seconds: None,
            up_window: Duration::from_secs(30),
            down_window: Duration::from_secs(300),
        }
    }

    fn load(current: i32, total_lag: i64, partitions_with_lag: i32) -> Load {
        Load {
            current,
            total_lag,
            lag_seconds: None,
            partitions_with_lag,
            group_settled: true,
            input_rate: None,
            consumed_rate: None,
        }
    }

    #[test]
    fn while_behind_the_input_rate_asks_for_enough_replicas_to_keep_up() {
        // The backlog alone asks for 3; 2 replicas consumed 100/s while
        // 500/s arrive: 10 keep up, capped at the 6 partitions.
        let mut l = load(2, 250, 6);
        l.input_rate = Some(500.0);
        l.consumed_rate = Some(100.0);
        let (r, why) = recommend(&policy(), &l);
        assert_eq!(r, 6, "{why}");
        assert!(
            why.contains("input 500/s against 100/s consumed by 2"),
            "{why}"
        );
        l.input_rate = Some(220.0);
        assert_eq!(recommend(&policy(), &l).0, 5, "ceil(2 × 220 / 100)");
        // The backlog asks for more than the rate: the backlog wins.
        l.total_lag = 480;
        l.input_rate = Some(120.0);
        assert_eq!(recommend(&policy(), &l).0, 5);
        // Within target: the rate never scales up on its own...
        let mut within = load(2, 150, 6);
        within.input_rate = Some(500.0);
        within.consumed_rate = Some(100.0);
        within.current = 3;
        assert_eq!(
            recommend(&policy(), &within).0,
            2,
            "down to what the lag asks"
        );
        // ...nor without a consumption rate.
        let mut unknown = load(2, 450, 6);
        unknown.input_rate = Some(500.0);
        assert_eq!(recommend(&policy(), &unknown).0, 5);
        unknown.consumed_rate = Some(0.0);
        assert_eq!(
            recommend(&policy(), &unknown).0,
            5,
            "nothing consumed: no rate"
        );
    }

    #[test]
    fn consumed_rate_comes_from_successive_positions() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut c = PositionRate::default();
        assert_eq!(c.observe(1000, at(0)), None, "one position: no rate");
        assert_eq!(c.observe(1100, at(500)), None, "under a second apart");
        assert_eq!(c.observe(1300, at(2000)), Some(150.0));
        assert_eq!(c.observe(1310, at(2100)), Some(150.0), "kept");
        assert_eq!(c.observe(50, at(4000)), None, "went back: starts over");
        assert_eq!(c.observe(250, at(6000)), Some(100.0));
    }

    #[test]
    fn recommends_enough_replicas_for_the_backlog_within_the_lagging_partitions() {
        assert_eq!(recommend(&policy(), &load(1, 450, 6)).0, 5);
        let (capped, why) = recommend(&policy(), &load(1, 450, 2));
        assert_eq!(capped, 2);
        assert!(why.contains("2 partitions have lag"), "{why}");
        assert_eq!(recommend(&policy(), &load(1, 5000, 6)).0, 6, "max");
        assert_eq!(recommend(&policy(), &load(3, 150, 1)).0, 2, "down");
        assert_eq!(recommend(&policy(), &load(3, 0, 0)).0, 1, "min");
        // Fewer lagging partitions than replicas: no scale-up, none down either.
        assert_eq!(recommend(&policy(), &load(3, 350, 1)).0, 3);
    }

    #[test]
    fn lag_in_seconds_scales_proportionally_and_the_larger_target_wins() {
        let mut p = policy();
        p.target_lag_per_replica = None;
        p.target_lag_seconds = Some(10.0);
        let mut l = load(2, 50, 6);
        l.lag_seconds = Some(25.0);
        assert_eq!(recommend(&p, &l).0, 5, "ceil(2 × 25 / 10)");
        p.target_lag_per_replica = Some(10);
        assert_eq!(recommend(&p, &l).0, 5, "records ask for 5 too");
        l.total_lag = 60;
        assert_eq!(recommend(&p, &l).0, 6);
    }

    #[test]
    fn scales_up_after_the_up_window_and_down_after_the_down_window() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut s = Stabilizer::default();
        assert_eq!(s.decide(&policy(), &load(1, 0, 0), at(0)).replicas, 1);
        // A burst: asked for at 10 s, not for 30 s yet.
        let d = s.decide(&policy(), &load(1, 400, 6), at(10));
        assert_eq!(d.replicas, 1);
        assert!(
            d.reason.contains("waiting until it has asked for more"),
            "{}",
            d.reason
        );
        assert_eq!(s.decide(&policy(), &load(1, 400, 6), at(31)).replicas, 1);
        assert_eq!(s.decide(&policy(), &load(1, 400, 6), at(41)).replicas, 4);
        // Drained: stays up for the down window, then goes down.
        let d = s.decide(&policy(), &load(4, 0, 0), at(60));
        assert_eq!(d.replicas, 4);
        assert!(d.reason.contains("asked for fewer"), "{}", d.reason);
        // At 355 s the window starts at 55 s, when 4 was still asked for.
        assert_eq!(s.decide(&policy(), &load(4, 0, 0), at(355)).replicas, 4);
        let mut rebalancing = load(4, 0, 0);
        rebalancing.group_settled = false;
        let d = s.decide(&policy(), &rebalancing, at(361));
        assert_eq!(d.replicas, 4);
        assert!(d.reason.contains("rebalance"), "{}", d.reason);
        assert_eq!(s.decide(&policy(), &load(4, 0, 0), at(362)).replicas, 1);
    }

    #[test]
    fn zero_windows_act_at_once_and_bounds_apply_at_once() {
        let mut p = policy();
        p.up_window = Duration::ZERO;
        p.down_window = Duration::ZERO;
        let t0 = Instant::now();
        let mut s = Stabilizer::default();
        assert_eq!(s.decide(&p, &load(1, 250, 6), t0).replicas, 3);
        assert_eq!(s.decide(&p, &load(3, 0, 0), t0).replicas, 1);
        p.max_replicas = 2;
        assert_eq!(s.decide(&p, &load(5, 900, 6), t0).replicas, 2);
    }
}
