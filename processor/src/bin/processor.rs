//! The windowed analytics processor. Its implementation is tracked in the
//! project's processor issue; until then it refuses to start rather than
//! pretend to process anything.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("processor: not implemented yet");
    ExitCode::from(2)
}
