//! The `ingot` binary: parse the command line, start logging, run the command.

use clap::Parser;
use ingot::command::Cli;
use ingot_core::ErrorClass;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(
                    "warn,ingot=info,ingot_core=info,ingot_delta=info,ingot_sandbox=info,ingot_kafka=info,ingot_pipeline=info,ingot_registry=info,deltalake_core::writer::stats=error,deltalake_core::operations::merge=error",
                )),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().execute().await {
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
