//! One module per subcommand.

pub mod county;
pub mod deploy;
pub mod list;
pub mod local;
pub mod synth;
pub mod validate;

use std::fmt;

/// A failed command: what to print and which exit code to return.
#[derive(Debug)]
pub struct CommandError {
    pub code: i32,
    pub message: String,
}

impl CommandError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        CommandError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<acme_stacks::config::ConfigErrors> for CommandError {
    fn from(e: acme_stacks::config::ConfigErrors) -> Self {
        CommandError::new(crate::exit::CONFIG_INVALID, e.to_string())
    }
}

pub type CmdResult = Result<(), CommandError>;

/// Loads the named counties, or all of them when none are named; every
/// county's errors are reported together.
pub fn load_counties(
    env: &crate::cli::EnvironmentsArg,
    ids: &[String],
) -> Result<Vec<acme_stacks::config::CountyConfig>, CommandError> {
    let envs = acme_stacks::config::Environments::open(&env.environments)?;
    if ids.is_empty() {
        return Ok(envs.load_all()?);
    }
    let mut ids: Vec<&String> = ids.iter().collect();
    ids.sort();
    ids.dedup();
    let mut out = Vec::with_capacity(ids.len());
    let mut errors: Option<acme_stacks::config::ConfigErrors> = None;
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
