//! Requests waiting for their replies, by correlation id.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::error::Error;

/// Why a connection stopped working; shared by every request it failed.
#[derive(Clone, Debug)]
pub(crate) enum Broken {
    Io(std::io::ErrorKind, String),
    /// TLS refused (e.g. the broker's alert for a rejected client
    /// certificate, which TLS 1.3 delivers after the handshake).
    Tls(String),
    TooLarge {
        size: usize,
        limit: usize,
    },
    NotKafka(String),
    /// The connection was dropped while requests were waiting.
    Dropped,
}

impl From<std::io::Error> for Broken {
    fn from(e: std::io::Error) -> Self {
        match crate::security::tls::tls_failure(&e) {
            Some(tls) => Broken::Tls(crate::security::tls::describe(tls)),
            None => Broken::Io(e.kind(), e.to_string()),
        }
    }
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Broken::Io(_, message) | Broken::Tls(message) => f.write_str(message),
            Broken::TooLarge { size, limit } => {
                write!(f, "reply of {size} bytes over the limit of {limit}")
            }
            Broken::NotKafka(why) => write!(f, "not a Kafka reply: {why}"),
            Broken::Dropped => f.write_str("connection dropped"),
        }
    }
}

impl Broken {
    pub(crate) fn to_error(&self, broker: &str) -> Error {
        match self {
            Broken::Io(kind, message) => Error::ConnectionLost {
                broker: broker.to_string(),
                source: Some(std::io::Error::new(*kind, message.clone())),
            },
            Broken::Tls(reason) => Error::TlsHandshake {
                broker: broker.to_string(),
                reason: reason.clone(),
                source: None,
            },
            Broken::TooLarge { size, limit } => Error::ResponseTooLarge {
                broker: broker.to_string(),
                size: *size,
                limit: *limit,
            },
            Broken::NotKafka(why) => Error::Malformed {
                api: "Kafka",
                broker: broker.to_string(),
                reason: why.clone(),
                source: None,
            },
            Broken::Dropped => Error::ConnectionLost {
                broker: broker.to_string(),
                source: None,
            },
        }
    }
}

type ReplySender = oneshot::Sender<Result<Bytes, Broken>>;

struct State {
    waiting: HashMap<i32, ReplySender>,
    next_id: i32,
    closed: Option<Broken>,
}

pub(crate) struct Pending {
    state: Mutex<State>,
}

impl Pending {
    pub(crate) fn new(next_id: i32) -> Self {
        Self {
            state: Mutex::new(State {
                waiting: HashMap::new(),
                next_id,
                closed: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned lock still
        // holds consistent state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh correlation id and the slot its reply will arrive in;
    /// refused once the connection is broken.
    pub(crate) fn register(self: &Arc<Self>) -> Result<Slot, Broken> {
        let mut state = self.lock();
        if let Some(broken) = &state.closed {
            return Err(broken.clone());
        }
        let id = state.next_id;
        // Correlation ids are non-negative and wrap; ids still waiting
        // after 2^31 requests would be a leak, which Slot's drop prevents.
        state.next_id = state.next_id.checked_add(1).unwrap_or(0);
        let (sender, receiver) = oneshot::channel();
        state.waiting.insert(id, sender);
        Ok(Slot {
            pending: self.clone(),
            id,
            receiver: Some(receiver),
        })
    }

    /// Hands a reply to its request; false when nobody waits for it.
    pub(crate) fn complete(&self, id: i32, frame: Bytes) -> bool {
        let sender = self.lock().waiting.remove(&id);
        match sender {
            Some(sender) => sender.send(Ok(frame)).is_ok(),
            None => false,
        }
    }

    /// Fails every waiting request and refuses new ones.
    pub(crate) fn close(&self, broken: Broken) {
        let waiting = {
            let mut state = self.lock();
            if state.closed.is_none() {
                state.closed = Some(broken.clone());
            }
            std::mem::take(&mut state.waiting)
        };
        for sender in waiting.into_values() {
            let _ = sender.send(Err(broken.clone()));
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed.is_some()
    }

    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }
}

/// A registered request. Dropping it (the caller gave up) forgets the
/// request, so abandoned requests never pile up.
pub(crate) struct Slot {
    pending: Arc<Pending>,
    id: i32,
    receiver: Option<oneshot::Receiver<Result<Bytes, Broken>>>,
}

impl Slot {
    pub(crate) fn correlation_id(&self) -> i32 {
        self.id
    }

    pub(crate) async fn reply(mut self) -> Result<Bytes, Broken> {
        match self.receiver.take() {
            Some(receiver) => receiver.await.unwrap_or(Err(Broken::Dropped)),
            None => Err(Broken::Dropped),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.pending.lock().waiting.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replies_reach_their_request_by_correlation_id() {
        let pending = Arc::new(Pending::new(7));
        let first = pending.register().expect("open");
        let second = pending.register().expect("open");
        assert_eq!((first.correlation_id(), second.correlation_id()), (7, 8));
        assert!(pending.complete(8, Bytes::from_static(b"two")));
        assert!(pending.complete(7, Bytes::from_static(b"one")));
        assert_eq!(second.reply().await.expect("reply"), "two");
        assert_eq!(first.reply().await.expect("reply"), "one");
        assert!(!pending.complete(9, Bytes::new()), "nobody waits for 9");
    }

    #[tokio::test]
    async fn closing_fails_waiting_and_new_requests() {
        let pending = Arc::new(Pending::new(0));
        let slot = pending.register().expect("open");
        pending.close(Broken::Io(std::io::ErrorKind::UnexpectedEof, "eof".into()));
        assert!(matches!(slot.reply().await, Err(Broken::Io(..))));
        assert!(pending.register().is_err());
        assert!(pending.is_closed());
    }

    #[test]
    fn abandoned_requests_are_forgotten() {
        let pending = Arc::new(Pending::new(0));
        let slot = pending.register().expect("open");
        assert_eq!(pending.waiting(), 1);
        drop(slot);
        assert_eq!(pending.waiting(), 0);
    }

    #[test]
    fn correlation_ids_wrap_to_zero() {
        let pending = Arc::new(Pending::new(i32::MAX));
        let last = pending.register().expect("open");
        let next = pending.register().expect("open");
        assert_eq!(
            (last.correlation_id(), next.correlation_id()),
            (i32::MAX, 0)
        );
    }
}
