//! Servers among the workloads, on a shared host.
//!
//! In a cluster, a StatefulSet's pod listens on its container port in a
//! network namespace of its own and clients reach it by its Service's name
//! (`<service>.<namespace>.svc:<port>`). Here every process shares
//! 127.0.0.1 and no cluster DNS exists, so:
//! - a server whose arguments name its port (`--port N`, N one of its
//!   container ports; `redis-server` is one) gets a free loopback port of
//!   its own instead, kept for the workload's life so that a restarted
//!   server is found where its clients left it, and `--bind` becomes
//!   127.0.0.1 (nothing listens beyond loopback);
//! - every other process's environment value naming that Service's address
//!   is rewritten to the loopback one.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;

use super::env::Environment;

/// The container port a server's `--port` argument names, if it has one.
pub fn listening_port(container: &Container) -> Option<u16> {
    let args = container.args.as_deref().unwrap_or_default();
    let value = args
        .windows(2)
        .find(|pair| pair[0] == "--port")
        .map(|pair| pair[1].as_str())?;
    let port: i32 = value.parse().ok()?;
    container
        .ports
        .iter()
        .flatten()
        .any(|p| p.container_port == port)
        .then(|| u16::try_from(port).ok())
        .flatten()
}

/// The server listens on 127.0.0.1:`host_port`: `--port` and `--bind`
/// rewritten. Pure.
pub fn relocate(args: &mut [String], host_port: u16) {
    for i in 1..args.len() {
        match args[i - 1].as_str() {
            "--port" => args[i] = host_port.to_string(),
            "--bind" => args[i] = "127.0.0.1".into(),
            _ => {}
        }
    }
}

/// Service addresses of the servers the runner runs → their loopback
/// addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAddresses(BTreeMap<String, String>);

impl ServiceAddresses {
    /// `<service>.<namespace>.svc[.cluster.local]:<port>` now means
    /// 127.0.0.1:`host_port`.
    pub fn register(&mut self, namespace: &str, service: &str, port: u16, host_port: u16) {
        let local = format!("127.0.0.1:{host_port}");
        for domain in ["svc", "svc.cluster.local"] {
            self.0.insert(
                format!("{service}.{namespace}.{domain}:{port}"),
                local.clone(),
            );
        }
    }

    /// The loopback address standing in for a Service address.
    pub fn get(&self, address: &str) -> Option<&str> {
        self.0.get(address).map(String::as_str)
    }

    /// Environment values that are a registered Service address (exactly:
    /// `host:port`) now name its loopback address.
    pub fn rewrite(&self, env: &mut Environment) {
        let rewritten: Vec<(String, String)> = env
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), self.get(value)?.to_string())))
            .collect();
        for (name, value) in rewritten {
            env.set(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ContainerPort;

    use super::*;

    fn server(args: &[&str], port: i32) -> Container {
        Container {
            name: "redis".into(),
            args: Some(args.iter().map(|a| a.to_string()).collect()),
            ports: Some(vec![ContainerPort {
                container_port: port,
                ..ContainerPort::default()
            }]),
            ..Container::default()
        }
    }

    #[test]
    fn a_server_is_one_that_names_its_container_port() {
        let redis = server(&["--port", "6379", "--bind", "0.0.0.0"], 6379);
        assert_eq!(listening_port(&redis), Some(6379));
        // Another port than the container's: not a server the runner moves.
        assert_eq!(listening_port(&server(&["--port", "1"], 6379)), None);
        assert_eq!(listening_port(&server(&["--verbose"], 6379)), None);
        assert_eq!(listening_port(&server(&["--port"], 6379)), None);
    }

    #[test]
    fn relocated_to_loopback() {
        let mut args: Vec<String> = ["--port", "6379", "--bind", "0.0.0.0", "--dir", "/data"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        relocate(&mut args, 41000);
        assert_eq!(
            args,
            ["--port", "41000", "--bind", "127.0.0.1", "--dir", "/data"]
        );
    }

    #[test]
    fn clients_find_the_server_by_its_service_address() {
        let mut services = ServiceAddresses::default();
        services.register("shop", "p-redis", 6379, 41000);
        let mut env = Environment::default();
        env.set("SERVING_REDIS_ADDRESS", "p-redis.shop.svc:6379");
        env.set("FQDN", "p-redis.shop.svc.cluster.local:6379");
        env.set("OTHER_NS", "p-redis.other.svc:6379");
        env.set("OTHER_PORT", "p-redis.shop.svc:6380");
        services.rewrite(&mut env);
        assert_eq!(env.get("SERVING_REDIS_ADDRESS"), Some("127.0.0.1:41000"));
        assert_eq!(env.get("FQDN"), Some("127.0.0.1:41000"));
        assert_eq!(env.get("OTHER_NS"), Some("p-redis.other.svc:6379"));
        assert_eq!(env.get("OTHER_PORT"), Some("p-redis.shop.svc:6380"));
    }
}
