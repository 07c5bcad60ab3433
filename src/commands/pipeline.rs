//! `acme-infra pipeline init`: renders `templates/pipeline/*.j2` (built into the binary) into
//! the CI files of the chosen CI, writes the missing ones, reports the identical ones, and
//! keeps the ones that differ unless `--force`, showing how they differ.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use acme_stacks::config::Environments;
use minijinja::{Environment, UndefinedBehavior, Value, context};

use super::CmdResult;
use crate::cli::pipeline::{CiArg, PipelineInitArgs};
use crate::error::Error;
use crate::output::Console;

/// The templates, by name (the name `{% include %}` uses).
const TEMPLATES: [(&str, &str); 5] = [
    (
        "provision-county.sh.j2",
        include_str!("../../templates/pipeline/provision-county.sh.j2"),
    ),
    (
        "github-pull-request.yml.j2",
        include_str!("../../templates/pipeline/github-pull-request.yml.j2"),
    ),
    (
        "github-deploy.yml.j2",
        include_str!("../../templates/pipeline/github-deploy.yml.j2"),
    ),
    (
        "_github-setup.yml.j2",
        include_str!("../../templates/pipeline/_github-setup.yml.j2"),
    ),
    (
        "gitlab-ci.yml.j2",
        include_str!("../../templates/pipeline/gitlab-ci.yml.j2"),
    ),
];

/// Where the shared script goes; every form writes it.
pub const SCRIPT: &str = "scripts/provision-county.sh";

/// The checkers the pull request installs: the versions `make test` runs (requirements-dev.txt).
const CFN_LINT_VERSION: &str = "1.58.0";
const CHECKOV_VERSION: &str = "3.3.30";

/// (template, path written) for each form.
fn layout(ci: CiArg) -> &'static [(&'static str, &'static str)] {
    match ci {
        CiArg::Github => &[
            (
                "github-pull-request.yml.j2",
                ".github/workflows/acme-infra-pull-request.yml",
            ),
            (
                "github-deploy.yml.j2",
                ".github/workflows/acme-infra-deploy.yml",
            ),
            ("provision-county.sh.j2", SCRIPT),
        ],
        CiArg::Gitlab => &[
            ("gitlab-ci.yml.j2", ".gitlab-ci.yml"),
            ("provision-county.sh.j2", SCRIPT),
        ],
        CiArg::Shell => &[("provision-county.sh.j2", SCRIPT)],
    }
}

/// What the templates are rendered with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub ci: CiArg,
    pub role_name: String,
    pub max_parallel: u8,
    /// GitHub owner/name of the acme-infra repository the jobs build.
    pub repository: String,
    /// Every (account, region) of the county files, sorted (GitLab's fixed job matrix).
    pub groups: Vec<(String, String)>,
}

/// One rendered file, its path relative to `--dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiFile {
    pub path: &'static str,
    pub text: String,
}

impl CiFile {
    fn executable(&self) -> bool {
        self.path.ends_with(".sh")
    }
}

fn ci_name(ci: CiArg) -> &'static str {
    match ci {
        CiArg::Github => "github",
        CiArg::Gitlab => "gitlab",
        CiArg::Shell => "shell",
    }
}

fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Every value is plain (a validated role name, account ids, regions, versions): no
    // YAML or shell quoting to add.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // `${{ }}` (GitHub) and `${#array[@]}` (bash) stay literal text.
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .block_delimiters("{%", "%}")
            .variable_delimiters("{=", "=}")
            .comment_delimiters("{##", "##}")
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
}

/// Renders the files of `s.ci`.
pub fn render(s: &Settings) -> Result<Vec<CiFile>, Error> {
    let env = environment().map_err(render_error)?;
    let groups: Vec<Value> = s
        .groups
        .iter()
        .map(|(account, region)| {
            Value::from(BTreeMap::from([
                ("account", account.clone()),
                ("region", region.clone()),
            ]))
        })
        .collect();
    let mut accounts: Vec<&str> = s.groups.iter().map(|(a, _)| a.as_str()).collect();
    accounts.dedup();
    let ctx = context! {
        version => concat!("acme-infra ", env!("CARGO_PKG_VERSION")),
        version_number => env!("CARGO_PKG_VERSION"),
        repository => &s.repository,
        ci => ci_name(s.ci),
        role_name => &s.role_name,
        read_role_name => format!("{}-readonly", s.role_name),
        max_parallel => s.max_parallel,
        groups => groups,
        accounts => accounts.join(" "),
        cfn_lint_version => CFN_LINT_VERSION,
        checkov_version => CHECKOV_VERSION,
    };
    layout(s.ci)
        .iter()
        .map(|(template, path)| {
            let text = env
                .get_template(template)
                .and_then(|t| t.render(&ctx))
                .map_err(render_error)?;
            // What a CI reads must be YAML before it is written (the validators in
            // tests/pipeline_validators.rs check the rest).
            if path.ends_with(".yml") {
                marked_yaml::parse_yaml(0, &text).map_err(|e| {
                    Error::Template(format!("{template} renders {path} that is not YAML: {e}"))
                })?;
            }
            Ok(CiFile { path, text })
        })
        .collect()
}

