//! `serving`: a pipeline's results in Redis, and its live dashboard. See
//! docs/serving.md and `serving --help`.

use std::process::ExitCode;

use clap::Parser;
use shopstream_common::logging;
use shopstream_serving::service::{Args, run};

fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(args.log_format, "info");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("serving: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "serving failed");
            ExitCode::FAILURE
        }
    }
}
