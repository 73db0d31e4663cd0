//! The local environment's Redis (hack/redis/, started by `hack/env-up.sh`):
//! its addresses, the password of the instance that requires one, clients,
//! and restarting an instance on its data (a real restart: the server
//! process changes, the data comes back from its AOF).
#![allow(dead_code)] // each test crate uses a different subset

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};

/// The two instances `hack/redis/up.sh` starts.
#[derive(Clone, Copy, Debug)]
pub enum Instance {
    /// No password: `SHOPSTREAM_REDIS_ADDR`.
    Open,
    /// `requirepass`, the password in `SHOPSTREAM_REDIS_PASSWORD_FILE`:
    /// `SHOPSTREAM_REDIS_AUTH_ADDR`.
    Auth,
}

/// How `restart` stops the server before starting it again on its data.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// SIGTERM: Redis fsyncs its AOF and exits.
    Clean,
    /// SIGKILL, as a crash or an OOM kill would.
    Crash,
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: this test needs the local Redis (hack/redis/). Run it with \
             `make test`, or `make env-up` and export what `hack/env.sh` prints."
        )
    })
}

impl Instance {
    /// `host:port` on loopback.
    pub fn addr(self) -> String {
        match self {
            Instance::Open => required_env("SHOPSTREAM_REDIS_ADDR"),
            Instance::Auth => required_env("SHOPSTREAM_REDIS_AUTH_ADDR"),
        }
    }

    /// The password a client must send, if any (like a Secret's value).
    pub fn password(self) -> Option<String> {
        match self {
            Instance::Open => None,
            Instance::Auth => Some(auth_password()),
        }
    }

    /// `redis://` URL with this instance's password.
    pub fn url(self) -> String {
        url(&self.addr(), self.password().as_deref())
    }

    fn script_name(self) -> &'static str {
        match self {
            Instance::Open => "main",
            Instance::Auth => "auth",
        }
    }
}

/// The auth instance's password, read from the file `hack/env.sh` names.
pub fn auth_password() -> String {
    let path = required_env("SHOPSTREAM_REDIS_PASSWORD_FILE");
    let password = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading the Redis password file {path}: {e}"));
    password.trim().to_string()
}

/// `redis://[:password@]addr/`. The project's generated passwords are hex,
/// so they need no URL escaping.
pub fn url(addr: &str, password: Option<&str>) -> String {
    match password {
        Some(password) => format!("redis://:{password}@{addr}/"),
        None => format!("redis://{addr}/"),
    }
}

/// A multiplexed connection with bounded connect and response times, so a
/// test against a dead server fails instead of hanging.
pub async fn connect_url(url: &str) -> redis::RedisResult<MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(Duration::from_secs(10)));
    redis::Client::open(url)?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

pub async fn connect(instance: Instance) -> MultiplexedConnection {
    let addr = instance.addr();
    connect_url(&instance.url())
        .await
        .unwrap_or_else(|e| panic!("connecting to the local Redis at {addr}: {e}"))
}

/// A ConnectionManager (what a long-running client such as the serving
/// layer uses): it reconnects by itself after a restart.
pub async fn connection_manager(instance: Instance) -> ConnectionManager {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(Duration::from_secs(10)))
        .set_max_delay(Duration::from_secs(1));
    let addr = instance.addr();
    redis::Client::open(instance.url())
        .unwrap_or_else(|e| panic!("Redis URL for {addr}: {e}"))
        .get_connection_manager_with_config(config)
        .await
        .unwrap_or_else(|e| panic!("connecting to the local Redis at {addr}: {e}"))
}

/// The pid of the server behind `conn` (INFO server), to tell a restarted
/// server from the old one.
pub async fn server_pid(conn: &mut impl redis::aio::ConnectionLike) -> u32 {
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(conn)
        .await
        .expect("INFO server");
    info.lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
        .unwrap_or_else(|| panic!("no process_id in INFO server: {info}"))
}

fn port_of(addr: &str) -> &str {
    addr.rsplit_once(':')
        .map(|(_, port)| port)
        .unwrap_or_else(|| panic!("Redis address {addr} has no port"))
}

fn script(name: &str) -> PathBuf {
    integration_tests::checkout::workspace_root().join(format!("hack/redis/{name}"))
}

/// Runs `hack/redis/<name> <args…>` on this test's instances.
async fn run_script(name: &str, args: &[&str]) {
    let mut command = tokio::process::Command::new("bash");
    command
        .arg(script(name))
        .args(args)
        // The scripts derive the ports from the environment they run in; pin
        // them to the addresses this test talks to, so they can only ever act
        // on these servers (they refuse one whose pid file they do not own).
        .env("REDIS_PORT", port_of(&Instance::Open.addr()))
        .env("REDIS_AUTH_PORT", port_of(&Instance::Auth.addr()))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .unwrap_or_else(|_| panic!("hack/redis/{name} {args:?} finished within 90 s"))
        .unwrap_or_else(|e| panic!("running hack/redis/{name}: {e}"));
    assert!(
        output.status.success(),
        "hack/redis/{name} {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Stops the instance, keeping its data (`hack/redis/down.sh --keep-data`):
/// Redis stays down until [`start`].
pub async fn stop(instance: Instance, stop: Stop) {
    let mut args = vec!["--keep-data"];
    if let Stop::Crash = stop {
        args.push("--kill");
    }
    args.push(instance.script_name());
    run_script("down.sh", &args).await;
}

/// Starts a stopped instance on its data; returns once it answers PING.
pub async fn start(instance: Instance) {
    run_script("up.sh", &[instance.script_name()]).await;
}

/// Starts the instance again when dropped (a test that stopped it and then
/// failed must not leave it down for the next suites); a no-op when it
/// runs already.
pub struct StartOnDrop(pub Instance);

impl Drop for StartOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(script("up.sh"))
            .arg(self.0.script_name())
            .env("REDIS_PORT", port_of(&Instance::Open.addr()))
            .env("REDIS_AUTH_PORT", port_of(&Instance::Auth.addr()))
            .stdin(Stdio::null())
            .status();
    }
}

/// Stops the instance and starts it again on the same data dir
/// (`hack/redis/restart.sh`); returns once it answers PING. Connections
/// made before are broken afterwards.
pub async fn restart(instance: Instance, stop: Stop) {
    let mut args = Vec::new();
    if let Stop::Crash = stop {
        args.push("--kill");
    }
    args.push(instance.script_name());
    run_script("restart.sh", &args).await;
}
