//! One module per command group; each command writes through a [`Console`]
//! and returns a typed [`Error`] for `main` to render.

pub mod county;
pub mod deploy;
pub mod doctor;
pub mod list;
pub mod local;
pub mod migrate;
pub mod migrate_cutover;
pub mod migrate_shadow;
pub mod migrate_sync;
pub mod pipeline;
pub mod plan;
pub mod synth;
pub mod validate;

use acme_stacks::config::{ConfigErrors, CountyConfig, Environments};
use acme_stacks::limits::Level;
use acme_stacks::synth::{Format, SynthesizedStack, check_limits, synthesize_all};

use crate::cli::EnvironmentsArg;
use crate::error::Error;
use crate::output::Console;

pub type CmdResult = Result<(), Error>;

/// Loads the named counties, or all of them when none are named; every
/// county's errors are reported together.
/// One county's file; a county nobody has a file for is a usage error, as in
/// [`load_counties`], so every command gives it the same exit code.
pub fn load_county(env: &EnvironmentsArg, id: &str) -> Result<CountyConfig, Error> {
    let mut one = load_counties(env, &[id.to_owned()])?;
    one.pop()
        .ok_or_else(|| Error::Usage(format!("no county file for `{id}`")))
}

pub fn load_counties(env: &EnvironmentsArg, ids: &[String]) -> Result<Vec<CountyConfig>, Error> {
    let envs = Environments::open(&env.environments)?;
    if ids.is_empty() {
        return Ok(envs.load_all()?);
    }
    let mut ids: Vec<&String> = ids.iter().collect();
    ids.sort();
    ids.dedup();
    // A county nobody has a file for is a bad command line, not a bad file.
    let known = envs.county_ids();
    let unknown = ids
        .iter()
        .filter(|id| !known.contains(id))
        .filter_map(|id| envs.load(id).err())
        .reduce(|mut all, e| {
            all.extend(e);
            all
        });
    if let Some(e) = unknown {
        return Err(Error::UnknownCounty(e));
    }
    let mut out = Vec::with_capacity(ids.len());
    let mut errors: Option<ConfigErrors> = None;
    for id in ids {
        match envs.load(id) {
            Ok(c) => out.push(c),
            Err(e) => match &mut errors {
                Some(all) => all.extend(e),
                None => errors = Some(e),
            },
        }
    }
    match errors {
        Some(e) => Err(e.into()),
        None => Ok(out),
    }
}

/// The one synthesis of `synth`, `diff` and `deploy`: every county (in
/// parallel), its limit findings on stderr (notes only unless `quiet`), and
/// no stack at all when one breaks a limit.
pub fn synthesize(
    counties: &[CountyConfig],
    format: Format,
    quiet: bool,
    c: &mut Console,
) -> Result<Vec<SynthesizedStack>, Error> {
    let stacks = synthesize_all(counties, format)?;
    for f in stacks.iter().flat_map(|s| &s.findings) {
        if f.level != Level::Note || !quiet {
            c.say(format_args!("{f}"))?;
        }
    }
    check_limits(&stacks)?;
    Ok(stacks)
}
