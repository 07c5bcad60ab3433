//! `acme-infra validate`.

use super::{CmdResult, load_counties};
use crate::cli::stacks::ValidateArgs;
use crate::output::Console;

pub fn run(a: &ValidateArgs, c: &mut Console) -> CmdResult {
    let counties = load_counties(&a.env, &a.counties)?;
    c.say(format_args!(
        "ok: {} county file(s) in {} are valid",
        counties.len(),
        a.env.environments.display()
    ))
}
