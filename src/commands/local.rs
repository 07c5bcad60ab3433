//! `acme-infra local` and `acme-infra inventory`: thin wrappers over
//! `acme_local::commands`, mapping its errors onto exit codes.

use acme_local::LocalError;

use super::{CmdResult, CommandError};
use crate::exit;

fn to_command_error(e: LocalError) -> CommandError {
    let code = match &e {
        LocalError::Config(_) => exit::CONFIG_INVALID,
        _ => exit::FAILURE,
    };
    CommandError::new(code, format!("error: {e}"))
}

pub fn local(a: &acme_local::cli::LocalArgs) -> CmdResult {
    acme_local::commands::local(a).map_err(to_command_error)
}

pub fn inventory(c: &acme_local::cli::InventoryCommand) -> CmdResult {
    acme_local::commands::inventory(c).map_err(to_command_error)
}
