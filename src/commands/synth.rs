//! `acme-infra synth`.

use acme_stacks::assembly;
use acme_stacks::limits::Level;
use acme_stacks::synth::{self, Format};

use super::{CmdResult, CommandError, load_counties};
use crate::cli::{FormatArg, SynthArgs};
use crate::exit;

pub fn run(a: &SynthArgs) -> CmdResult {
    let counties = load_counties(&a.env, &a.counties)?;
    if counties.is_empty() {
        return Err(CommandError::new(
            exit::CONFIG_INVALID,
            format!(
                "error: no county files in {}; add one with `acme-infra county add`",
                a.env.environments.display()
            ),
        ));
    }
    let format = match a.format {
        FormatArg::Json => Format::Json,
        FormatArg::Yaml => Format::Yaml,
    };
    let mut stacks = Vec::with_capacity(counties.len());
    for c in &counties {
        let s = synth::synthesize(c, format).map_err(|e| {
            CommandError::new(exit::FAILURE, format!("error: county {}: {e}", c.id))
        })?;
        stacks.push(s);
    }
    let mut errors = 0;
    for s in &stacks {
        for f in &s.findings {
            if f.level == Level::Error {
                errors += 1;
            }
            if f.level != Level::Note || !a.quiet {
                eprintln!("{f}");
            }
        }
    }
    if errors > 0 {
        return Err(CommandError::new(
            exit::LIMIT_EXCEEDED,
            format!("error: {errors} stack(s) break CloudFormation limits; nothing was written"),
        ));
    }
    assembly::write(&a.out, &stacks)
        .map_err(|e| CommandError::new(exit::FAILURE, format!("error: {e}")))?;
    if !a.quiet {
        for s in &stacks {
            eprintln!(
                "synthesized {:<24} {:>3} resources {:>8} bytes  {}",
                s.stack_name,
                s.resource_count,
                s.body.len(),
                a.out.join(assembly::template_file(s)).display()
            );
        }
        eprintln!(
            "wrote {} stack(s) and {}",
            stacks.len(),
            a.out.join("manifest.json").display()
        );
    }
    Ok(())
}
