//! The Kafka wire format around kafka-protocol's typed messages: request
//! framing, response decoding, and API version negotiation. Pure: no I/O.

mod frame;
mod versions;

pub(crate) use frame::{api_name, decode_response, encode_request, frame_correlation_id};
pub(crate) use versions::{ApiVersions, api_versions_max};
