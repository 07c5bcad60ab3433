//! `acme-infra`: synthesize, validate and deploy ACME Liquors' county stacks.

// The CLI's doc comments are clap's `--help` text, which writes placeholders
// as `<ID>`, not HTML.
#![allow(rustdoc::invalid_html_tags)]

mod cli;
mod commands;
mod error;
mod output;

use std::io::Write;
use std::process::ExitCode;

use acme_deploy::exit::Exit;
use clap::Parser;

use crate::cli::pipeline::PipelineCommand;
use crate::cli::stacks::CountyCommand;
use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::output::Console;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut console = Console::stdio();
    let result = run(cli.command, &mut console).and_then(|()| console.flush());
    match result {
        Ok(()) => Exit::Ok.into(),
        Err(e) => {
            // A stderr that cannot be written to leaves only the exit code.
            let _ = writeln!(console.err, "{}", e.render());
            e.exit().into()
        }
    }
}

fn run(command: Command, c: &mut Console) -> Result<(), Error> {
    match command {
        Command::Synth(a) => commands::synth::run(&a, c),
        Command::Validate(a) => commands::validate::run(&a, c),
        Command::List(a) => commands::list::run(&a, c),
        Command::County(CountyCommand::Add(a)) => commands::county::add(&a, c),
        Command::Deploy(a) => commands::deploy::deploy(&a, c),
        Command::Bootstrap(a) => commands::deploy::bootstrap(&a),
        Command::Diff(a) => commands::deploy::diff(&a, c),
        Command::Destroy(a) => commands::deploy::destroy(&a, c),
        Command::Status(a) => commands::deploy::status(&a, c),
        Command::Local(a) => commands::local::local(&a),
        Command::Inventory(c2) => commands::local::inventory(&c2, c),
        Command::Orders(c2) => commands::local::orders(&c2, c),
        Command::Migrate(m) => commands::migrate::run(&m, c),
        Command::Plan(a) => commands::plan::run(&a, c),
        Command::Doctor(a) => commands::doctor::run(&a, c),
        Command::Pipeline(PipelineCommand::Init(a)) => commands::pipeline::init(&a, c),
    }
}
