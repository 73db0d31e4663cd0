use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use kafka_admin::{
    ClientConfig, Creation, KafkaClient, NewTopic, SecurityConfig, TopicDescription,
};

use super::errors::{from_client, topic_error};
use crate::error::{Error, Result};
use crate::model::DesiredTopic;

/// Bounds every admin call, retries included, so an unreachable cluster
/// turns into a status condition within seconds instead of a hung
/// reconcile.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The client id the brokers see (their logs, quotas).
const CLIENT_ID: &str = "shopstream-operator";

/// A topic as it exists in Kafka.
#[derive(Clone, Debug, PartialEq)]
pub struct ExistingTopic {
    pub partitions: i32,
    pub replication_factor: i32,
}

/// Kafka admin API client for one cluster. Cloning shares the connections.
#[derive(Clone, Debug)]
pub struct KafkaAdmin {
    client: KafkaClient,
}

impl KafkaAdmin {
    /// A client for `bootstrap_servers`, secured as `security` says
    /// (`None`: plaintext); no I/O until the first call.
    pub fn connect(bootstrap_servers: &str, security: Option<&SecurityConfig>) -> Result<Self> {
        let mut config = ClientConfig::new(bootstrap_servers)
            .map_err(|e| Error::InvalidSpec(format!("spec.kafka.bootstrapServers: {e}")))?
            .client_id(CLIENT_ID);
        if let Some(security) = security {
            // Unreadable PEM, a key that does not parse: the Secret's
            // content is wrong, which a fixed Secret (not spec) cures.
            config = config.security(security.clone()).map_err(|e| {
                Error::KafkaCredentials(format!("the Secrets' content is not usable: {e}"))
            })?;
        }
        Ok(Self {
            client: KafkaClient::new(config),
        })
    }

    /// The underlying client, for the lag sampler's requests and the
    /// alerts the operator writes.
    pub fn client(&self) -> &KafkaClient {
        &self.client
    }

    /// Broker connections currently open.
    pub fn open_connections(&self) -> usize {
        self.client.open_connections()
    }

    /// Partitions and replication factor of those of `names` that exist.
    /// An unreadable topic counts as absent: creating it then fails with
    /// the broker's reason (authorization, invalid name), classified by
    /// `topic_error`.
    pub async fn describe_topics(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, ExistingTopic>> {
        let described = self
            .client
            .describe_topics(names, REQUEST_TIMEOUT)
            .await
            .map_err(from_client)?;
        Ok(described
            .into_iter()
            .filter_map(|(name, description)| match description {
                TopicDescription::Exists(topic) => Some((
                    name,
                    ExistingTopic {
                        partitions: topic.partition_count(),
                        replication_factor: topic.replication_factor(),
                    },
                )),
                TopicDescription::Missing | TopicDescription::Unreadable(_) => None,
            })
            .collect())
    }

    /// Creates `topics` in one request. Returns the names that already
    /// existed: someone else created them between the caller's check and
    /// this request, so they are not the caller's. (A topic whose creation
    /// timed out on a first attempt and existed on the retry is reported
    /// here too: it is not claimed unless it was surely created.)
    pub async fn create_topics(&self, topics: &[&DesiredTopic]) -> Result<Vec<String>> {
        let new_topics = topics
            .iter()
            .map(|topic| {
                Ok(NewTopic {
                    name: topic.name.clone(),
                    partitions: topic.partitions,
                    replication_factor: i16::try_from(topic.replication_factor).map_err(|_| {
                        Error::InvalidSpec(format!(
                            "topic {}: replication factor {} is out of range",
                            topic.name, topic.replication_factor
                        ))
                    })?,
                    configs: topic.config.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let results = self
            .client
            .create_topics(&new_topics, REQUEST_TIMEOUT)
            .await
            .map_err(from_client)?;
        let mut already_existed = Vec::new();
        for (name, result) in results {
            match result {
                Ok(Creation::Created) => {}
                Ok(Creation::AlreadyExisted) => already_existed.push(name),
                Err(error) => return Err(topic_error(&name, "create", &error)),
            }
        }
        Ok(already_existed)
    }

    pub async fn add_partitions(&self, name: &str, total: i32) -> Result<()> {
        self.client
            .create_partitions(name, total, REQUEST_TIMEOUT)
            .await
            .map_err(from_client)
    }

    /// Per topic, the configuration entries that are not broker defaults;
    /// one request for all of `names`. A topic whose config cannot be read
    /// fails the call with the broker's reason.
    pub async fn topic_configs(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, BTreeMap<String, String>>> {
        let described = self
            .client
            .describe_topic_configs(names, REQUEST_TIMEOUT)
            .await
            .map_err(from_client)?;
        let mut configs = HashMap::with_capacity(described.len());
        for (name, result) in described {
            let entries = result.map_err(|e| topic_error(&name, "describe the config of", &e))?;
            let values = entries
                .into_iter()
                .filter_map(|(key, entry)| entry.value.map(|value| (key, value)))
                .collect();
            configs.insert(name, values);
        }
        Ok(configs)
    }

    /// Sets the keys of `changes` on the topic and leaves every other key as
    /// it is (one IncrementalAlterConfigs request, SET per key): keys the
    /// spec does not name keep their values, whoever set them.
    pub async fn alter_topic_config(
        &self,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.client
            .alter_topic_config(name, config, REQUEST_TIMEOUT)
            .await
            .map_err(from_client)
    }

    /// Deletes `names`; topics already gone count as deleted.
    pub async fn delete_topics(&self, names: &[String]) -> Result<()> {
        let results = self
            .client
            .delete_topics(names, REQUEST_TIMEOUT)
            .await
            .map_err(from_client)?;
        for (name, result) in results {
            if let Err(error) = result {
                return Err(topic_error(&name, "delete", &error));
            }
        }
        Ok(())
    }
}
