//! The purchase-event generator. Its implementation is tracked in the
//! project's generator issue; until then it refuses to start rather than
//! pretend to produce anything.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("generator: not implemented yet");
    ExitCode::from(2)
}
