//! Synthesis: county configuration in, template text and limit findings out.
//! [`synthesize_all`] is the one entry point `synth`, `diff` and `deploy` use,
//! so every command applies CloudFormation's limits the same way.

use std::collections::BTreeMap;

use crate::cfn::TemplateError;
use crate::config::{AccountAccess, CountyConfig};
use crate::county;
use crate::limits::{self, Finding};

/// Template serialization format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Json,
    Yaml,
}

impl Format {
    /// File extension of a template in this format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Yaml => "yaml",
        }
    }
}

/// One county's synthesized stack.
#[derive(Debug, Clone)]
pub struct SynthesizedStack {
    pub county_id: String,
    pub stack_name: String,
    pub account: String,
    pub region: String,
    /// Stack-level tags (CloudFormation propagates them to supported resources).
    pub tags: BTreeMap<String, String>,
    /// How a deploy reaches the stack's account (`access:` of the county file).
    pub access: Option<AccountAccess>,
    pub format: Format,
    /// The template text in `format`.
    pub body: String,
    pub resource_count: usize,
    /// Limit findings (errors, warnings, notes).
    pub findings: Vec<Finding>,
}

impl SynthesizedStack {
    /// True if any finding is an error: the stack must not be written or deployed.
    pub fn has_errors(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.level == limits::Level::Error)
    }
}

/// Why synthesis stopped.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A county's stack could not be built or serialized.
    #[error("county {county}: {source}")]
    Template {
        county: String,
        #[source]
        source: TemplateError,
    },
    /// At least one stack breaks a hard CloudFormation limit; the findings
    /// say which (they are part of each stack's `findings`).
    #[error("{} stack(s) break CloudFormation limits; nothing was written", stacks.len())]
    LimitsExceeded { stacks: Vec<String> },
    /// A worker thread panicked (a bug); its county's result is lost.
    #[error("a synth worker thread panicked")]
    WorkerPanicked,
}

/// Synthesizes every county, spread over the machine's cores: counties are
/// independent, and a pipeline synthesizes all of them on every change. The
/// result keeps the counties' order, so output stays deterministic. Limit
/// findings stay on each stack for the caller to show; [`check_limits`]
/// decides whether the stacks may be written or deployed.
pub fn synthesize_all(
    counties: &[CountyConfig],
    format: Format,
) -> Result<Vec<SynthesizedStack>, SynthError> {
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 8)
        .min(counties.len().max(1));
    let chunk = counties.len().div_ceil(workers).max(1);
    let parts: Vec<Result<Vec<SynthesizedStack>, SynthError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = counties
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(|c| synthesize_one(c, format)).collect())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(SynthError::WorkerPanicked)))
            .collect()
    });
    let mut stacks = Vec::with_capacity(counties.len());
    for part in parts {
        stacks.extend(part?);
    }
    Ok(stacks)
}

fn synthesize_one(cfg: &CountyConfig, format: Format) -> Result<SynthesizedStack, SynthError> {
    synthesize(cfg, format).map_err(|source| SynthError::Template {
        county: cfg.id.clone(),
        source,
    })
}

/// Refuses stacks with an error-level finding: they must not be written or deployed.
pub fn check_limits(stacks: &[SynthesizedStack]) -> Result<(), SynthError> {
    let broken: Vec<String> = stacks
        .iter()
        .filter(|s| s.has_errors())
        .map(|s| s.stack_name.clone())
        .collect();
    if broken.is_empty() {
        Ok(())
    } else {
        Err(SynthError::LimitsExceeded { stacks: broken })
    }
}

/// Builds and serializes one county's stack, and checks it against CloudFormation's limits.
pub fn synthesize(cfg: &CountyConfig, format: Format) -> Result<SynthesizedStack, TemplateError> {
    let template = county::build(cfg)?;
    let body = match format {
        Format::Json => template.to_json(),
        Format::Yaml => template.to_yaml()?,
    };
    let stack_name = county::stack_name(&cfg.id);
    let findings = limits::check(&stack_name, &template, body.len());
    Ok(SynthesizedStack {
        county_id: cfg.id.clone(),
        account: cfg.account.clone(),
        region: cfg.region.clone(),
        tags: county::tags(cfg)
            .into_iter()
            .map(|t| (t.key, t.value.as_lit().unwrap_or_default().to_owned()))
            .collect(),
        access: cfg.access.clone(),
        format,
        resource_count: template.resources().len(),
        body,
        findings,
        stack_name,
    })
}
