//! Size-prefixed request frames out, response frames in.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

use crate::error::{Error, Result};

/// The API's name for messages and errors.
pub(crate) fn api_name(key: i16) -> &'static str {
    match ApiKey::try_from(key) {
        Ok(ApiKey::Fetch) => "Fetch",
        Ok(ApiKey::ListOffsets) => "ListOffsets",
        Ok(ApiKey::Metadata) => "Metadata",
        Ok(ApiKey::OffsetFetch) => "OffsetFetch",
        Ok(ApiKey::FindCoordinator) => "FindCoordinator",
        Ok(ApiKey::DescribeGroups) => "DescribeGroups",
        Ok(ApiKey::ApiVersions) => "ApiVersions",
        Ok(ApiKey::CreateTopics) => "CreateTopics",
        Ok(ApiKey::DeleteTopics) => "DeleteTopics",
        Ok(ApiKey::DescribeConfigs) => "DescribeConfigs",
        Ok(ApiKey::CreatePartitions) => "CreatePartitions",
        Ok(ApiKey::IncrementalAlterConfigs) => "IncrementalAlterConfigs",
        Ok(ApiKey::SaslHandshake) => "SaslHandshake",
        Ok(ApiKey::SaslAuthenticate) => "SaslAuthenticate",
        Ok(ApiKey::OffsetCommit) => "OffsetCommit",
        _ => "Kafka",
    }
}

/// One request as it goes on the wire: a 4-byte size, the request header
/// (with `correlation_id`), the body.
pub(crate) fn encode_request<R: Request>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: &str,
) -> Result<Bytes> {
    let api = api_name(R::KEY);
    let encode_error = |e: anyhow::Error| Error::Encode {
        api,
        reason: e.to_string(),
    };
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_string())));
    let header_version = R::header_version(version);
    let size = header
        .compute_size(header_version)
        .and_then(|h| Ok(h + request.compute_size(version)?))
        .map_err(encode_error)?;
    let size_field = i32::try_from(size).map_err(|_| Error::Encode {
        api,
        reason: format!("request of {size} bytes is too large"),
    })?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(size_field);
    header
        .encode(&mut buf, header_version)
        .map_err(encode_error)?;
    request.encode(&mut buf, version).map_err(encode_error)?;
    Ok(buf.freeze())
}

/// The correlation id of a response frame (the size prefix removed), which
/// every response header starts with.
pub(crate) fn frame_correlation_id(frame: &[u8]) -> Option<i32> {
    let bytes: [u8; 4] = frame.get(..4)?.try_into().ok()?;
    Some(i32::from_be_bytes(bytes))
}

/// Decodes a response frame (the size prefix removed) of request type `R`
/// sent with `version`. Never panics: a decoder panic on a malformed reply
/// becomes [`Error::Malformed`] too.
pub(crate) fn decode_response<R: Request>(
    mut frame: Bytes,
    version: i16,
    broker: &str,
) -> Result<R::Response> {
    let api = api_name(R::KEY);
    let malformed = |reason: String, source: Option<crate::error::Cause>| Error::Malformed {
        api,
        broker: broker.to_string(),
        reason,
        source,
    };
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        ResponseHeader::decode(&mut frame, R::Response::header_version(version))
            .and_then(|_| R::Response::decode(&mut frame, version))
    }));
    match decoded {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(e)) => Err(malformed(
            format!("cannot decode version {version}"),
            Some(e.into()),
        )),
        Err(_) => Err(malformed(
            format!("the decoder of version {version} panicked"),
            None,
        )),
    }
}
