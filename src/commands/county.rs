//! `acme-infra county add`.

use acme_stacks::config::{self, NewCounty};

use super::CmdResult;
use crate::cli::stacks::CountyAddArgs;
use crate::output::Console;

pub fn add(a: &CountyAddArgs, c: &mut Console) -> CmdResult {
    let new = NewCounty {
        id: a.id.clone(),
        name: a.name.clone(),
        state: a.state.clone(),
        account: a.account.clone(),
        region: a.region.clone(),
        timezone: a.timezone.clone(),
    };
    let path = config::add_county(&a.env.environments, &new)?;
    c.say(format_args!("created {}", path.display()))?;
    c.say(format_args!(
        "next: review it, then `acme-infra synth --county {}`",
        a.id
    ))
}
