use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigSource, NewPartitions, NewTopic,
    OwnedResourceSpecifier, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::RDKafkaErrorCode;

use super::topic_queries::{METADATA_MAX_AGE_MS, TopicState, describe_topics};
use crate::error::{Error, Result};
use crate::reconcile::validate::DesiredTopic;

/// Bounds every admin request, so an unreachable cluster turns into a status
/// condition within seconds instead of a hung reconcile.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A topic as it exists in Kafka.
#[derive(Clone, Debug, PartialEq)]
pub struct ExistingTopic {
    pub partitions: i32,
    pub replication_factor: i32,
}

/// Kafka admin API client for one cluster.
pub struct KafkaAdmin {
    admin: Arc<AdminClient<DefaultClientContext>>,
}

impl KafkaAdmin {
    pub fn connect(bootstrap_servers: &str) -> Result<Self> {
        let admin = ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers)
            .set("socket.timeout.ms", "10000")
            .set("client.id", "shopstream-operator")
            // DescribeTopics replies land in the metadata cache, where only
            // the lag sampler's ListOffsets reads them, right away: see
            // METADATA_MAX_AGE_MS.
            .set("metadata.max.age.ms", METADATA_MAX_AGE_MS)
            .set_log_level(RDKafkaLogLevel::Warning)
            .create()
            .map_err(|e| Error::Kafka(format!("cannot create admin client: {e}")))?;
        Ok(Self {
            admin: Arc::new(admin),
        })
    }

    /// The underlying client, for the lag sampler's admin requests.
    pub(super) fn client(&self) -> Arc<AdminClient<DefaultClientContext>> {
        self.admin.clone()
    }

    fn options() -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(REQUEST_TIMEOUT))
            .operation_timeout(Some(REQUEST_TIMEOUT))
    }

    /// Partitions and replication factor of those of `names` that exist.
    pub async fn describe_topics(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, ExistingTopic>> {
        let admin = self.admin.clone();
        let names = names.to_vec();
        // librdkafka's admin calls are waited for here by blocking on a
        // queue; keep that off the async workers.
        tokio::task::spawn_blocking(move || {
            // One Metadata request for exactly these topics (a cluster-wide
            // one would grow with every topic of every pipeline), without
            // the per-topic handles `fetch_metadata` would leave behind.
            let described = describe_topics(admin.inner(), &names, REQUEST_TIMEOUT)?;
            Ok(described
                .into_iter()
                .filter_map(|(name, state)| match state {
                    TopicState::Exists(topic) => Some((name, topic)),
                    // An unreadable topic counts as absent: creating it then
                    // fails with the broker's reason (authorization, invalid
                    // name), classified by `topic_error`.
                    TopicState::Missing | TopicState::Unreadable(_) => None,
                })
                .collect())
        })
        .await
        .map_err(|e| Error::Kafka(format!("metadata task failed: {e}")))?
    }

    /// Creates `topics` in one request. Returns the names that already
    /// existed: someone else created them between the caller's check and
    /// this request, so they are not the caller's.
    pub async fn create_topics(&self, topics: &[&DesiredTopic]) -> Result<Vec<String>> {
        let new_topics: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|topic| {
                let mut new_topic = NewTopic::new(
                    &topic.name,
                    topic.partitions,
                    TopicReplication::Fixed(topic.replication_factor),
                );
                for (key, value) in &topic.config {
                    new_topic = new_topic.set(key, value);
                }
                new_topic
            })
            .collect();
        let results = self
            .admin
            .create_topics(&new_topics, &Self::options())
            .await
            .map_err(|e| Error::Kafka(format!("CreateTopics: {e}")))?;
        let mut already_existed = Vec::new();
        for result in results {
            match result {
                Ok(_) => {}
                Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => already_existed.push(name),
                Err((name, code)) => return Err(topic_error(&name, "create", code)),
            }
        }
        Ok(already_existed)
    }

    pub async fn add_partitions(&self, name: &str, total: i32) -> Result<()> {
        let total = usize::try_from(total)
            .map_err(|_| Error::InvalidSpec(format!("invalid partition count {total}")))?;
        let request = NewPartitions::new(name, total);
        let results = self
            .admin
            .create_partitions([&request], &Self::options())
            .await
            .map_err(|e| Error::Kafka(format!("CreatePartitions {name}: {e}")))?;
        for result in results {
            result.map_err(|(name, code)| topic_error(&name, "add partitions to", code))?;
        }
        Ok(())
    }

    /// Per topic, the configuration entries that are not broker defaults;
    /// one request for all of `names`.
    pub async fn topic_configs(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, BTreeMap<String, String>>> {
        let resources: Vec<ResourceSpecifier<'_>> = names
            .iter()
            .map(|n| ResourceSpecifier::Topic(n.as_str()))
            .collect();
        let results = self
            .admin
            .describe_configs(&resources, &Self::options())
            .await
            .map_err(|e| Error::Kafka(format!("DescribeConfigs: {e}")))?;
        let mut configs = HashMap::new();
        for (requested, result) in names.iter().zip(results) {
            let resource =
                result.map_err(|code| topic_error(requested, "describe the config of", code))?;
            // Keyed by the name in the reply, not by request order.
            let OwnedResourceSpecifier::Topic(name) = resource.specifier else {
                continue;
            };
            let config = resource
                .entries
                .into_iter()
                .filter(|entry| !entry.is_default)
                .filter_map(|entry| entry.value.map(|value| (entry.name, value)))
                .collect();
            configs.insert(name, config);
        }
        Ok(configs)
    }

    /// Sets the keys of `changes` on the topic and leaves every other key as
    /// it is (IncrementalAlterConfigs semantics).
    ///
    /// TODO(kafkaclient): the pure-Rust admin client provides
    /// `alter_topic_config` as a real IncrementalAlterConfigs request; this
    /// stand-in reads the topic's dynamic config and writes it back whole
    /// with the changes merged in, which keeps other keys but can lose a
    /// change someone else makes in between.
    pub async fn alter_topic_config(
        &self,
        name: &str,
        changes: &BTreeMap<String, String>,
    ) -> Result<()> {
        let resource = ResourceSpecifier::Topic(name);
        let described = self
            .admin
            .describe_configs([&resource], &Self::options())
            .await
            .map_err(|e| Error::Kafka(format!("DescribeConfigs {name}: {e}")))?;
        let mut merged = BTreeMap::new();
        for result in described {
            let resource =
                result.map_err(|code| topic_error(name, "describe the config of", code))?;
            for entry in resource.entries {
                if entry.source != ConfigSource::DynamicTopic {
                    continue;
                }
                match entry.value {
                    Some(value) => {
                        merged.insert(entry.name, value);
                    }
                    // A sensitive value cannot be read back, so a whole
                    // write would drop it.
                    None => {
                        return Err(Error::Kafka(format!(
                            "cannot update the config of topic {name} without IncrementalAlterConfigs: it has a sensitive key"
                        )));
                    }
                }
            }
        }
        merged.extend(changes.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.set_topic_config(name, &merged).await
    }

    /// Sets the topic's dynamic configuration to exactly `config`.
    async fn set_topic_config(&self, name: &str, config: &BTreeMap<String, String>) -> Result<()> {
        let mut request = AlterConfig::new(ResourceSpecifier::Topic(name));
        for (key, value) in config {
            request = request.set(key, value);
        }
        let results = self
            .admin
            .alter_configs([&request], &Self::options())
            .await
            .map_err(|e| Error::Kafka(format!("AlterConfigs {name}: {e}")))?;
        for result in results {
            result.map_err(|(_, code)| topic_error(name, "update the config of", code))?;
        }
        Ok(())
    }

    pub async fn delete_topics(&self, names: &[String]) -> Result<()> {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let results = self
            .admin
            .delete_topics(&refs, &Self::options())
            .await
            .map_err(|e| Error::Kafka(format!("DeleteTopics: {e}")))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
                Err((name, code)) => return Err(topic_error(&name, "delete", code)),
            }
        }
        Ok(())
    }
}

fn topic_error(name: &str, action: &str, code: RDKafkaErrorCode) -> Error {
    let message = format!("cannot {action} topic {name}: {code}");
    // Requests the broker refuses for the request's content are spec
    // problems; everything else is worth retrying.
    match code {
        RDKafkaErrorCode::InvalidConfig
        | RDKafkaErrorCode::InvalidReplicationFactor
        | RDKafkaErrorCode::InvalidPartitions
        | RDKafkaErrorCode::InvalidReplicaAssignment
        | RDKafkaErrorCode::InvalidTopic
        | RDKafkaErrorCode::PolicyViolation => Error::InvalidSpec(message),
        _ => Error::Kafka(message),
    }
}
