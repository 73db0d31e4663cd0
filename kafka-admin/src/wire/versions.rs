//! Which version of each API to speak with one broker: the highest version
//! both this client (kafka-protocol's message definitions) and the broker
//! (its ApiVersions reply) support.

use std::collections::HashMap;

use kafka_protocol::messages::ApiVersionsResponse;
use kafka_protocol::protocol::{Message, Request, VersionRange};

/// A broker's supported version range per API key.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ApiVersions {
    ranges: HashMap<i16, VersionRange>,
}

impl ApiVersions {
    pub(crate) fn from_response(response: &ApiVersionsResponse) -> Self {
        Self {
            ranges: response
                .api_keys
                .iter()
                .map(|api| {
                    (
                        api.api_key,
                        VersionRange {
                            min: api.min_version,
                            max: api.max_version,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The version to send `R` with, `None` when the ranges do not overlap
    /// (or the broker does not know the API).
    pub(crate) fn negotiate<R: Request>(&self) -> Option<i16> {
        self.negotiate_within::<R>(R::VERSIONS.max)
    }

    /// As [`negotiate`](Self::negotiate), but no higher than `cap` (for
    /// requests whose newer versions need data the caller lacks).
    pub(crate) fn negotiate_within<R: Request>(&self, cap: i16) -> Option<i16> {
        let ours = VersionRange {
            min: R::VERSIONS.min,
            max: R::VERSIONS.max.min(cap),
        };
        let common = self.ranges.get(&R::KEY)?.intersect(&ours);
        (!common.is_empty()).then_some(common.max)
    }

    /// The broker's range for an API key, for tests and diagnostics.
    pub(crate) fn range(&self, key: i16) -> Option<VersionRange> {
        self.ranges.get(&key).copied()
    }
}

/// The highest ApiVersions version this client speaks.
pub(crate) fn api_versions_max() -> i16 {
    <kafka_protocol::messages::ApiVersionsRequest as Message>::VERSIONS.max
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::{FetchRequest, MetadataRequest, OffsetFetchRequest};

    use super::*;

    fn broker(ranges: &[(i16, i16, i16)]) -> ApiVersions {
        let response = ApiVersionsResponse::default().with_api_keys(
            ranges
                .iter()
                .map(|&(key, min, max)| {
                    ApiVersion::default()
                        .with_api_key(key)
                        .with_min_version(min)
                        .with_max_version(max)
                })
                .collect(),
        );
        ApiVersions::from_response(&response)
    }

    #[test]
    fn the_highest_common_version_wins() {
        // A newer broker than the client: the client's maximum.
        let newer = broker(&[(3, 0, 99)]);
        assert_eq!(newer.negotiate::<MetadataRequest>(), Some(13));
        // An older broker: the broker's maximum.
        let older = broker(&[(3, 0, 7)]);
        assert_eq!(older.negotiate::<MetadataRequest>(), Some(7));
    }

    #[test]
    fn disjoint_or_unknown_apis_have_no_version() {
        // OffsetFetch (9): client speaks 1..=9.
        assert_eq!(
            broker(&[(9, 10, 12)]).negotiate::<OffsetFetchRequest>(),
            None
        );
        assert_eq!(broker(&[]).negotiate::<OffsetFetchRequest>(), None);
    }

    #[test]
    fn a_cap_limits_the_version() {
        let b = broker(&[(1, 4, 17)]);
        assert_eq!(b.negotiate::<FetchRequest>(), Some(17));
        assert_eq!(b.negotiate_within::<FetchRequest>(12), Some(12));
        assert_eq!(b.negotiate_within::<FetchRequest>(3), None);
    }
}
