//! `sesame`: the server, the delivery worker and the administration commands in one binary.

mod app;
mod backchannel;
mod cli;
mod commands;
mod config;
mod error;
mod keyfile;

use clap::Parser as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    // One TLS crypto provider for the whole process (several dependencies bring rustls).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
