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
    controller_port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl PrivateBroker {
    fn script(&self, name: &str) -> Command {
        let mut command = Command::new(repo_root().join("hack/kafka").join(name));
        command
            .env("SHOPSTREAM_RUN_DIR", &self.run_dir)
            .env("KAFKA_PORT", self.port.to_string())
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
        let broker = Self {
            run_dir,
            port: free_port(),
            controller_port: free_port(),
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
