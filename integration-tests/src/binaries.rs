//! The workspace's binaries, for the suites that run them as processes.
//!
//! Stable cargo cannot make a test depend on another package's binaries
//! (`CARGO_BIN_EXE_*` only exists for the test's own package), so the first
//! call builds them all with `cargo build --bins`, once per test process,
//! in the profile and target directory of the running test, and returns
//! their paths. Cargo makes that build a no-op when they are up to date.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The directory the running test's profile writes binaries to: the test
/// executable is `<target>/<profile>/deps/<test>-<hash>`.
fn profile_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} is not under <target>/<profile>/deps", exe.display()))
}

fn build_all() -> Result<PathBuf, String> {
    let dir = profile_dir()?;
    let workspace = crate::checkout::workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .current_dir(&workspace)
        .args(["build", "--workspace", "--bins", "--locked"]);
    if dir.file_name().is_some_and(|name| name == "release") {
        command.arg("--release");
    }
    if let Some(target) = dir.parent() {
        command.env("CARGO_TARGET_DIR", target);
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !status.success() {
        return Err(format!("`cargo build --workspace --bins` failed: {status}"));
    }
    Ok(dir)
}

/// The path of the workspace binary `name` (e.g. `processor`,
/// `generator`, `analytics-operator`, `local-runner`), built if needed.
pub fn path(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(build_all)
        .as_ref()
        .unwrap_or_else(|e| panic!("building the workspace's binaries: {e}"));
    let binary = dir.join(name);
    assert!(
        binary.is_file(),
        "{} does not exist after building the workspace's binaries",
        binary.display()
    );
    binary
}

/// The directory holding every binary (what the local runner's
/// `--bin-dir` takes).
pub fn dir() -> PathBuf {
    path("generator")
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}
