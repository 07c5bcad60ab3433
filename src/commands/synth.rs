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
    let stacks = synthesize_all(&counties, format)?;
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

/// Synthesizes every county, spread over the machine's cores: counties are
/// independent, and a pipeline synthesizes all of them on every change. The
/// result keeps the counties' (sorted) order, so output stays deterministic.
fn synthesize_all(
    counties: &[acme_stacks::config::CountyConfig],
    format: Format,
) -> Result<Vec<synth::SynthesizedStack>, CommandError> {
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 8)
        .min(counties.len().max(1));
    let chunk = counties.len().div_ceil(workers).max(1);
    let results: Vec<Result<Vec<synth::SynthesizedStack>, CommandError>> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = counties
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|c| {
                                synth::synthesize(c, format).map_err(|e| {
                                    CommandError::new(
                                        exit::FAILURE,
                                        format!("error: county {}: {e}", c.id),
                                    )
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(CommandError::new(
                            exit::FAILURE,
                            "error: a synth worker thread panicked",
                        ))
                    })
                })
                .collect()
        });
    let mut stacks = Vec::with_capacity(counties.len());
    for r in results {
        stacks.extend(r?);
    }
    Ok(stacks)
}
