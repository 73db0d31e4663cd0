//! How bytes reach a broker, kept apart from what is said over them.
//!
//! A [`Connector`] opens the byte stream (plain TCP here; the TLS
//! connector in `security::tls` wraps the TCP stream in a TLS session). An
//! [`Authenticator`] runs on each new connection right after the API
//! versions are known and before the connection is shared (the SASL
//! exchange in `security::sasl`). The protocol code works unchanged with
//! any implementation of the two traits.

use std::future::Future;
use std::io;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::BrokerAddress;
use crate::connection::Handshake;
use crate::error::Result;

/// A byte stream to one broker.
pub trait BrokerStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> BrokerStream for T {}

pub type BoxStream = Box<dyn BrokerStream>;
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Opens byte streams to brokers.
pub trait Connector: Send + Sync + 'static {
    fn connect<'a>(&'a self, address: &'a BrokerAddress) -> BoxFuture<'a, io::Result<BoxStream>>;
}

/// Authenticates a fresh connection, speaking Kafka requests through the
/// [`Handshake`] (e.g. SaslHandshake + SaslAuthenticate).
pub trait Authenticator: Send + Sync + 'static {
    fn authenticate<'a>(&'a self, session: &'a mut Handshake) -> BoxFuture<'a, Result<()>>;
}

/// Plain TCP, without Nagle's delay (requests are small and latency-bound).
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainTcp;

impl Connector for PlainTcp {
    fn connect<'a>(&'a self, address: &'a BrokerAddress) -> BoxFuture<'a, io::Result<BoxStream>> {
        Box::pin(async move {
            let stream = TcpStream::connect((address.host.as_str(), address.port)).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxStream)
        })
    }
}
