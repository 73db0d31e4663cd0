//! Per-call deadlines and retries with backoff inside them.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// When one call of the public API must be done.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    started: Instant,
    end: Instant,
}

impl Deadline {
    pub(crate) fn after(timeout: Duration) -> Self {
        let started = Instant::now();
        Self {
            started,
            end: started + timeout,
        }
    }

    pub(crate) fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub(crate) fn exceeded(&self, what: impl Into<String>, last: Option<Error>) -> Error {
        Error::DeadlineExceeded {
            what: what.into(),
            after: self.elapsed(),
            last: last.map(Box::new),
        }
    }
}

/// Doubling pauses between attempts, capped at one second.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self {
            next: FIRST_BACKOFF,
        }
    }

    /// Sleeps before the next attempt; false (without sleeping) when the
    /// deadline would pass first.
    pub(crate) async fn wait(&mut self, deadline: &Deadline) -> bool {
        let pause = self.next;
        if deadline.remaining() <= pause {
            return false;
        }
        tokio::time::sleep(pause).await;
        self.next = (self.next * 2).min(MAX_BACKOFF);
        true
    }
}

/// Runs `attempt` until it succeeds, fails permanently, or the deadline
/// leaves no time for another try (then the last failure is the source).
pub(crate) async fn retrying<T, F, Fut>(
    what: &str,
    deadline: &Deadline,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut backoff = Backoff::new();
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) if error.is_retriable() => error,
            Err(error) => return Err(error),
        };
        tracing::debug!(what, %error, "retrying");
        if !backoff.wait(deadline).await {
            return Err(deadline.exceeded(what, Some(error)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn lost() -> Error {
        Error::ConnectionLost {
            broker: "b:1".into(),
            source: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retriable_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let deadline = Deadline::after(Duration::from_secs(5));
        let value = retrying("test", &deadline, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(lost())
            } else {
                Ok(42)
            }
        })
        .await
        .expect("succeeds on the fourth attempt");
        assert_eq!((value, calls.load(Ordering::SeqCst)), (42, 4));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_not_retried() {
        let calls = AtomicU32::new(0);
        let deadline = Deadline::after(Duration::from_secs(5));
        let error = retrying("test", &deadline, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Error::Config("bad".into()))
        })
        .await
        .expect_err("permanent");
        assert!(matches!(error, Error::Config(_)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_ends_retries_with_the_last_error_as_source() {
        let deadline = Deadline::after(Duration::from_secs(2));
        let error = retrying("reading", &deadline, || async { Err::<(), _>(lost()) })
            .await
            .expect_err("never succeeds");
        let Error::DeadlineExceeded {
            last: Some(last), ..
        } = &error
        else {
            panic!("expected DeadlineExceeded, got {error:?}");
        };
        assert!(matches!(**last, Error::ConnectionLost { .. }));
        assert!(error.to_string().starts_with("reading: gave up"), "{error}");
    }
}
