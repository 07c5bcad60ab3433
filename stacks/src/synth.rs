//! Synthesis: county configuration in, template text and limit findings out.

use std::collections::BTreeMap;

use crate::cfn::TemplateError;
use crate::config::CountyConfig;
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
        format,
        resource_count: template.resources().len(),
        body,
        findings,
        stack_name,
    })
}
