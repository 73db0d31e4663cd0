//! A new connection before it is shared: ApiVersions, then SASL if configured.
//! Requests here are strictly one at a time.

use std::time::Duration;

use bytes::Buf;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::{Decodable, Request, StrBytes};
use tokio::io::AsyncWriteExt;

use super::read_frame;
use crate::config::ClientConfig;
use crate::error::{BrokerError, Error, ErrorCode, Result};
use crate::transport::BoxStream;
use crate::wire::{ApiVersions, api_name, decode_response, encode_request, frame_correlation_id};

const SOFTWARE_NAME: &str = "shopstream-kafka-admin";

/// A connection being set up; see [`crate::transport::Authenticator`].
pub struct Handshake {
    stream: BoxStream,
    broker: String,
    client_id: String,
    versions: ApiVersions,
    next_id: i32,
    limit: usize,
    timeout: Duration,
}

impl Handshake {
    pub(crate) async fn start(
        stream: BoxStream,
        broker: String,
        config: &ClientConfig,
    ) -> Result<Self> {
        let mut handshake = Self {
            stream,
            broker,
            client_id: config.client_id.clone(),
            versions: ApiVersions::default(),
            next_id: 0,
            limit: config.max_response_bytes,
            timeout: config.connect_timeout,
        };
        handshake.versions = handshake.negotiate_versions().await?;
        Ok(handshake)
    }

    /// The broker's address, for messages.
    pub fn broker(&self) -> &str {
        &self.broker
    }

    /// The version `R` will be sent with, `None` if the broker lacks it.
    pub fn version<R: Request>(&self) -> Option<i16> {
        self.versions.negotiate::<R>()
    }

    /// Sends one request with the negotiated version and waits for its reply.
    pub async fn request<R: Request>(&mut self, request: &R) -> Result<R::Response> {
        let version = self.version::<R>().ok_or_else(|| Error::UnsupportedApi {
            api: api_name(R::KEY),
            broker: self.broker.clone(),
        })?;
        let frame = self.exchange::<R>(request, version).await?;
        decode_response::<R>(frame, version, &self.broker)
    }

    pub(crate) fn into_parts(self) -> (BoxStream, ApiVersions, i32) {
        (self.stream, self.versions, self.next_id)
    }

    /// Writes one request and reads one reply frame, checking that the
    /// reply answers it.
    async fn exchange<R: Request>(&mut self, request: &R, version: i16) -> Result<bytes::Bytes> {
        let api = api_name(R::KEY);
        let id = self.next_id;
        self.next_id += 1;
        let frame = encode_request(request, version, id, &self.client_id)?;
        let broker = self.broker.clone();
        let io = async {
            self.stream
                .write_all(&frame)
                .await
                .map_err(|e| Error::ConnectionLost {
                    broker: broker.clone(),
                    source: Some(e),
                })?;
            self.stream
                .flush()
                .await
                .map_err(|e| Error::ConnectionLost {
                    broker: broker.clone(),
                    source: Some(e),
                })?;
            read_frame(&mut self.stream, self.limit)
                .await
                .map_err(|broken| broken.to_error(&broker))
        };
        let reply =
            tokio::time::timeout(self.timeout, io)
                .await
                .map_err(|_| Error::Timeout {
                    api,
                    broker: self.broker.clone(),
                    after: self.timeout,
                })??;
        match frame_correlation_id(&reply) {
            Some(got) if got == id => Ok(reply),
            got => Err(Error::Malformed {
                api,
                broker: self.broker.clone(),
                reason: format!("correlation id {got:?}, expected {id}"),
                source: None,
            }),
        }
    }

    /// ApiVersions with the newest version this client speaks; a broker
    /// that does not know it answers in version 0 with its own range,
    /// and the request is repeated once in the version it offers.
    async fn negotiate_versions(&mut self) -> Result<ApiVersions> {
        let mut version = crate::wire::api_versions_max();
        for _ in 0..2 {
            let mut request = ApiVersionsRequest::default();
            if version >= 3 {
                request = request
                    .with_client_software_name(StrBytes::from_static_str(SOFTWARE_NAME))
                    .with_client_software_version(StrBytes::from_static_str(env!(
                        "CARGO_PKG_VERSION"
                    )));
            }
            let reply = self.exchange(&request, version).await?;
            // The response header of ApiVersions is always version 0 (just
            // the correlation id), so the error code follows at byte 4.
            let error_code = reply.get(4..6).map(|mut b| b.get_i16());
            if error_code == Some(ErrorCode::UNSUPPORTED_VERSION.code()) {
                let mut body = reply.slice(4..);
                let offered =
                    ApiVersionsResponse::decode(&mut body, 0).map_err(|e| Error::Malformed {
                        api: "ApiVersions",
                        broker: self.broker.clone(),
                        reason: "cannot decode the version-0 fallback".into(),
                        source: Some(e.into()),
                    })?;
                let theirs = ApiVersions::from_response(&offered)
                    .range(ApiVersionsRequest::KEY)
                    .map(|r| r.max)
                    .unwrap_or(0);
                if theirs >= version {
                    break;
                }
                version = theirs;
                continue;
            }
            let response = decode_response::<ApiVersionsRequest>(reply, version, &self.broker)?;
            if let Some(error) = BrokerError::from_code(response.error_code, None) {
                return Err(Error::broker(
                    format!("ApiVersions from {}", self.broker),
                    error,
                ));
            }
            return Ok(ApiVersions::from_response(&response));
        }
        Err(Error::UnsupportedApi {
            api: "ApiVersions",
            broker: self.broker.clone(),
        })
    }
}
