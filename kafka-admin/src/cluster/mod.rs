//! The client's view of one Kafka cluster: its brokers, the connection to
//! each, partition leaders and group coordinators. Leaders and
//! coordinators are remembered for `metadata_max_age` only, so memory
//! follows what was asked recently, not everything ever asked.

mod routes;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::{Request, StrBytes};
use tracing::debug;

use routes::Routes;
pub(crate) use routes::TopicRoute;

use crate::config::{BrokerAddress, ClientConfig};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::retry::Deadline;

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Target {
    Node(i32),
    /// An address of the bootstrap list, before metadata named the nodes.
    Bootstrap(usize),
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Connection>>>>;

struct State {
    brokers: BTreeMap<i32, BrokerAddress>,
    controller: Option<i32>,
    routes: Routes,
    /// One slot per target; the async lock makes concurrent callers share
    /// one connection attempt instead of racing to open several.
    slots: HashMap<Target, Slot>,
    next_bootstrap: usize,
}

pub(crate) struct Cluster {
    config: ClientConfig,
    state: Mutex<State>,
}

impl Cluster {
    pub(crate) fn new(config: ClientConfig) -> Self {
        let max_age = config.metadata_max_age;
        Self {
            config,
            state: Mutex::new(State {
                brokers: BTreeMap::new(),
                controller: None,
                routes: Routes::new(max_age),
                slots: HashMap::new(),
                next_bootstrap: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The connection to `target`, opened (again) when there is none or the
    /// last one broke.
    async fn connection(&self, target: Target, deadline: &Deadline) -> Result<Arc<Connection>> {
        let (slot, address) = {
            let mut state = self.lock();
            let address = match &target {
                Target::Node(id) => state.brokers.get(id).cloned(),
                Target::Bootstrap(i) => self.config.bootstrap.get(*i).cloned(),
            }
            .ok_or_else(|| Error::NoBroker(format!("{target:?}")))?;
            let slot = state.slots.entry(target.clone()).or_default().clone();
            (slot, address)
        };
        let mut guard = slot.lock().await;
        if let Some(connection) = guard.as_ref().filter(|c| c.is_usable()) {
            return Ok(connection.clone());
        }
        // A broken connection is dropped here, ending its tasks.
        *guard = None;
        let connection =
            Arc::new(Connection::open(&self.config, &address, deadline.remaining()).await?);
        *guard = Some(connection.clone());
        Ok(connection)
    }

    /// The connection to broker `node`.
    pub(crate) async fn node(&self, node: i32, deadline: &Deadline) -> Result<Arc<Connection>> {
        self.connection(Target::Node(node), deadline).await
    }

    /// The controller if metadata named one, else any broker: every broker
    /// forwards admin requests to the active controller (KIP-590), and a
    /// stale choice is answered with NOT_CONTROLLER, which refreshes it.
    pub(crate) async fn controller(&self, deadline: &Deadline) -> Result<Arc<Connection>> {
        let controller = self.lock().controller;
        match controller {
            Some(node) => match self.node(node, deadline).await {
                Ok(connection) => Ok(connection),
                Err(e) => {
                    debug!(node, error = %e, "controller unreachable; using any broker");
                    self.any(deadline).await
                }
            },
            None => {
                self.metadata(&[], deadline).await?;
                let controller = self.lock().controller;
                match controller {
                    Some(node) => self.node(node, deadline).await,
                    None => self.any(deadline).await,
                }
            }
        }
    }

    pub(crate) fn forget_controller(&self) {
        self.lock().controller = None;
    }

    /// Any broker: one already connected if possible, else the known
    /// brokers, else the bootstrap list, each in turn.
    pub(crate) async fn any(&self, deadline: &Deadline) -> Result<Arc<Connection>> {
        let (connected, known, bootstrap_start) = {
            let mut state = self.lock();
            let connected: Vec<Slot> = state
                .slots
                .iter()
                .filter(|(target, _)| matches!(target, Target::Node(id) if state.brokers.contains_key(id)))
                .map(|(_, slot)| slot.clone())
                .collect();
            let known: Vec<i32> = state.brokers.keys().copied().collect();
            let start = state.next_bootstrap;
            state.next_bootstrap = state.next_bootstrap.wrapping_add(1);
            (connected, known, start)
        };
        for slot in connected {
            if let Ok(guard) = slot.try_lock()
                && let Some(connection) = guard.as_ref().filter(|c| c.is_usable())
            {
                return Ok(connection.clone());
            }
        }
        let mut last = None;
        for node in known {
            match self.node(node, deadline).await {
                Ok(connection) => return Ok(connection),
                Err(e) => last = Some(e),
            }
        }
        let count = self.config.bootstrap.len();
        for i in 0..count {
            match self
                .connection(Target::Bootstrap((bootstrap_start + i) % count), deadline)
                .await
            {
                Ok(connection) => return Ok(connection),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::NoBroker("any request".into())))
    }

    /// One Metadata request for `topics` (none: just brokers and
    /// controller). Updates brokers, controller and the routes of the
    /// topics in the reply.
    pub(crate) async fn metadata(
        &self,
        topics: &[String],
        deadline: &Deadline,
    ) -> Result<MetadataResponse> {
        let connection = self.any(deadline).await?;
        let request = MetadataRequest::default()
            .with_topics(Some(
                topics
                    .iter()
                    .map(|name| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
                    })
                    .collect(),
            ))
            .with_allow_auto_topic_creation(false);
        let version = connection
            .versions()
            .negotiate::<MetadataRequest>()
            .ok_or_else(|| Error::UnsupportedApi {
                api: "Metadata",
                broker: connection.broker().to_string(),
            })?;
        // Before version 4 the field does not exist (and brokers never
        // auto-create for the admin client's requests anyway).
        let request = if version < 4 {
            request.with_allow_auto_topic_creation(true)
        } else {
            request
        };
        let response = connection
            .send_version(&request, version, deadline.remaining())
            .await?;
        self.learn(&response);
        Ok(response)
    }

    fn learn(&self, response: &MetadataResponse) {
        let mut state = self.lock();
        let brokers: BTreeMap<i32, BrokerAddress> = response
            .brokers
            .iter()
            .filter_map(|b| {
                Some((
                    b.node_id.0,
                    BrokerAddress {
                        host: b.host.to_string(),
                        port: u16::try_from(b.port).ok()?,
                    },
                ))
            })
            .collect();
        if !brokers.is_empty() {
            // A node whose address changed gets a new connection; nodes that
            // left lose theirs. Bootstrap connections are no longer needed
            // once the nodes are known.
            let old = std::mem::replace(&mut state.brokers, brokers);
            let current = state.brokers.clone();
            state.slots.retain(|target, _| match target {
                Target::Node(id) => current.get(id).is_some_and(|a| old.get(id) == Some(a)),
                Target::Bootstrap(_) => false,
            });
        }
        state.controller = (response.controller_id.0 >= 0).then_some(response.controller_id.0);
        state.routes.learn(response);
    }

    /// The route of `topic` if metadata about it is recent.
    pub(crate) fn route(&self, topic: &str) -> Option<TopicRoute> {
        self.lock().routes.get(topic)
    }

    /// Forgets what is known about `topic`'s leaders.
    pub(crate) fn invalidate(&self, topic: &str) {
        self.lock().routes.forget(topic);
    }

    pub(crate) fn coordinator(&self, group: &str) -> Option<i32> {
        self.lock().routes.coordinator(group)
    }

    pub(crate) fn set_coordinator(&self, group: &str, node: i32, address: Option<BrokerAddress>) {
        let mut state = self.lock();
        if let Some(address) = address
            && !state.brokers.contains_key(&node)
        {
            state.brokers.insert(node, address);
        }
        state.routes.set_coordinator(group, node);
    }

    pub(crate) fn forget_coordinator(&self, group: &str) {
        self.lock().routes.forget_coordinator(group);
    }

    /// Open connections, for tests and diagnostics.
    pub(crate) fn open_connections(&self) -> usize {
        let slots: Vec<Slot> = self.lock().slots.values().cloned().collect();
        slots
            .iter()
            .filter(|slot| {
                slot.try_lock()
                    .map(|guard| guard.as_ref().is_some_and(|c| c.is_usable()))
                    .unwrap_or(true)
            })
            .count()
    }
}

/// The request's name, for messages.
pub(crate) fn api_of<R: Request>() -> &'static str {
    crate::wire::api_name(R::KEY)
}
