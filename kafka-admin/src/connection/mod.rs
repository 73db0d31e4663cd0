//! One multiplexed connection to one broker.
//!
//! Any number of callers send requests over it at once: each request gets
//! a correlation id and a one-shot slot for its reply; one task writes the
//! queued frames, another reads replies and hands each to the slot with its
//! correlation id. When the socket fails, every waiting caller gets
//! [`Error::ConnectionLost`] at once, and the connection refuses new
//! requests, so the owner replaces it. Dropping the connection ends both
//! tasks and closes the socket: nothing outlives the client.

mod handshake;
mod pending;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::debug;

pub use handshake::Handshake;
use pending::{Broken, Pending};

use crate::config::{BrokerAddress, ClientConfig};
use crate::error::{Error, Result};
use crate::transport::BoxStream;
use crate::wire::{ApiVersions, api_name, decode_response, encode_request, frame_correlation_id};

/// Aborts a task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) struct Connection {
    broker: String,
    versions: ApiVersions,
    client_id: Arc<str>,
    outgoing: mpsc::Sender<Bytes>,
    pending: Arc<Pending>,
    _reader: AbortOnDrop,
    _writer: AbortOnDrop,
}

impl Connection {
    /// Connects, negotiates API versions and authenticates, all within
    /// `budget`.
    pub(crate) async fn open(
        config: &ClientConfig,
        address: &BrokerAddress,
        budget: Duration,
    ) -> Result<Self> {
        let broker = address.to_string();
        let budget = budget.min(config.connect_timeout);
        let setup = async {
            let stream =
                config
                    .connector
                    .connect(address)
                    .await
                    .map_err(|source| Error::Connect {
                        broker: broker.clone(),
                        source,
                    })?;
            let mut handshake = Handshake::start(stream, broker.clone(), config).await?;
            if let Some(authenticator) = &config.authenticator {
                authenticator.authenticate(&mut handshake).await?;
            }
            Ok::<_, Error>(handshake)
        };
        let handshake = tokio::time::timeout(budget, setup)
            .await
            .map_err(|_| Error::Connect {
                broker: broker.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connection setup took longer than {budget:?}"),
                ),
            })?
            .map_err(tls_failure_as_handshake_error)?;
        let (stream, versions, next_correlation_id) = handshake.into_parts();
        Ok(Self::spawn(
            stream,
            broker,
            versions,
            next_correlation_id,
            config,
        ))
    }

    fn spawn(
        stream: BoxStream,
        broker: String,
        versions: ApiVersions,
        next_correlation_id: i32,
        config: &ClientConfig,
    ) -> Self {
        let (reader, writer) = tokio::io::split(stream);
        let pending = Arc::new(Pending::new(next_correlation_id));
        let (outgoing, queue) = mpsc::channel(config.max_queued_requests.max(1));
        let reader = tokio::spawn(read_replies(
            reader,
            pending.clone(),
            broker.clone(),
            config.max_response_bytes,
        ));
        let writer = tokio::spawn(write_requests(writer, queue, pending.clone()));
        debug!(%broker, "connected");
        Self {
            broker,
            versions,
            client_id: Arc::from(config.client_id.as_str()),
            outgoing,
            pending,
            _reader: AbortOnDrop(reader),
            _writer: AbortOnDrop(writer),
        }
    }

    pub(crate) fn broker(&self) -> &str {
        &self.broker
    }

    pub(crate) fn versions(&self) -> &ApiVersions {
        &self.versions
    }

    /// False once the socket failed; the owner then opens a new one.
    pub(crate) fn is_usable(&self) -> bool {
        !self.pending.is_closed()
    }

    /// Sends `request` with the highest version both sides speak.
    pub(crate) async fn send<R: Request>(
        &self,
        request: &R,
        timeout: Duration,
    ) -> Result<(R::Response, i16)> {
        let version = self
            .versions
            .negotiate::<R>()
            .ok_or_else(|| Error::UnsupportedApi {
                api: api_name(R::KEY),
                broker: self.broker.clone(),
            })?;
        let response = self.send_version(request, version, timeout).await?;
        Ok((response, version))
    }

    /// Sends `request` with exactly `version`.
    pub(crate) async fn send_version<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response> {
        let api = api_name(R::KEY);
        let slot = self
            .pending
            .register()
            .map_err(|broken| broken.to_error(&self.broker))?;
        let frame = encode_request(request, version, slot.correlation_id(), &self.client_id)?;
        let exchange = async {
            self.outgoing
                .send(frame)
                .await
                .map_err(|_| Error::ConnectionLost {
                    broker: self.broker.clone(),
                    source: None,
                })?;
            slot.reply()
                .await
                .map_err(|broken| broken.to_error(&self.broker))
        };
        let reply = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Error::Timeout {
                api,
                broker: self.broker.clone(),
                after: timeout,
            })??;
        decode_response::<R>(reply, version, &self.broker)
    }
}

/// An I/O error of connection setup that TLS caused (an untrusted
/// certificate, the broker's alert) becomes [`Error::TlsHandshake`]:
/// permanent, unlike a lost connection.
fn tls_failure_as_handshake_error(error: Error) -> Error {
    let (broker, io) = match &error {
        Error::Connect { broker, source } => (broker, source),
        Error::ConnectionLost {
            broker,
            source: Some(source),
        } => (broker, source),
        _ => return error,
    };
    match crate::security::tls::tls_failure(io) {
        Some(tls) => Error::TlsHandshake {
            broker: broker.clone(),
            reason: crate::security::tls::describe(tls),
            source: Some(Box::new(tls.clone())),
        },
        None => error,
    }
}

/// Reads one size-prefixed frame, refusing sizes above `limit`.
pub(crate) async fn read_frame<S>(stream: &mut S, limit: usize) -> Result<Bytes, Broken>
where
    S: tokio::io::AsyncRead + Unpin,
{
    let size = stream.read_i32().await.map_err(Broken::from)?;
    let size = usize::try_from(size)
        .map_err(|_| Broken::NotKafka(format!("negative frame size {size}")))?;
    if size > limit {
        return Err(Broken::TooLarge { size, limit });
    }
    if size < 4 {
        return Err(Broken::NotKafka(format!(
            "frame of {size} bytes is shorter than a response header"
        )));
    }
    let mut frame = BytesMut::zeroed(size);
    stream.read_exact(&mut frame).await.map_err(Broken::from)?;
    Ok(frame.freeze())
}

async fn read_replies(
    mut reader: ReadHalf<BoxStream>,
    pending: Arc<Pending>,
    broker: String,
    limit: usize,
) {
    let broken = loop {
        let frame = match read_frame(&mut reader, limit).await {
            Ok(frame) => frame,
            Err(broken) => break broken,
        };
        let Some(correlation_id) = frame_correlation_id(&frame) else {
            break Broken::NotKafka("frame without a correlation id".into());
        };
        if !pending.complete(correlation_id, frame) {
            // The caller gave up (its deadline passed) before the reply came.
            debug!(%broker, correlation_id, "reply to an abandoned request");
        }
    };
    debug!(%broker, reason = %broken, "connection closed");
    pending.close(broken);
}

async fn write_requests(
    mut writer: WriteHalf<BoxStream>,
    mut queue: mpsc::Receiver<Bytes>,
    pending: Arc<Pending>,
) {
    while let Some(frame) = queue.recv().await {
        let written = async {
            writer.write_all(&frame).await?;
            writer.flush().await
        };
        if let Err(e) = written.await {
            pending.close(Broken::from(e));
            return;
        }
    }
    // The connection was dropped: say goodbye properly.
    let _ = writer.shutdown().await;
}
