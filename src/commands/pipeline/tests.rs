use std::path::Path;

use clap::{CommandFactory, Parser};

use super::*;
use crate::cli::Cli;
use crate::cli::pipeline::PipelineInitArgs;

fn settings(ci: CiArg) -> Settings {
    Settings {
        ci,
        role_name: "acme-deploy".into(),
        max_parallel: 2,
        repository: "acme-liquors/acme-infra".into(),
        groups: vec![
            ("111111111111".into(), "us-east-2".into()),
            ("222222222222".into(), "us-west-2".into()),
        ],
    }
}

const ALL: [CiArg; 3] = [CiArg::Github, CiArg::Gitlab, CiArg::Shell];

#[test]
fn rendered_files_match_their_snapshots() {
    for ci in ALL {
        for f in render(&settings(ci)).expect("renders") {
            let name = format!("{}-{}", ci_name(ci), f.path.replace('/', "_"));
            insta::assert_snapshot!(name, f.text);
        }
    }
}

#[test]
fn every_form_writes_the_script_and_the_script_is_the_same() {
    let scripts: Vec<String> = ALL
        .iter()
        .map(|&ci| {
            let files = render(&settings(ci)).expect("renders");
            let s = files.iter().find(|f| f.path == SCRIPT).expect("script");
            assert!(s.text.starts_with("#!/usr/bin/env bash\n"), "{}", s.text);
            assert!(s.text.contains("\nset -euo pipefail\n"));
            s.text.clone()
        })
        .collect();
    assert!(scripts.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn the_checker_versions_are_the_ones_make_test_runs() {
    let pins = include_str!("../../../requirements-dev.txt");
    assert!(
        pins.lines()
            .any(|l| l == format!("cfn-lint=={CFN_LINT_VERSION}")),
        "{pins}"
    );
    assert!(
        pins.lines()
            .any(|l| l == format!("checkov=={CHECKOV_VERSION}")),
        "{pins}"
    );
}

/// The `acme-infra` command lines of a rendered file: `acme-infra ...` or `"$acme" ...` at
/// the start of a shell command (a line, a YAML `- ` item or `run: `), or quoted in
/// backticks or single quotes in prose. Continuation lines are joined; a command ends at
/// `|`, `>`, `;` or its closing quote.
fn command_lines(text: &str) -> Vec<String> {
    let joined = text.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        for (i, _) in line
            .match_indices("acme-infra ")
            .chain(line.match_indices("\"$acme\" "))
        {
            let before = line[..i].trim_end();
            let quote = line[..i].chars().last().filter(|c| matches!(c, '`' | '\''));
            let starts = before.is_empty()
                || before.ends_with("- ")
                || before == "-"
                || before.ends_with("run:")
                || quote.is_some();
            if !starts {
                continue;
            }
            let rest = &line[i..];
            let end = match quote {
                Some(q) => rest.find(q).unwrap_or(rest.len()),
                None => rest.find(['|', '>', ';']).unwrap_or(rest.len()),
            };
            out.push(rest[..end].trim().to_owned());
        }
    }
    out
}

/// Shell words, with every expansion replaced by a sample value (`"${args[@]}"`, the
/// script's county arguments, by `--county harris-tx`).
fn words(command: &str) -> Vec<String> {
    let mut out = vec!["acme-infra".to_owned()];
    let rest = command
        .strip_prefix("acme-infra ")
        .or_else(|| command.strip_prefix("\"$acme\" "))
        .expect("a command");
    for w in rest.split_whitespace() {
        match w {
            "\"${args[@]}\"" => out.extend(["--county".into(), "harris-tx".into()]),
            w if w.contains('$') => out.push("harris-tx".into()),
            w => out.push(w.trim_matches('"').to_owned()),
        }
    }
    out
}

/// Subcommands the issue defines that another change adds (#16 section 2): checked against
/// clap once clap has them, and against the issue's own form until then.
const PENDING: [(&str, &[&str]); 1] =
    [("plan", &["plan", "--county", "harris-tx", "--fail-on-risk"])];

#[test]
fn every_acme_infra_command_in_the_rendered_files_parses_with_the_real_command_line() {
    let known: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for ci in ALL {
        for f in render(&settings(ci)).expect("renders") {
            for line in command_lines(&f.text) {
                let argv = words(&line);
                seen.insert(argv[1].clone());
                if let Some((_, form)) = PENDING.iter().find(|(n, _)| *n == argv[1])
                    && !known.contains(&argv[1])
                {
                    assert_eq!(&argv[1..], *form, "{}: {line}", f.path);
                    continue;
                }
                if let Err(e) = Cli::try_parse_from(&argv) {
                    panic!("{}: `{line}` does not parse as {argv:?}:\n{e}", f.path);
                }
            }
        }
    }
    let want = [
        "bootstrap",
        "deploy",
        "diff",
        "inventory",
        "list",
        "pipeline",
        "plan",
        "synth",
        "validate",
    ];
    for w in want {
        assert!(
            seen.contains(w),
            "no `acme-infra {w}` found; found {seen:?}"
        );
    }
}

#[test]
fn the_command_finder_finds_what_it_must_and_skips_prose() {
    let text = "x\n  \"$acme\" deploy \"${args[@]}\" --assembly \"$assembly\" \\\n      --json\n\
        # Written by `acme-infra pipeline init --ci github` (v)\n\
        Check out acme-infra ${{ vars.X }}\n\
          - acme-infra synth --out cdk.out\n\
        run: acme-infra list --json | jq .\n";
    assert_eq!(
        command_lines(text),
        [
            "\"$acme\" deploy \"${args[@]}\" --assembly \"$assembly\"        --json",
            "acme-infra pipeline init --ci github",
            "acme-infra synth --out cdk.out",
            "acme-infra list --json",
        ]
    );
    assert_eq!(
        words("\"$acme\" deploy \"${args[@]}\" --json"),
        ["acme-infra", "deploy", "--county", "harris-tx", "--json"]
    );
}

/// A project directory with the shipped defaults and one county.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let envs = dir.path().join("environments");
    std::fs::create_dir_all(&envs).expect("mkdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("environments/defaults.yaml"),
        envs.join("defaults.yaml"),
    )
    .expect("copy");
    let county = acme_stacks::config::NewCounty {
        id: "harris-tx".into(),
        name: "Harris County".into(),
        state: "TX".into(),
        account: "111111111111".into(),
        region: "us-east-2".into(),
        timezone: None,
    };
    acme_stacks::config::add_county(&envs, &county).expect("county add");
    dir
}

