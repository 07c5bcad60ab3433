//! `acme-infra county add`.

use acme_stacks::config::{self, NewCounty};

use super::{CmdResult, CommandError};
use crate::cli::CountyAddArgs;
use crate::exit;

pub fn add(a: &CountyAddArgs) -> CmdResult {
    let new = NewCounty {
        id: a.id.clone(),
        name: a.name.clone(),
        state: a.state.clone(),
        account: a.account.clone(),
        region: a.region.clone(),
        timezone: a.timezone.clone(),
    };
    match config::add_county(&a.env.environments, &new) {
        Ok(path) => {
            eprintln!("created {}", path.display());
            eprintln!("next: review it, then `acme-infra synth --county {}`", a.id);
            Ok(())
        }
        Err(e) => Err(CommandError::new(add_error_code(&e), e.to_string())),
    }
}

fn add_error_code(e: &config::AddCountyError) -> i32 {
    match e {
        config::AddCountyError::AlreadyExists { .. } => exit::ALREADY_EXISTS,
        config::AddCountyError::Invalid(_) => exit::CONFIG_INVALID,
        _ => exit::FAILURE,
    }
}
