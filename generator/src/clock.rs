//! Event time: the wall clock, or a simulated timeline where event `n` is
//! stamped `start + n × step` so that windows are reproducible.

use chrono::{DateTime, TimeDelta, Utc};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EventClock {
    /// The current time when the event is built.
    Wall,
    /// `start + sequence × step`.
    Simulated {
        start: DateTime<Utc>,
        step: TimeDelta,
    },
}

impl EventClock {
    /// The in-order event time of event `sequence`. A simulated timeline that
    /// would leave chrono's range saturates at its last representable instant.
    pub fn at(&self, sequence: u64) -> DateTime<Utc> {
        match *self {
            EventClock::Wall => Utc::now(),
            EventClock::Simulated { start, step } => {
                let offset = i32::try_from(sequence)
                    .ok()
                    .and_then(|n| step.checked_mul(n))
                    .or_else(|| {
                        // Beyond i32 sequences: multiply in nanoseconds.
                        let nanos = i128::from(step.num_nanoseconds()?) * i128::from(sequence);
                        i64::try_from(nanos).ok().map(TimeDelta::nanoseconds)
                    });
                offset
                    .and_then(|o| start.checked_add_signed(o))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_time_advances_by_step() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        let clock = EventClock::Simulated {
            start,
            step: TimeDelta::milliseconds(100),
        };
        assert_eq!(clock.at(0), start);
        assert_eq!(clock.at(25), start + TimeDelta::milliseconds(2_500));
        let far = 3_000_000_000u64;
        assert_eq!(clock.at(far), start + TimeDelta::seconds(300_000_000));
        assert_eq!(clock.at(u64::MAX), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn wall_clock_is_now() {
        let before = Utc::now();
        let t = EventClock::Wall.at(123);
        assert!(t >= before && t <= Utc::now());
    }
}
