//! The repository's build files agree with the workspace: checks that need
//! nothing running, so a plain `cargo test` runs them.

use std::path::PathBuf;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// docker/Dockerfile copies the build context that .dockerignore allows;
/// cargo refuses to build when a workspace member is missing from it.
#[test]
fn docker_context_holds_every_workspace_member() {
    let root = repo_root();
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).expect("read Cargo.toml");
    let members = cargo
        .split_once("members")
        .and_then(|(_, rest)| rest.split_once('['))
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .expect("[workspace] members = [...] in Cargo.toml");
    let members: Vec<&str> = members
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
        .collect();
    assert!(members.contains(&"operator") && members.contains(&"processor"));
    let ignore = std::fs::read_to_string(root.join(".dockerignore")).expect("read .dockerignore");
    let allowed: Vec<&str> = ignore
        .lines()
        .filter_map(|l| l.trim().strip_prefix('!'))
        .map(|l| l.trim_end_matches('/'))
        .collect();
    for needed in ["Cargo.toml", "Cargo.lock"].iter().chain(members.iter()) {
        assert!(
            allowed.contains(needed),
            ".dockerignore does not allow {needed} into the image build context: add `!{needed}/`"
        );
    }
    let dockerfile =
        std::fs::read_to_string(root.join("docker/Dockerfile")).expect("read docker/Dockerfile");
    for target in ["operator", "processor", "generator"] {
        assert!(
            dockerfile.contains(&format!(" AS {target}\n")),
            "docker/Dockerfile has no `{target}` target (make images builds it)"
        );
    }
}
