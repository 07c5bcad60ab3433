//! `acme-infra`: synthesize, validate and deploy ACME Liquors' county stacks.

mod cli;
mod commands;
mod exit;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, CountyCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Synth(a) => commands::synth::run(&a),
        Command::Validate(a) => commands::validate::run(&a),
        Command::List(a) => commands::list::run(&a),
        Command::County(CountyCommand::Add(a)) => commands::county::add(&a),
        Command::Deploy(a) => commands::deploy::deploy(&a),
        Command::Bootstrap(a) => commands::deploy::bootstrap(&a),
        Command::Diff(a) => commands::deploy::diff(&a),
        Command::Destroy(a) => commands::deploy::destroy(&a),
        Command::Status(a) => commands::deploy::status(&a),
        Command::Local(a) => commands::local::local(&a),
        Command::Inventory(c) => commands::local::inventory(&c),
    };
    match result {
        Ok(()) => ExitCode::from(exit::OK as u8),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.code as u8)
        }
    }
}
