//! `processor`: real-time purchase analytics over Kafka. See
//! docs/processor.md and `processor --help`.

use std::process::ExitCode;

use clap::Parser;
use shopstream_processor::analytics::{Args, run, run::init_logging};

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(&args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("processor: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "processor failed");
            ExitCode::FAILURE
        }
    }
}
