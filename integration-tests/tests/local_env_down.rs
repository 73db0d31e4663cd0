//! `make env-down` stops every demo runner and operator of its environment,
//! not only the ones its pid files name under the current CARGO_TARGET_DIR.
//!
//! Found in review: after `make demo` built into one target directory and
//! `make env-down` ran with another, two local runners survived. They kept
//! starting real processors for every StatefulSet on the API server, and a
//! later test's consumer group saw strangers join it (UnknownMemberId).
//!
//! The runners here are the real `local-runner` binary, talking to the test
//! environment's API server through a copy of its kubeconfig that lives in a
//! run directory of the test's own, and watching an empty namespace of their
//! own, so they do nothing while they run.

#[path = "operator_support/mod.rs"]
mod support;

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A runner started as the demo starts it: its own session, the run
/// directory's kubeconfig in its environment.
fn start_runner(binary: &Path, kubeconfig: &Path, namespace: &str, log: &Path) -> Child {
    let file = std::fs::File::create(log).expect("runner log");
    let err = file.try_clone().expect("clone log handle");
    Command::new(binary)
        .env("KUBECONFIG", kubeconfig)
        .env("LOCAL_RUNNER_NAMESPACE", namespace)
        .env("LOCAL_RUNNER_POLL", "1s")
        .env("RUST_LOG", "info,kube=warn")
        .stdout(file)
        .stderr(err)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()))
}

fn running(child: &mut Child) -> bool {
    matches!(child.try_wait(), Ok(None))
}

/// Waits until the runner has logged its start, so the test stops a runner
/// that works, not one still loading its kubeconfig.
fn wait_started(child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("local runner started") {
            return;
        }
        assert!(
            running(child),
            "the local runner exited before it started; its log:\n{text}"
        );
        assert!(
            Instant::now() < deadline,
            "the local runner did not start within 30 s; its log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn env_down_stops_every_runner_of_its_environment_and_no_other() {
    let kubeconfig = PathBuf::from(integration_tests::environment::require("KUBECONFIG"));
    let runner = integration_tests::binaries::path("local-runner");
    let namespace = support::unique("env-down");

    // Two environments of the test's own; only `ours` is brought down.
    let base = std::env::temp_dir().join(format!("shopstream-env-down-{}", std::process::id()));
    let ours = base.join("ours");
    let theirs = base.join("theirs");
    for dir in [&ours, &theirs] {
        std::fs::create_dir_all(dir.join("logs")).expect("run dir");
        std::fs::copy(&kubeconfig, dir.join("kubeconfig")).expect("copy the kubeconfig");
    }

    // One runner its pid file names, one stray (a second `make demo` whose
    // pid file was overwritten), one of another environment.
    let mut named = start_runner(
        &runner,
        &ours.join("kubeconfig"),
        &namespace,
        &ours.join("logs/named.log"),
    );
    let mut stray = start_runner(
        &runner,
        &ours.join("kubeconfig"),
        &namespace,
        &ours.join("logs/stray.log"),
    );
    let mut other = start_runner(
        &runner,
        &theirs.join("kubeconfig"),
        &namespace,
        &theirs.join("logs/other.log"),
    );
    wait_started(&mut named, &ours.join("logs/named.log"));
    wait_started(&mut stray, &ours.join("logs/stray.log"));
    wait_started(&mut other, &theirs.join("logs/other.log"));
    std::fs::write(ours.join("local-runner.pid"), named.id().to_string()).expect("pid file");

    // A CARGO_TARGET_DIR that is not the one the runners were built in, as
    // when `make demo` and `make env-down` run in different shells.
    let output = Command::new(support::repo_root().join("hack/local/down.sh"))
        .arg("--apps-only")
        .env("SHOPSTREAM_RUN_DIR", &ours)
        .env("CARGO_TARGET_DIR", base.join("some-other-target"))
        .output()
        .expect("run hack/local/down.sh");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();

    let deadline = Instant::now() + Duration::from_secs(5);
    while (running(&mut named) || running(&mut stray)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let named_left = running(&mut named);
    let stray_left = running(&mut stray);
    let other_left = running(&mut other);
    for child in [&mut named, &mut stray, &mut other] {
        kill(child);
    }
    let _ = std::fs::remove_dir_all(&base);

    assert!(
        output.status.success(),
        "hack/local/down.sh --apps-only failed:\n{stderr}"
    );
    assert!(
        !named_left,
        "the runner named by the pid file survived env-down:\n{stderr}"
    );
    assert!(
        !stray_left,
        "a runner of this environment that no pid file names survived env-down:\n{stderr}"
    );
    assert!(
        other_left,
        "env-down stopped another environment's runner:\n{stderr}"
    );
}
