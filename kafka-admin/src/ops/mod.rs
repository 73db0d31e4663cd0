//! The client's operations, one file per subject, plus what they share:
//! per-item bookkeeping for batched requests and request routing.

pub(crate) mod configs;
mod fetch;
pub(crate) mod groups;
mod leaders;
pub(crate) mod offsets;
pub(crate) mod produce;
pub(crate) mod read;
pub(crate) mod topics;

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_protocol::protocol::Request;

use crate::client::KafkaClient;
use crate::error::{BrokerError, Error, ErrorCode, Result};
use crate::retry::Deadline;

/// What one reply says about one item of a batched request.
pub(crate) enum ItemOutcome<T> {
    /// The item's final answer.
    Done(std::result::Result<T, BrokerError>),
    /// Try the item again (the error is its answer if time runs out).
    Retry(BrokerError),
}

/// Items of a batched request across attempts: answered ones are kept,
/// the rest go into the next attempt.
pub(crate) struct PerItem<K: Ord, T> {
    todo: BTreeSet<K>,
    done: BTreeMap<K, std::result::Result<T, BrokerError>>,
    retry_errors: BTreeMap<K, BrokerError>,
    last: Option<Error>,
}

impl<K: Ord + Clone, T> PerItem<K, T> {
    pub(crate) fn new(keys: impl IntoIterator<Item = K>) -> Self {
        Self {
            todo: keys.into_iter().collect(),
            done: BTreeMap::new(),
            retry_errors: BTreeMap::new(),
            last: None,
        }
    }

    pub(crate) fn todo(&self) -> impl Iterator<Item = &K> {
        self.todo.iter()
    }

    /// Records the reply's word on `key`; keys not asked for are ignored.
    pub(crate) fn record<Q>(&mut self, key: &Q, outcome: ItemOutcome<T>)
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let Some(key) = self.todo.get(key).cloned() else {
            return;
        };
        match outcome {
            ItemOutcome::Done(result) => {
                self.todo.remove(key.borrow());
                self.retry_errors.remove(key.borrow());
                self.done.insert(key, result);
            }
            ItemOutcome::Retry(error) => {
                self.retry_errors.insert(key, error);
            }
        }
    }

    /// The whole request failed: retriable failures are kept as the cause
    /// to report if time runs out; others end the call.
    pub(crate) fn failed(&mut self, error: Error) -> Result<()> {
        if error.is_retriable() {
            self.last = Some(error);
            Ok(())
        } else {
            Err(error)
        }
    }

    pub(crate) fn finished(&self) -> bool {
        self.todo.is_empty()
    }

    /// Every item's answer. An item still open ends with its last per-item
    /// error; if some item never got one (its requests failed as a
    /// whole), the call fails with the deadline and the last failure.
    pub(crate) fn finish(
        mut self,
        deadline: &Deadline,
        what: &str,
    ) -> Result<BTreeMap<K, std::result::Result<T, BrokerError>>> {
        for key in std::mem::take(&mut self.todo) {
            let error = match self.retry_errors.remove(&key) {
                Some(error) => error,
                None if self.last.is_some() => {
                    return Err(deadline.exceeded(what, self.last.take()));
                }
                None => BrokerError::new(
                    unknown_server_error(),
                    Some("the broker's reply did not mention it".into()),
                ),
            };
            self.done.insert(key, Err(error));
        }
        Ok(self.done)
    }
}

fn unknown_server_error() -> ErrorCode {
    ErrorCode::from_code(-1).unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
}

/// The broker-side timeout of an admin operation: what is left of the
/// deadline, less a margin for the reply to travel back.
pub(crate) fn server_timeout_ms(deadline: &Deadline) -> i32 {
    let budget = deadline
        .remaining()
        .saturating_sub(Duration::from_millis(200))
        .max(Duration::from_millis(100));
    i32::try_from(budget.as_millis()).unwrap_or(i32::MAX)
}

impl KafkaClient {
    /// Sends an admin request to the controller. A failed connection
    /// makes the next attempt look the controller up again.
    pub(crate) async fn send_to_controller<R: Request>(
        &self,
        request: &R,
        deadline: &Deadline,
    ) -> Result<R::Response> {
        let connection = self.cluster.controller(deadline).await?;
        match connection.send(request, deadline.remaining()).await {
            Ok((response, _)) => Ok(response),
            Err(e) => {
                self.cluster.forget_controller();
                Err(e)
            }
        }
    }

    /// As [`send_to_controller`](Self::send_to_controller) for requests
    /// whose shape changed at version `from`: `newer` is sent from it on,
    /// `older` below.
    pub(crate) async fn send_to_controller_versioned<R: Request>(
        &self,
        newer: &R,
        older: &R,
        from: i16,
        deadline: &Deadline,
    ) -> Result<R::Response> {
        let connection = self.cluster.controller(deadline).await?;
        let version =
            connection
                .versions()
                .negotiate::<R>()
                .ok_or_else(|| Error::UnsupportedApi {
                    api: crate::cluster::api_of::<R>(),
                    broker: connection.broker().to_string(),
                })?;
        let request = if version >= from { newer } else { older };
        connection
            .send_version(request, version, deadline.remaining())
            .await
            .inspect_err(|_| self.cluster.forget_controller())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: i16) -> BrokerError {
        BrokerError::from_code(code, None).expect("non-zero")
    }

    #[test]
    fn answered_items_are_kept_and_the_rest_retried() {
        let mut items: PerItem<String, i32> =
            PerItem::new(["a".to_string(), "b".into(), "c".into()]);
        items.record("a", ItemOutcome::Done(Ok(1)));
        items.record("b", ItemOutcome::Retry(error(16)));
        items.record("zzz", ItemOutcome::Done(Ok(9)));
        assert_eq!(items.todo().collect::<Vec<_>>(), vec!["b", "c"]);
        items.record("b", ItemOutcome::Done(Err(error(40))));
        items.record("c", ItemOutcome::Done(Ok(3)));
        assert!(items.finished());
        let results = items
            .finish(&Deadline::after(Duration::ZERO), "test")
            .expect("all answered");
        assert_eq!(results.len(), 3);
        assert_eq!(results["a"], Ok(1));
        assert_eq!(results["b"], Err(error(40)));
    }

    #[test]
    fn open_items_end_with_their_last_error() {
        let mut items: PerItem<String, ()> = PerItem::new(["a".to_string()]);
        items.record("a", ItemOutcome::Retry(error(5)));
        let results = items
            .finish(&Deadline::after(Duration::ZERO), "test")
            .expect("per-item error");
        assert_eq!(results["a"], Err(error(5)));
    }

    #[test]
    fn items_that_never_got_an_answer_fail_the_call() {
        let mut items: PerItem<String, ()> = PerItem::new(["a".to_string()]);
        items
            .failed(Error::ConnectionLost {
                broker: "b:1".into(),
                source: None,
            })
            .expect("retriable");
        let error = items
            .finish(&Deadline::after(Duration::ZERO), "delete topics")
            .expect_err("no answer at all");
        assert!(
            matches!(error, Error::DeadlineExceeded { last: Some(_), .. }),
            "{error:?}"
        );
    }

    #[test]
    fn permanent_request_failures_end_the_call() {
        let mut items: PerItem<String, ()> = PerItem::new(["a".to_string()]);
        assert!(items.failed(Error::Config("x".into())).is_err());
    }
}
