//! Rate control: one token bucket shared by every producer task, so the rate
//! holds over the whole run rather than per event or per task.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket on an explicit timeline (seconds since the bucket was
/// made), so its arithmetic is testable without a clock.
///
/// Tokens accrue at `rate` per second up to `capacity`. A caller *reserves* a
/// batch: the tokens are taken at once, possibly driving the balance
/// negative, and the caller waits until the balance would have been
/// non-negative. Late wake-ups therefore do not accumulate: the next refill
/// credits the real elapsed time, and up to `capacity` tokens of lag are
/// caught up. The bucket starts empty so that a run's first second is not a
/// burst.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: f64,
}

impl TokenBucket {
    /// `rate` > 0 tokens per second; `capacity` ≥ 1 is the largest burst
    /// after the senders were held up.
    pub fn new(rate: f64, capacity: f64) -> Self {
        Self {
            rate,
            capacity: capacity.max(1.0),
            tokens: 0.0,
            last: 0.0,
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    fn refill(&mut self, now: f64) {
        if now > self.last {
            self.tokens = (self.tokens + (now - self.last) * self.rate).min(self.capacity);
            self.last = now;
        }
    }

    /// Reserves `n` tokens at time `now` (seconds); returns how long to wait
    /// before using them.
    pub fn reserve(&mut self, n: u64, now: f64) -> Duration {
        self.refill(now);
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// How many events a producer task should reserve at a time at `rate`: about
/// 5 ms worth, between 1 and 1,000.
pub fn batch_for_rate(rate: f64) -> u64 {
    (rate / 200.0).clamp(1.0, 1_000.0) as u64
}

/// The shared, clocked bucket.
pub struct RateLimiter {
    bucket: Mutex<TokenBucket>,
    origin: Instant,
}

impl RateLimiter {
    /// A limiter at `rate` events/s that catches up at most one second of lag
    /// (and at least one batch).
    pub fn new(rate: f64) -> Self {
        let capacity = rate.max(2.0 * batch_for_rate(rate) as f64);
        Self {
            bucket: Mutex::new(TokenBucket::new(rate, capacity)),
            origin: Instant::now(),
        }
    }

    pub fn rate(&self) -> f64 {
        self.lock().rate()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TokenBucket> {
        // The bucket holds plain numbers: a panic elsewhere cannot leave it
        // inconsistent, so a poisoned lock is simply taken over.
        self.bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until `n` more events may be sent.
    pub async fn acquire(&self, n: u64) {
        let now = Instant::now();
        let wait = {
            let mut bucket = self.lock();
            bucket.reserve(n, now.duration_since(self.origin).as_secs_f64())
        };
        if !wait.is_zero() {
            tokio::time::sleep_until(now + wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates a sender that reserves `batch` tokens, sleeps as told (plus
    /// `oversleep`), and repeats until `total` are sent; returns the time the
    /// last batch was released.
    fn simulate(rate: f64, batch: u64, total: u64, oversleep: f64) -> f64 {
        let mut bucket = TokenBucket::new(rate, rate);
        let mut now = 0.0;
        let mut sent = 0;
        while sent < total {
            let wait = bucket.reserve(batch, now).as_secs_f64();
            if wait > 0.0 {
                now += wait + oversleep;
            }
            sent += batch;
        }
        now
    }

    #[test]
    fn starts_empty_and_paces_exactly() {
        let mut bucket = TokenBucket::new(1_000.0, 1_000.0);
        assert_eq!(bucket.reserve(10, 0.0), Duration::from_millis(10));
        assert_eq!(bucket.reserve(10, 0.0), Duration::from_millis(20));
        // After the first wait is over, the next batch still waits its turn.
        let wait = bucket.reserve(10, 0.010).as_secs_f64();
        assert!((wait - 0.020).abs() < 1e-9, "{wait}");
    }

    #[test]
    fn rate_holds_over_a_run() {
        // 20,000 events at 2,000/s take 10 s, whatever the batch size.
        for batch in [1, 10, 100] {
            let t = simulate(2_000.0, batch, 20_000, 0.0);
            assert!((t - 10.0).abs() < 1e-6, "batch {batch}: {t}");
        }
    }

    #[test]
    fn late_wakeups_are_caught_up() {
        // Waking 2 ms late on every 10 ms batch does not slow the run: the
        // bucket credits the real elapsed time.
        let t = simulate(2_000.0, 20, 20_000, 0.002);
        assert!((t - 10.0).abs() < 0.01, "{t}");
    }

    #[test]
    fn burst_is_capped_by_capacity() {
        let mut bucket = TokenBucket::new(100.0, 50.0);
        // Idle for 10 s: only 50 tokens are banked, not 1,000.
        assert_eq!(bucket.reserve(50, 10.0), Duration::ZERO);
        assert_eq!(bucket.reserve(1, 10.0), Duration::from_millis(10));
        // Slow rates work too: one event every two seconds.
        let mut slow = TokenBucket::new(0.5, 1.0);
        assert_eq!(slow.reserve(1, 0.0), Duration::from_secs(2));
    }

    #[test]
    fn batch_sizes() {
        assert_eq!(batch_for_rate(1.0), 1);
        assert_eq!(batch_for_rate(2_000.0), 10);
        assert_eq!(batch_for_rate(50_000.0), 250);
        assert_eq!(batch_for_rate(1e9), 1_000);
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_paces_in_virtual_time() {
        let limiter = RateLimiter::new(1_000.0);
        let start = Instant::now();
        for _ in 0..100 {
            limiter.acquire(10).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((elapsed - 1.0).abs() < 0.01, "{elapsed}");
    }
}
