//! The purchase-event generator: see `generator --help` and docs/generator.md.

use std::process::ExitCode;

use clap::Parser;
use shopstream_common::logging;
use shopstream_generator::{Args, run};

fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(args.log_format, "info");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(summary) => {
            tracing::info!(
                produced = summary.produced,
                acknowledged = summary.acknowledged,
                failed = summary.failed,
                expected = summary.expected,
                elapsed_s = summary.elapsed.as_secs_f64(),
                events_per_second = summary.events_per_second().round(),
                interrupted = summary.interrupted,
                "finished"
            );
            println!(
                "generator: {} of {} events acknowledged, {} failed, in {:.3} s = {:.0} events/s",
                summary.acknowledged,
                summary.produced,
                summary.failed,
                summary.elapsed.as_secs_f64(),
                summary.events_per_second()
            );
            if summary.success() {
                ExitCode::SUCCESS
            } else {
                tracing::error!("not every event was acknowledged");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "generator failed");
            ExitCode::FAILURE
        }
    }
}