fn run(dir: &Path, args: &[&str]) -> (Result<(), Error>, String) {
    let mut argv = vec!["acme-infra", "pipeline", "init"];
    argv.extend_from_slice(args);
    let dir_s = dir.to_str().expect("utf-8");
    argv.extend_from_slice(&["--dir", dir_s]);
    let cli = Cli::try_parse_from(argv).expect("parses");
    let crate::cli::Command::Pipeline(crate::cli::pipeline::PipelineCommand::Init(a)) = cli.command
    else {
        panic!("pipeline init")
    };
    let a: PipelineInitArgs = a;
    let mut c = Console::new(Vec::new(), Vec::new());
    let r = init(&a, &mut c);
    let mut text = String::from_utf8_lossy(c.out.get_ref()).into_owned();
    text.push_str("--- stderr\n");
    text.push_str(&String::from_utf8_lossy(c.err.get_ref()));
    if let Err(e) = &r {
        text.push_str(&format!("--- exit {}\n{}\n", e.exit().code(), e.render()));
    }
    (r, text.replace(dir_s, "DIR"))
}

#[test]
fn init_writes_reports_up_to_date_and_keeps_an_edited_file_without_force() {
    let p = project();
    let d = p.path();
    let (r, first) = run(d, &["--ci", "github"]);
    assert!(r.is_ok(), "{first}");
    insta::assert_snapshot!("cli-init-created", first);
    let script = d.join(SCRIPT);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&script)
            .expect("script")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }

    let (r, again) = run(d, &["--ci", "github"]);
    assert!(r.is_ok(), "{again}");
    insta::assert_snapshot!("cli-init-up-to-date", again);

    // An edit, and a deleted file: nothing is written until --force.
    let workflow = d.join(".github/workflows/acme-infra-deploy.yml");
    let original = std::fs::read_to_string(&workflow).expect("read");
    let edited = original.replace("max-parallel: 2", "max-parallel: 5");
    std::fs::write(&workflow, &edited).expect("edit");
    std::fs::remove_file(&script).expect("rm");
    let (r, refused) = run(d, &["--ci", "github"]);
    assert!(matches!(r, Err(Error::PipelineFilesDiffer(1))), "{refused}");
    insta::assert_snapshot!("cli-init-edited", refused);
    assert_eq!(std::fs::read_to_string(&workflow).expect("read"), edited);
    assert!(!script.exists(), "nothing is written while a file differs");

    let (r, forced) = run(d, &["--ci", "github", "--force"]);
    assert!(r.is_ok(), "{forced}");
    insta::assert_snapshot!("cli-init-forced", forced);
    assert_eq!(std::fs::read_to_string(&workflow).expect("read"), original);
    assert!(script.exists());
}

#[test]
fn init_names_a_directory_without_county_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (r, text) = run(dir.path(), &["--ci", "shell"]);
    let e = r.expect_err("no environments/");
    assert_eq!(e.exit(), acme_deploy::exit::Exit::Usage, "{text}");
    assert!(
        text.contains("DIR/environments has no defaults.yaml"),
        "{text}"
    );
}

#[test]
fn gitlab_has_one_deploy_job_per_account_and_region_of_the_county_files() {
    let p = project();
    let (r, text) = run(p.path(), &["--ci", "gitlab"]);
    assert!(r.is_ok(), "{text}");
    let ci = std::fs::read_to_string(p.path().join(".gitlab-ci.yml")).expect("read");
    assert!(
        ci.contains("      - ACCOUNT: \"111111111111\"\n        REGION: \"us-east-2\"\n"),
        "{ci}"
    );
    assert!(ci.contains("ACME_ACCOUNTS: \"111111111111\""), "{ci}");
}
