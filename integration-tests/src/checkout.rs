//! Where this checkout is, read when the test runs.
//!
//! `env!("CARGO_MANIFEST_DIR")` is fixed when the crate is compiled, and a
//! compiler cache (sccache) that sees the same sources in two checkouts
//! hands one checkout's compiled crate to the other: the suites then built
//! and ran the other checkout's binaries and scripts. Cargo also sets the
//! variable when it runs a test, to the checkout it runs in; that one wins.

use std::path::PathBuf;

/// The `integration-tests` package directory of the checkout under test.
pub fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The workspace root of the checkout under test.
pub fn workspace_root() -> PathBuf {
    let package = package_dir();
    package.parent().map(PathBuf::from).unwrap_or(package)
}
