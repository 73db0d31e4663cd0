//! The runner's settings: flags, each with an environment variable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use clap::Parser;

/// The label every workload the operator creates carries.
pub const MANAGED_BY_SELECTOR: &str = "app.kubernetes.io/managed-by=shopstream-operator";

#[derive(Parser, Debug, Clone)]
#[command(
    version,
    about = "Runs the shopstream operator's Deployments and StatefulSets as local processes"
)]
pub struct Args {
    /// Only workloads in this namespace (default: all namespaces).
    #[arg(long, env = "LOCAL_RUNNER_NAMESPACE")]
    pub namespace: Option<String>,
    /// Label selector of the Deployments and StatefulSets to run.
    #[arg(long, env = "LOCAL_RUNNER_SELECTOR", default_value = MANAGED_BY_SELECTOR)]
    pub selector: String,
    /// Where a container command without a slash (`processor`) is looked up.
    /// Default: the directory of this binary (target/debug next to it).
    #[arg(long, env = "SHOPSTREAM_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Per-process logs go to DIR/local-runner/.
    #[arg(long, env = "SHOPSTREAM_LOG_DIR", default_value = ".")]
    pub log_dir: PathBuf,
    /// How often the workloads are listed.
    #[arg(long, env = "LOCAL_RUNNER_POLL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub poll: Duration,
    /// Upper bound on the SIGTERM-to-SIGKILL grace period.
    #[arg(long, env = "LOCAL_RUNNER_MAX_GRACE", default_value = "15s", value_parser = humantime::parse_duration)]
    pub max_grace: Duration,
}

impl Args {
    /// Where container commands are looked up: `--bin-dir`, else the
    /// directory of this executable (cargo puts the workspace's binaries
    /// next to each other).
    pub fn bin_dir(&self) -> Result<PathBuf> {
        match &self.bin_dir {
            Some(dir) => Ok(dir.clone()),
            None => std::env::current_exe()
                .context("locating this executable")?
                .parent()
                .map(Path::to_path_buf)
                .ok_or_else(|| anyhow!("this executable has no parent directory")),
        }
    }

    /// Where the per-process logs go.
    pub fn process_log_dir(&self) -> PathBuf {
        self.log_dir.join("local-runner")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_flag_definitions_are_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn durations_are_human_readable() {
        let args = Args::try_parse_from([
            "local-runner",
            "--poll",
            "500ms",
            "--max-grace",
            "1m",
            "--selector",
            "a=b",
        ])
        .expect("valid flags");
        assert_eq!(args.poll, Duration::from_millis(500));
        assert_eq!(args.max_grace, Duration::from_secs(60));
        assert_eq!(args.selector, "a=b");
    }

    #[test]
    fn a_malformed_duration_is_rejected() {
        let err = Args::try_parse_from(["local-runner", "--poll", "soon"]).unwrap_err();
        assert!(err.to_string().contains("--poll"), "{err}");
    }

    #[test]
    fn an_explicit_bin_dir_wins_and_logs_go_to_a_subdirectory() {
        let args = Args::try_parse_from([
            "local-runner",
            "--bin-dir",
            "/opt/bin",
            "--log-dir",
            "/var/log/shop",
        ])
        .expect("valid flags");
        assert_eq!(args.bin_dir().expect("bin dir"), PathBuf::from("/opt/bin"));
        assert_eq!(
            args.process_log_dir(),
            PathBuf::from("/var/log/shop/local-runner")
        );
    }
}