fn render_error(e: minijinja::Error) -> Error {
    Error::Template(format!("cannot render the pipeline templates: {e:#}"))
}

/// The (account, region) pairs of the county files in `dir/environments`, which must load.
fn groups(dir: &Path, ci: CiArg) -> Result<Vec<(String, String)>, Error> {
    let envs_dir = dir.join("environments");
    if !envs_dir.join("defaults.yaml").is_file() {
        return Err(Error::Usage(format!(
            "{} has no defaults.yaml: --dir names the repository that holds environments/ (create a county there with `acme-infra county add`)",
            envs_dir.display()
        )));
    }
    let counties = Environments::open(&envs_dir)?.load_all()?;
    if counties.is_empty() && ci == CiArg::Gitlab {
        return Err(Error::NoCounties(envs_dir));
    }
    let mut groups: Vec<(String, String)> = counties
        .into_iter()
        .map(|c| (c.account, c.region))
        .collect();
    groups.sort();
    groups.dedup();
    Ok(groups)
}

/// What `init` does with one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    UpToDate,
    /// Differs; replaced with `--force`, else kept.
    Differs,
}

pub fn init<O: Write, E: Write>(a: &PipelineInitArgs, c: &mut Console<O, E>) -> CmdResult {
    let settings = Settings {
        ci: a.ci,
        role_name: a.role_name.clone(),
        max_parallel: a.max_parallel,
        repository: a.acme_infra_repo.clone(),
        groups: groups(&a.dir, a.ci)?,
    };
    let files = render(&settings)?;
    let mut plan = Vec::with_capacity(files.len());
    for f in &files {
        let path = a.dir.join(f.path);
        let action = match std::fs::read_to_string(&path) {
            Ok(old) if old == f.text => Action::UpToDate,
            Ok(old) => {
                c.print(&unified_diff(f.path, &old, &f.text))?;
                Action::Differs
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Action::Create,
            Err(e) => return Err(io_error(&path, e)),
        };
        plan.push((f, path, action));
    }
    let kept: Vec<&str> = plan
        .iter()
        .filter(|(_, _, act)| *act == Action::Differs)
        .map(|(f, _, _)| f.path)
        .collect();
    if !kept.is_empty() && !a.force {
        for (f, _, action) in &plan {
            match action {
                Action::Differs => c.say(format_args!("differs: {} (diff above)", f.path))?,
                Action::Create => {
                    c.say(format_args!("missing: {} (not written either)", f.path))?
                }
                Action::UpToDate => c.say(format_args!("up to date: {}", f.path))?,
            }
        }
        return Err(Error::PipelineFilesDiffer(kept.len()));
    }
    for (f, path, action) in &plan {
        match action {
            Action::UpToDate => c.say(format_args!("up to date: {}", f.path))?,
            Action::Create => {
                write(path, f)?;
                c.say(format_args!("created: {}", f.path))?;
            }
            Action::Differs => {
                write(path, f)?;
                c.say(format_args!("replaced: {} (--force)", f.path))?;
            }
        }
    }
    c.say(format_args!(
        "next: commit them; see `{SCRIPT}` (its first lines) for the CI variables and roles they expect"
    ))
}

/// `diff -u` of what is there (`a/`) and what would be written (`b/`).
fn unified_diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_owned(),
        source: e,
    }
}

/// Writes through a temporary file in the same directory, renamed into place, so a crash
/// never leaves half a workflow; the script is executable.
fn write(path: &Path, f: &CiFile) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let temp: PathBuf = dir.join(format!(".{}.acme-infra-tmp", name.unwrap_or_default()));
    std::fs::write(&temp, &f.text).map_err(|e| io_error(&temp, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = if f.executable() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(mode))
            .map_err(|e| io_error(&temp, e))?;
    }
    std::fs::rename(&temp, path).map_err(|e| io_error(path, e))
}

#[cfg(test)]
mod tests;
