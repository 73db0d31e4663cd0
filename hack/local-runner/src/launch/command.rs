//! The program a container runs, as a host program.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::Container;

/// A program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl CommandLine {
    /// The container's `command` and `args`. A command without a slash
    /// (`processor`) names one of the workspace's binaries in `bin_dir`,
    /// which stand in for the image's; one that is not there is looked up
    /// on the host's PATH (`redis-server`, the managed Redis's, is
    /// Debian's).
    pub fn of(container: &Container, bin_dir: &Path) -> Result<Self> {
        let mut argv: Vec<String> = container.command.clone().unwrap_or_default();
        argv.extend(container.args.clone().unwrap_or_default());
        if argv.is_empty() {
            bail!(
                "container {} has no command (the image's entrypoint cannot be run locally)",
                container.name
            );
        }
        let name = argv.remove(0);
        let program = if name.contains('/') {
            PathBuf::from(&name)
        } else {
            let workspace = bin_dir.join(&name);
            if workspace.is_file() {
                workspace
            } else {
                on_path(&name).unwrap_or(workspace)
            }
        };
        Ok(Self {
            program,
            args: argv,
        })
    }

    /// Fails, saying how to fix it, when the program is not there.
    pub fn ensure_program_exists(&self) -> Result<()> {
        if !self.program.is_file() {
            bail!(
                "no binary for the container command {:?}: {} does not exist (build the workspace: cargo build --workspace, or set SHOPSTREAM_BIN_DIR; a program that is not the workspace's must be on the PATH, e.g. redis-server, which hack/redis/up.sh installs)",
                self.program
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                self.program.display()
            );
        }
        Ok(())
    }

    /// The command line as one string, for logs.
    pub fn display(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `name` in a directory of the host's PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(command: Option<&[&str]>, args: Option<&[&str]>) -> Container {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Container {
            name: "processor".into(),
            command: command.map(strings),
            args: args.map(strings),
            ..Container::default()
        }
    }

    #[test]
    fn a_bare_command_is_looked_up_in_the_bin_dir_and_args_follow_it() {
        let c = container(Some(&["processor", "--stage", "1"]), Some(&["--verbose"]));
        let line = CommandLine::of(&c, Path::new("/repo/target/debug")).expect("command line");
        assert_eq!(
            line,
            CommandLine {
                program: PathBuf::from("/repo/target/debug/processor"),
                args: vec!["--stage".into(), "1".into(), "--verbose".into()],
            }
        );
        assert_eq!(
            line.display(),
            "/repo/target/debug/processor --stage 1 --verbose"
        );
    }

    #[test]
    fn a_bare_command_missing_from_the_bin_dir_comes_from_the_path() {
        let c = container(Some(&["sh"]), None);
        let line = CommandLine::of(&c, Path::new("/nonexistent-dir")).expect("command line");
        assert!(line.program.is_absolute(), "{}", line.program.display());
        assert!(line.program.ends_with("sh"));
        line.ensure_program_exists().expect("sh is on the PATH");
        let c = container(Some(&["no-such-program-anywhere"]), None);
        let line = CommandLine::of(&c, Path::new("/bin-dir")).expect("command line");
        assert_eq!(
            line.program,
            PathBuf::from("/bin-dir/no-such-program-anywhere")
        );
    }

    #[test]
    fn a_command_with_a_slash_is_used_as_is() {
        let c = container(Some(&["/usr/bin/env"]), None);
        let line = CommandLine::of(&c, Path::new("/bin-dir")).expect("command line");
        assert_eq!(line.program, PathBuf::from("/usr/bin/env"));
        assert!(line.args.is_empty());
    }

    #[test]
    fn no_command_is_an_error_naming_the_container() {
        let err = CommandLine::of(&container(None, None), Path::new("/b")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "container processor has no command (the image's entrypoint cannot be run locally)"
        );
    }

    #[test]
    fn a_missing_binary_says_how_to_build_it() {
        let line = CommandLine {
            program: PathBuf::from("/nonexistent-dir/processor"),
            args: Vec::new(),
        };
        let err = line.ensure_program_exists().unwrap_err().to_string();
        assert!(err.contains("\"processor\""), "{err}");
        assert!(err.contains("cargo build --workspace"), "{err}");

        let present = CommandLine {
            program: std::env::current_exe().expect("test binary"),
            args: Vec::new(),
        };
        present
            .ensure_program_exists()
            .expect("the test binary exists");
    }
}
