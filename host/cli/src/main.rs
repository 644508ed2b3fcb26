//! The `ingot` binary: parse the command line, start logging, run the command.

use clap::Parser;
use ingot::command::{Cli, LogFormat};
use ingot_core::ErrorClass;
use tracing_subscriber::EnvFilter;

/// What is logged unless `RUST_LOG` says otherwise.
const DEFAULT_FILTER: &str = "warn,ingot=info,ingot_core=info,ingot_delta=info,ingot_sandbox=info,ingot_kafka=info,ingot_pipeline=info,ingot_registry=info,deltalake_core::writer::stats=error,deltalake_core::operations::merge=error";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let log = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER)),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        // The event's spans flattened into it: each line names its tenant,
        // pipeline and stage.
        LogFormat::Json => log.json().flatten_event(true).with_span_list(true).init(),
        LogFormat::Text => log
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    match cli.execute().await {
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            let class = match e.class() {
                ErrorClass::User => "",
                ErrorClass::External => " (external: retrying later may help)",
                ErrorClass::Internal => " (internal error: please report it)",
            };
            eprintln!("error: {e}{class}");
            std::process::ExitCode::from(2)
        }
    }
}
