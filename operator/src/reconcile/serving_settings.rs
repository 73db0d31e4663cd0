//! `spec.serving` resolved: the image, where serving writes (an existing
//! Redis, or the managed one's Service) and the managed Redis's settings.
//! Pure. The CRD's CEL rules refuse the same mistakes at admission; this
//! repeats them for objects stored before those rules existed (or on an API
//! server without CEL), so they become a condition, never a crash loop.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::crd::ServingSpec;
use crate::error::{Error, Result};
use crate::model::{DefaultImages, ManagedRedisSettings, ServingSettings};
use crate::workloads::managed_redis_address;

/// `None` unless serving is enabled; an error naming the field when the
/// Redis settings contradict each other.
pub fn serving_settings(
    spec: Option<&ServingSpec>,
    namespace: &str,
    pipeline: &str,
    images: &DefaultImages,
) -> Result<Option<ServingSettings>> {
    let Some(spec) = spec.filter(|s| s.enabled) else {
        return Ok(None);
    };
    let redis = &spec.redis;
    let (redis_address, managed_redis) = match (&redis.address, redis.managed) {
        (Some(address), false) => {
            if redis.storage.is_some() || redis.resources.is_some() || redis.image.is_some() {
                return Err(Error::InvalidSpec(
                    "spec.serving.redis.storage, .resources and .image configure the managed \
                     Redis: they need spec.serving.redis.managed: true (or remove them to use \
                     the Redis at spec.serving.redis.address)"
                        .into(),
                ));
            }
            (address.clone(), None)
        }
        (None, true) => (
            managed_redis_address(namespace, pipeline),
            Some(ManagedRedisSettings {
                image: redis.image.clone().unwrap_or_else(|| images.redis.clone()),
                storage: redis.storage.clone().unwrap_or_default(),
                resources: redis.resources.clone().unwrap_or_else(default_resources),
            }),
        ),
        (Some(_), true) => {
            return Err(Error::InvalidSpec(
                "spec.serving.redis has both address and managed: true; give address for an \
                 existing Redis or managed: true for one the operator deploys, not both"
                    .into(),
            ));
        }
        (None, false) => {
            return Err(Error::InvalidSpec(
                "spec.serving.redis needs address (an existing Redis, host:port) or \
                 managed: true (the operator deploys one)"
                    .into(),
            ));
        }
    };
    Ok(Some(ServingSettings {
        image: spec.image.clone().unwrap_or_else(|| images.serving.clone()),
        spec: spec.clone(),
        redis_address,
        managed_redis,
    }))
}

/// Enough for the default demo's keys (a few MiB) with room for a busy
/// pipeline's; Redis holds every key in memory, so the limit bounds the data.
fn default_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".into(), Quantity("100m".into())),
            ("memory".into(), Quantity("128Mi".into())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".into(),
            Quantity("512Mi".into()),
        )])),
        ..ResourceRequirements::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::RedisStorage;

    fn images() -> DefaultImages {
        DefaultImages {
            redis: "redis:test".into(),
            ..DefaultImages::default()
        }
    }

    fn spec(redis_yaml: &str) -> ServingSpec {
        serde_yaml::from_str(&format!("redis: {redis_yaml}")).expect("serving spec parses")
    }

    fn resolve(redis_yaml: &str) -> Result<Option<ServingSettings>> {
        serving_settings(Some(&spec(redis_yaml)), "team-a", "shop", &images())
    }

    #[test]
    fn an_address_is_used_as_is() {
        let s = resolve("{address: 'redis.cache:6379'}")
            .expect("valid")
            .expect("enabled");
        assert_eq!(s.redis_address, "redis.cache:6379");
        assert_eq!(s.managed_redis, None);
    }

    #[test]
    fn managed_resolves_to_its_service_and_defaults() {
        let s = resolve("{managed: true}").expect("valid").expect("enabled");
        assert_eq!(s.redis_address, "shop-redis.team-a.svc:6379");
        let managed = s.managed_redis.expect("managed");
        assert_eq!(managed.image, "redis:test");
        assert_eq!(managed.storage, RedisStorage::default());
        assert_eq!(managed.storage.size, Quantity("1Gi".into()));
        assert_eq!(managed.resources, default_resources());

        let s = resolve(
            "{managed: true, image: 'mirror/redis:7', storage: {size: 5Gi, storageClassName: fast}}",
        )
        .expect("valid")
        .expect("enabled");
        let managed = s.managed_redis.expect("managed");
        assert_eq!(managed.image, "mirror/redis:7");
        assert_eq!(managed.storage.size, Quantity("5Gi".into()));
        assert_eq!(managed.storage.storage_class_name.as_deref(), Some("fast"));
    }

    #[test]
    fn address_xor_managed() {
        let both = resolve("{address: 'redis.cache:6379', managed: true}").unwrap_err();
        assert!(both.to_string().contains("not both"), "{both}");
        let neither = resolve("{}").unwrap_err();
        assert!(neither.to_string().contains("needs address"), "{neither}");
        let stray = resolve("{address: 'redis.cache:6379', storage: {size: 2Gi}}").unwrap_err();
        assert!(stray.to_string().contains("managed: true"), "{stray}");
        assert!(matches!(stray, Error::InvalidSpec(_)));
    }

    #[test]
    fn disabled_serving_is_not_checked() {
        let mut disabled = spec("{}");
        disabled.enabled = false;
        assert_eq!(
            serving_settings(Some(&disabled), "team-a", "shop", &images()).expect("ok"),
            None
        );
    }
}
