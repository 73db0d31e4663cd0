//! Support of the tests that need the local environment: the real
//! kube-apiserver and Kafka broker started by `make env-up`. Each file of
//! `tests/` is one suite; `make test` runs them all (`cargo test
//! --workspace`), a plain `cargo test` leaves this member out (the root
//! `default-members`), and a suite run without the environment fails at
//! once, saying what to start ([`environment`]).
//!
//! - [`environment`]: the variables `hack/env.sh` exports;
//! - [`binaries`]: the workspace's binaries the suites run, built once;
//! - [`checkout`]: the directories of the checkout under test;
//! - [`kafka`]: topics, and reading a topic back;
//! - [`generator`]: running the generator binary.

pub mod binaries;
pub mod checkout;
pub mod environment;
pub mod generator;
pub mod kafka;
