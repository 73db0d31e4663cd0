//! A Kafka broker of a test's own: hack/kafka/up.sh with its own run
//! directory (data, pid file, logs) and ports, so the environment's main
//! broker is never touched. Starts with an empty data directory; stopped
//! and deleted when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::repo_root;

pub struct PrivateBroker {
    run_dir: PathBuf,
    pub port: u16,
    sasl_ssl_port: u16,
    mtls_port: u16,
    controller_port: u16,
}

/// The broker's four listeners (plaintext, SASL_SSL, mTLS, controller).
const LISTENERS: usize = 4;

/// Four distinct free loopback ports below the kernel's ephemeral range
/// (32768 and up): a port handed out by `bind(0)` can be taken by any client
/// connection's local end before the broker binds it, which made the broker
/// exit with "Address already in use" in CI. All four are held at once while
/// choosing, so they differ from each other.
fn free_ports() -> [u16; LISTENERS] {
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
        ^ (u64::from(std::process::id()) << 16);
    let mut held = Vec::with_capacity(LISTENERS);
    for _ in 0..10_000 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let port = 20_000 + ((seed >> 33) % 12_000) as u16;
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            held.push((port, listener));
            if held.len() == LISTENERS {
                let mut ports = [0; LISTENERS];
                for (slot, (port, _)) in ports.iter_mut().zip(&held) {
                    *slot = *port;
                }
                return ports;
            }
        }
    }
    panic!("no {LISTENERS} free loopback ports in 20000..32000");
}

impl PrivateBroker {
    fn script(&self, name: &str) -> Command {
        let mut command = Command::new(repo_root().join("hack/kafka").join(name));
        command
            .env("SHOPSTREAM_RUN_DIR", &self.run_dir)
            .env("KAFKA_PORT", self.port.to_string())
            .env("KAFKA_SASL_SSL_PORT", self.sasl_ssl_port.to_string())
            .env("KAFKA_MTLS_PORT", self.mtls_port.to_string())
            .env("KAFKA_CONTROLLER_PORT", self.controller_port.to_string());
        command
    }

    fn up(&self, what: &str) {
        let output = self.script("up.sh").output().expect("run hack/kafka/up.sh");
        assert!(
            output.status.success(),
            "{what}: the private Kafka broker (run dir {}) did not start: {}",
            self.run_dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A fresh broker (empty data directory); `tag` names its run directory.
    pub fn start(tag: &str) -> Self {
        let run_dir =
            std::env::temp_dir().join(format!("shopstream-broker-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run_dir);
        let [port, sasl_ssl_port, mtls_port, controller_port] = free_ports();
        let broker = Self {
            run_dir,
            port,
            sasl_ssl_port,
            mtls_port,
            controller_port,
        };
        broker.up(tag);
        broker
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the broker (SIGTERM, as a rolling restart does) and starts it
    /// again on the same data: every client connection drops in between.
    pub fn restart(&self) {
        let pid_file = self.run_dir.join("kafka.pid");
        let pid = std::fs::read_to_string(&pid_file).expect("the broker's pid file");
        let pid = pid.trim().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(Instant::now() < deadline, "broker {pid} did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
        self.up("restart");
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        let _ = self.script("down.sh").output();
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}
