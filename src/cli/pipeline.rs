//! `pipeline init`: the CI files a platform team commits next to its `environments/`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// Write and update the CI files that provision counties.
#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Write the CI files for GitHub Actions, GitLab CI or any other CI (a shell script).
    #[command(after_help = "\
Examples:
  acme-infra pipeline init --ci github      .github/workflows/acme-infra-{pull-request,deploy}.yml
                                            and scripts/provision-county.sh
  acme-infra pipeline init --ci gitlab      .gitlab-ci.yml and scripts/provision-county.sh
  acme-infra pipeline init --ci shell       scripts/provision-county.sh alone, for any other CI
  acme-infra pipeline init --ci github --dir ../platform --role-name county-deployer \
      --acme-infra-repo acme-liquors/acme-infra
  acme-infra pipeline init --ci github --force   replace files edited since they were written

The files go into --dir (default: the current directory), which must hold environments/.
A pull request touching environments/ validates, synthesizes, runs cfn-lint, checkov and
`acme-infra plan --county ID --fail-on-risk` on the changed counties and posts the diff
against the deployed stacks; a merge deploys the changed counties only (bootstrap where
needed, deploy from the synthesized assembly, stock/<id>.csv loaded, a smoke order), one
job per AWS account and region, through OIDC role assumption.

A missing file is written and an identical one is reported up to date. A file that differs
from what this version writes (edited, or written by another version) is shown as a diff
and kept, and nothing is written (exit 1); --force replaces it.

Exit codes: see `acme-infra --help`.")]
    Init(PipelineInitArgs),
}

/// `acme-infra pipeline init`.
#[derive(Debug, Clone, Args)]
pub struct PipelineInitArgs {
    /// Which CI to write files for.
    #[arg(long, value_enum)]
    pub ci: CiArg,
    /// Directory of the repository that holds environments/.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Replace files that differ from what this version writes.
    #[arg(long)]
    pub force: bool,
    /// IAM role the deploy jobs assume in each county account; the pull request's diff
    /// assumes <NAME>-readonly.
    #[arg(long, value_name = "NAME", default_value = "acme-deploy", value_parser = role_name)]
    pub role_name: String,
    /// GitHub repository (owner/name) the jobs build acme-infra from, at this version's tag.
    #[arg(long, value_name = "OWNER/NAME", default_value = "acme-liquors/acme-infra",
          value_parser = repository)]
    pub acme_infra_repo: String,
    /// Accounts deployed at once (GitHub's max-parallel).
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u8).range(1..=20))]
    pub max_parallel: u8,
}

/// `--ci`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CiArg {
    /// GitHub Actions: two workflows and the script.
    Github,
    /// GitLab CI: .gitlab-ci.yml and the script.
    Gitlab,
    /// scripts/provision-county.sh alone.
    Shell,
}

/// `owner/name`, as GitHub spells a repository.
fn repository(s: &str) -> Result<String, String> {
    let part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    match s.split_once('/') {
        Some((owner, name)) if part(owner) && part(name) => Ok(s.to_owned()),
        _ => Err(format!(
            "{s:?} is not a GitHub repository: OWNER/NAME, letters, digits, '-', '_' and '.'"
        )),
    }
}

/// An IAM role name (1 to 64 of `A-Za-z0-9+=,.@_-`), short enough to take `-readonly`.
fn role_name(s: &str) -> Result<String, String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    match s.chars().find(|&c| !ok(c)) {
        Some(c) => Err(format!(
            "{c:?} cannot be in an IAM role name (letters, digits and +=,.@_- only)"
        )),
        None if s.is_empty() || s.len() > 55 => Err(format!(
            "an IAM role name is 1 to 64 characters, and this one takes `-readonly` too: 1 to 55 here, not {}",
            s.len()
        )),
        None => Ok(s.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_names_are_checked() {
        assert!(super::role_name("acme-deploy").is_ok());
        assert!(super::role_name("").is_err());
        assert!(super::role_name(&"r".repeat(56)).is_err());
        let e = super::role_name("a/b").expect_err("a slash");
        assert!(e.contains("'/'"), "{e}");
        assert!(super::repository("acme-liquors/acme-infra").is_ok());
        for bad in ["acme-infra", "a/b/c", "/x", "a b/c"] {
            assert!(super::repository(bad).is_err(), "{bad}");
        }
    }
}
