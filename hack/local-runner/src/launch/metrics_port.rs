//! Metrics ports on a shared host.
//!
//! Every Pod has its own network namespace, so every replica listens on the
//! same `METRICS_ADDR` port; here all processes share 127.0.0.1, so each one
//! that serves metrics gets a port of its own.

use anyhow::{Context as _, Result};

use super::env::Environment;

/// The variable the operator's workloads read their listen address from.
pub const METRICS_ADDR: &str = "METRICS_ADDR";

/// Points `METRICS_ADDR`, when the container sets it, at 127.0.0.1 and a
/// port from `allocate`; returns that port. A container without it keeps
/// its environment and no port is taken.
pub fn assign_metrics_port(
    env: &mut Environment,
    allocate: impl FnOnce() -> Result<u16>,
) -> Result<Option<u16>> {
    if env.get(METRICS_ADDR).is_none() {
        return Ok(None);
    }
    let port = allocate()?;
    env.set(METRICS_ADDR, format!("127.0.0.1:{port}"));
    Ok(Some(port))
}

/// A port that is free on 127.0.0.1 right now. (Another process could take
/// it before the workload binds it; on a demo host that race is rare, and a
/// workload that fails to bind exits and is restarted with a new port.)
pub fn free_loopback_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use anyhow::bail;

    use super::*;

    #[test]
    fn metrics_addr_is_moved_to_a_loopback_port_of_its_own() {
        let mut env = Environment::default();
        env.set(METRICS_ADDR, "0.0.0.0:9090");
        env.set("LOG_FORMAT", "json");
        let port = assign_metrics_port(&mut env, || Ok(41234)).expect("assigned");
        assert_eq!(port, Some(41234));
        assert_eq!(env.get(METRICS_ADDR), Some("127.0.0.1:41234"));
        assert_eq!(env.get("LOG_FORMAT"), Some("json"));
    }

    #[test]
    fn without_metrics_addr_no_port_is_taken() {
        let mut env = Environment::default();
        env.set("LOG_FORMAT", "json");
        let before = env.clone();
        let port = assign_metrics_port(&mut env, || bail!("must not be called")).expect("ok");
        assert_eq!(port, None);
        assert_eq!(env, before);
    }

    #[test]
    fn an_allocation_failure_is_reported() {
        let mut env = Environment::default();
        env.set(METRICS_ADDR, "0.0.0.0:9090");
        let err = assign_metrics_port(&mut env, || bail!("no ports left")).unwrap_err();
        assert_eq!(err.to_string(), "no ports left");
    }

    #[test]
    fn a_free_loopback_port_can_be_bound() {
        let port = free_loopback_port().expect("a free port");
        assert_ne!(port, 0);
        std::net::TcpListener::bind(("127.0.0.1", port)).expect("still free");
    }
}
