//! The workloads the runner runs: what each asks for (`desired`), the
//! decisions that bring its processes there (`plan`, pure), and carrying
//! them out (`converge`, `start`).

pub mod converge;
pub mod desired;
pub mod plan;
pub mod pod_names;
pub mod start;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use kube::ResourceExt;
use tokio::process::Child;

use plan::ReplicaStatus;

/// The kinds of workload object whose pods the runner runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
        })
    }
}

/// One workload object. The kind is part of it: a Deployment and a
/// StatefulSet of the same name are different workloads (the operator may
/// replace one by the other).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadKey {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
}

impl WorkloadKey {
    pub fn of(kind: WorkloadKind, object: &impl ResourceExt) -> Self {
        Self {
            kind,
            namespace: object.namespace().unwrap_or_default(),
            name: object.name_any(),
        }
    }
}

impl fmt::Display for WorkloadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// The processes of one workload, all started from one pod template.
pub struct Workload {
    pub key: WorkloadKey,
    /// The pod template as JSON: any change restarts every replica.
    pub fingerprint: String,
    pub grace: Duration,
    pub replicas: BTreeMap<usize, Replica>,
    /// The last start error, so that it is logged once rather than per poll.
    pub last_error: Option<String>,
}

impl Workload {
    pub fn new(key: WorkloadKey, fingerprint: String, grace: Duration) -> Self {
        Self {
            key,
            fingerprint,
            grace,
            replicas: BTreeMap::new(),
            last_error: None,
        }
    }

    pub fn statuses(&self) -> BTreeMap<usize, ReplicaStatus> {
        self.replicas
            .iter()
            .map(|(index, r)| (*index, r.status()))
            .collect()
    }

    /// The pod names that running processes stand in for.
    pub fn running_pod_names(&self) -> HashSet<String> {
        self.replicas
            .values()
            .filter(|r| matches!(r.process, ReplicaProcess::Running(_)))
            .map(|r| r.pod_name.clone())
            .collect()
    }
}

/// One replica of one workload.
pub struct Replica {
    pub index: usize,
    pub pod_name: String,
    pub metrics_port: Option<u16>,
    pub started: Instant,
    /// Restarts in a row, for the back-off.
    pub restarts: u32,
    pub process: ReplicaProcess,
}

pub enum ReplicaProcess {
    Running(Child),
    /// Exited; not restarted before `restart_at`.
    Exited {
        restart_at: Instant,
    },
}

impl Replica {
    pub fn status(&self) -> ReplicaStatus {
        match self.process {
            ReplicaProcess::Running(_) => ReplicaStatus::Running,
            ReplicaProcess::Exited { restart_at } => ReplicaStatus::RestartAt(restart_at),
        }
    }
}
