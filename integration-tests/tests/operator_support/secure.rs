//! Helpers for tests of a pipeline on the local broker's secured listeners
//! (hack/kafka/README.md): users, ACLs and Secrets made with Kafka's own
//! tools, the local runner for the workloads, and their logs, which the
//! tests grep for key material.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::{Api, Client};

pub fn env(name: &str) -> String {
    integration_tests::environment::require(name)
}

pub fn log_dir() -> PathBuf {
    PathBuf::from(std::env::var("SHOPSTREAM_LOG_DIR").unwrap_or_else(|_| "/tmp".into()))
}

/// Runs a hack/kafka script, bounded in time; its stdout.
pub fn run_hack(script: &str, args: &[&str]) -> String {
    let path = super::repo_root().join("hack/kafka").join(script);
    let output = Command::new(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    assert!(
        output.status.success(),
        "{script} {args:?} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A SCRAM-SHA-512 user with a random password; returns the password.
pub fn scram_user(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("shopstream-{name}"));
    run_hack("user.sh", &["scram", name, &dir.display().to_string()]);
    let password =
        std::fs::read_to_string(dir.join("password")).expect("user.sh wrote the password");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(password.len() >= 16, "a real password");
    password
}

pub async fn create_secret(client: &Client, ns: &str, name: &str, data: &[(&str, &[u8])]) {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), k8s_openapi::ByteString(v.to_vec())))
                .collect(),
        ),
        ..Secret::default()
    };
    api.create(&PostParams::default(), &secret)
        .await
        .expect("Secret created");
}

pub fn read_file(var: &str) -> Vec<u8> {
    let path = env(var);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{var}={path}: {e} (run hack/env-up.sh)"))
}

pub fn assert_not_in(text: &str, secret: &str, what: &str) {
    assert!(
        !text.contains(secret),
        "secret material (a password or key) appears in {what}"
    );
}

/// The local runner for one namespace, in its own process group (as in
/// local_demo.rs).
pub struct RunnerProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl RunnerProcess {
    pub fn start(bin_dir: &Path, namespace: &str) -> Self {
        let binary = bin_dir.join("local-runner");
        let log = log_dir().join(format!("local-runner-test-{namespace}.log"));
        let file = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err = file.try_clone().expect("clone log handle");
        let child = Command::new(&binary)
            .env("LOCAL_RUNNER_NAMESPACE", namespace)
            .env("SHOPSTREAM_BIN_DIR", bin_dir)
            .env("SHOPSTREAM_LOG_DIR", log_dir())
            .env("LOCAL_RUNNER_POLL", "1s")
            .env("LOCAL_RUNNER_MAX_GRACE", "10s")
            .env("RUST_LOG", "info,kube=warn")
            .stdout(file)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Self { child, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RunnerProcess {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..150 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// Every log of the namespace's workload processes, by file name.
pub fn workload_logs(ns: &str) -> Vec<(String, String)> {
    let dir = log_dir().join("local-runner");
    std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("{ns}."))
                })
                .filter(|e| e.path().is_file())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read_to_string(e.path()).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
