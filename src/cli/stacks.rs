//! `synth`, `validate`, `list` and `county add`: the generator's commands.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{EnvironmentsArg, FormatArg};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  acme-infra synth                          # every county into cdk.out/
  acme-infra synth --county travis-tx       # one county
  acme-infra synth --out /tmp/asm --format yaml
  cdk ls --app cdk.out                      # the AWS CDK CLI reads the same assembly

The output is byte-for-byte deterministic. Synth fails if a stack breaks a
CloudFormation limit (500 resources, 1 MB template) and warns at 90%.")]
pub struct SynthArgs {
    /// County to synthesize (repeatable). Default: every county in the environments directory.
    #[arg(long = "county", value_name = "ID")]
    pub counties: Vec<String>,
    #[command(flatten)]
    pub env: EnvironmentsArg,
    /// Directory to write the cloud assembly into.
    #[arg(long, value_name = "DIR", default_value = "cdk.out")]
    pub out: PathBuf,
    /// Template format.
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    pub format: FormatArg,
    /// Print only warnings and errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  acme-infra validate                       # every county file and defaults.yaml
  acme-infra validate --county travis-tx    # one county
  acme-infra validate --environments /path/to/environments

Reports every problem of every file at once (file, line, column, key and a
hint) and exits 7 if there is one; nothing is synthesized or written.")]
pub struct ValidateArgs {
    /// County to validate (repeatable). Default: every county.
    #[arg(long = "county", value_name = "ID")]
    pub counties: Vec<String>,
    #[command(flatten)]
    pub env: EnvironmentsArg,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  acme-infra list                           # a table: county, name, account, region, sales
  acme-infra list --json | jq -r '.[].id'   # the county ids, for a script")]
pub struct ListArgs {
    #[command(flatten)]
    pub env: EnvironmentsArg,
    /// Print JSON (an array of objects) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CountyCommand {
    /// Create environments/<id>.yaml for a new county from the template, validated.
    #[command(after_help = "\
Example:
  acme-infra county add harris-tx --name 'Harris County' --state TX \\
      --account 111111111111 --region us-east-2 --timezone America/Chicago

The new file holds the identity you give and, commented out, every setting
you may override (defaults come from environments/defaults.yaml). An existing
county file is never overwritten.")]
    Add(CountyAddArgs),
}

#[derive(Debug, Args)]
pub struct CountyAddArgs {
    /// County id: lowercase letters, digits and '-', e.g. travis-tx.
    pub id: String,
    /// Display name, e.g. "Travis County".
    #[arg(long)]
    pub name: String,
    /// Two-letter state code, e.g. TX.
    #[arg(long)]
    pub state: String,
    /// 12-digit AWS account id the county deploys to.
    #[arg(long)]
    pub account: String,
    /// AWS region, e.g. us-east-2.
    #[arg(long)]
    pub region: String,
    /// IANA time zone for the sale hours. Default: the state's main zone.
    #[arg(long)]
    pub timezone: Option<String>,
    #[command(flatten)]
    pub env: EnvironmentsArg,
}
