//! `acme-infra validate`.

use super::{CmdResult, load_counties};
use crate::cli::ValidateArgs;

pub fn run(a: &ValidateArgs) -> CmdResult {
    let counties = load_counties(&a.env, &a.counties)?;
    eprintln!(
        "ok: {} county file(s) in {} are valid",
        counties.len(),
        a.env.environments.display()
    );
    Ok(())
}
