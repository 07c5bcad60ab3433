//! `acme-infra synth`.

use acme_stacks::assembly;

use super::{CmdResult, load_counties, synthesize};
use crate::cli::stacks::SynthArgs;
use crate::error::Error;
use crate::output::Console;

pub fn run(a: &SynthArgs, c: &mut Console) -> CmdResult {
    let counties = load_counties(&a.env, &a.counties)?;
    if counties.is_empty() {
        return Err(Error::NoCounties(a.env.environments.clone()));
    }
    let stacks = synthesize(&counties, a.format.into(), a.quiet, c)?;
    assembly::write(&a.out, &stacks).map_err(Error::WriteAssembly)?;
    if a.quiet {
        return Ok(());
    }
    for s in &stacks {
        c.say(format_args!(
            "synthesized {:<24} {:>3} resources {:>8} bytes  {}",
            s.stack_name,
            s.resource_count,
            s.body.len(),
            a.out.join(assembly::template_file(s)).display()
        ))?;
    }
    c.say(format_args!(
        "wrote {} stack(s) and {}",
        stacks.len(),
        a.out.join("manifest.json").display()
    ))
}
