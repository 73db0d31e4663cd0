//! Topic configuration: read the non-default entries, change some keys
//! incrementally (IncrementalAlterConfigs SET: keys not named are never
//! touched, unlike AlterConfigs, which resets every key it does not name).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafka_protocol::protocol::StrBytes;

use super::{ItemOutcome, PerItem};
use crate::client::KafkaClient;
use crate::error::{BrokerError, Error, Result};
use crate::retry::{Backoff, Deadline};

/// The resource type of topics in config requests.
const TOPIC_RESOURCE: i8 = 2;
/// IncrementalAlterConfigs' SET operation.
const OPERATION_SET: i8 = 0;

/// Where a config value comes from (DescribeConfigs' `config_source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic itself.
    TopicOverride,
    /// Inherited from a broker's dynamic or static configuration.
    Broker,
    /// Kafka's built-in default.
    Default,
    Other(i8),
}

impl ConfigSource {
    fn from_code(code: i8) -> Self {
        match code {
            1 => ConfigSource::TopicOverride,
            2..=4 => ConfigSource::Broker,
            5 => ConfigSource::Default,
            other => ConfigSource::Other(other),
        }
    }
}

/// One configuration entry of a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    /// `None` for sensitive entries, whose values brokers never return.
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    pub sensitive: bool,
}

impl KafkaClient {
    /// The entries of each topic's configuration that are not Kafka's
    /// built-in defaults, with one DescribeConfigs request. Per topic: the
    /// entries, or the broker's refusal. UNKNOWN_TOPIC_OR_PARTITION is
    /// retried until the deadline, because a broker answers it for a topic
    /// created a moment ago whose metadata has not reached it yet; a topic
    /// that really does not exist ends with that error when time is up.
    pub async fn describe_topic_configs(
        &self,
        names: &[String],
        timeout: Duration,
    ) -> Result<BTreeMap<String, std::result::Result<BTreeMap<String, ConfigEntry>, BrokerError>>>
    {
        let deadline = Deadline::after(timeout);
        let mut items = PerItem::new(names.iter().cloned());
        let mut backoff = Backoff::new();
        while !items.finished() {
            let request = DescribeConfigsRequest::default().with_resources(
                items
                    .todo()
                    .map(|name| {
                        DescribeConfigsResource::default()
                            .with_resource_type(TOPIC_RESOURCE)
                            .with_resource_name(StrBytes::from_string(name.clone()))
                            .with_configuration_keys(None)
                    })
                    .collect(),
            );
            let sent = async {
                let connection = self.cluster.any(&deadline).await?;
                connection.send(&request, deadline.remaining()).await
            };
            match sent.await {
                Ok((response, _)) => {
                    for result in response.results {
                        let outcome = match BrokerError::from_code(
                            result.error_code,
                            result.error_message.map(|m| m.to_string()),
                        ) {
                            None => ItemOutcome::Done(Ok(result
                                .configs
                                .into_iter()
                                .map(|c| {
                                    (
                                        c.name.to_string(),
                                        ConfigEntry {
                                            value: c.value.map(|v| v.to_string()),
                                            source: ConfigSource::from_code(c.config_source),
                                            read_only: c.read_only,
                                            sensitive: c.is_sensitive,
                                        },
                                    )
                                })
                                .filter(|(_, entry)| entry.source != ConfigSource::Default)
                                .collect())),
                            Some(error) if error.is_retriable() => ItemOutcome::Retry(error),
                            Some(error) => ItemOutcome::Done(Err(error)),
                        };
                        items.record(result.resource_name.as_str(), outcome);
                    }
                }
                Err(e) => items.failed(e)?,
            }
            if !items.finished() && !backoff.wait(&deadline).await {
                break;
            }
        }
        items.finish(&deadline, "describe topic configs")
    }

    /// Sets exactly the keys of `config` on `topic` (IncrementalAlterConfigs
    /// SET); every other key keeps its value.
    pub async fn alter_topic_config(
        &self,
        topic: &str,
        config: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> Result<()> {
        if config.is_empty() {
            return Ok(());
        }
        let deadline = Deadline::after(timeout);
        let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(TOPIC_RESOURCE)
                .with_resource_name(StrBytes::from_string(topic.to_string()))
                .with_configs(
                    config
                        .iter()
                        .map(|(key, value)| {
                            AlterableConfig::default()
                                .with_name(StrBytes::from_string(key.clone()))
                                .with_config_operation(OPERATION_SET)
                                .with_value(Some(StrBytes::from_string(value.clone())))
                        })
                        .collect(),
                ),
        ]);
        crate::retry::retrying("alter topic config", &deadline, || async {
            let connection = self.cluster.any(&deadline).await?;
            let (response, _) = connection.send(&request, deadline.remaining()).await?;
            for result in response.responses {
                if let Some(error) = BrokerError::from_code(
                    result.error_code,
                    result.error_message.map(|m| m.to_string()),
                ) {
                    return Err(Error::broker(
                        format!("cannot update the config of topic {topic}"),
                        error,
                    ));
                }
            }
            Ok(())
        })
        .await
    }
}
