//! The `acme-infra` binary end to end: exit codes, output files and the
//! messages a pipeline or a person sees.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_acme-infra"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str], cwd: &Path) -> Output {
    bin()
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("acme-infra runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch environments directory holding copies of the real defaults and samples.
fn scratch_environments() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let envs = dir.path().join("environments");
    std::fs::create_dir(&envs).expect("mkdir");
    for entry in std::fs::read_dir(root().join("environments")).expect("read") {
        let p = entry.expect("entry").path();
        std::fs::copy(&p, envs.join(p.file_name().expect("name"))).expect("copy");
    }
    dir
}

#[test]
fn synth_writes_an_assembly_and_a_quiet_rerun_is_silent_and_byte_identical() {
    let dir = scratch_environments();
    let out = run(&["synth", "--out", "asm"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("synthesized acme-travis-tx"), "{stderr}");
    let manifest = std::fs::read(dir.path().join("asm/manifest.json")).expect("manifest");
    let first = std::fs::read(dir.path().join("asm/acme-king-wa.template.json")).expect("template");
    let again = run(&["synth", "--out", "asm", "--quiet"], dir.path());
    assert!(again.status.success());
    assert!(
        again.stderr.is_empty(),
        "--quiet prints nothing on success: {}",
        text(&again.stderr)
    );
    assert_eq!(
        manifest,
        std::fs::read(dir.path().join("asm/manifest.json")).expect("manifest")
    );
    assert_eq!(
        first,
        std::fs::read(dir.path().join("asm/acme-king-wa.template.json")).expect("template")
    );
}

#[test]
fn synth_of_one_county_in_yaml_writes_only_that_county() {
    let dir = scratch_environments();
    let out = run(
        &[
            "synth",
            "--county",
            "fulton-ga",
            "--format",
            "yaml",
            "--out",
            "asm",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml =
        std::fs::read_to_string(dir.path().join("asm/acme-fulton-ga.template.yaml")).expect("yaml");
    assert!(yaml.contains("AWS::DynamoDB::Table"));
    assert!(!dir.path().join("asm/acme-king-wa.template.yaml").exists());
}

#[test]
fn an_invalid_county_file_fails_validate_and_synth_with_its_position_a_hint_and_exit_code_7() {
    let dir = scratch_environments();
    let path = dir.path().join("environments/fulton-ga.yaml");
    let original = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, format!("{original}\nmax_units_per_ordr: 12\n")).expect("write");
    let line = original.lines().count() + 2;
    for cmd in [&["validate"][..], &["synth", "--out", "asm"][..]] {
        let out = run(cmd, dir.path());
        assert_eq!(out.status.code(), Some(7), "{cmd:?}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("unknown key `max_units_per_ordr`"),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("environments/fulton-ga.yaml:{line}:1")),
            "{stderr}"
        );
        assert!(
            stderr.contains("did you mean `max_units_per_order`?"),
            "{stderr}"
        );
    }
    assert!(
        !dir.path().join("asm").exists(),
        "a failed synth writes nothing"
    );
}

#[test]
fn an_unknown_county_is_a_usage_error_naming_it_and_a_suggestion_in_every_command() {
    let dir = scratch_environments();
    // Each is refused before it starts an emulator, opens a file or a
    // database connection: the county is checked first.
    let url = "postgres://acme@127.0.0.1:1/legacy";
    let commands: &[&[&str]] = &[
        &["synth", "--county", "travis-tz"],
        &["validate", "--county", "travis-tz"],
        &["deploy", "--county", "travis-tz"],
        &["diff", "--county", "travis-tz"],
        &["status", "--county", "travis-tz"],
        &["local", "--county", "travis-tz"],
        &["local", "load", "--county", "travis-tz"],
        &["inventory", "load", "--county", "travis-tz", "missing.csv"],
        &[
            "inventory",
            "show",
            "--county",
            "travis-tz",
            "--store",
            "s1",
        ],
        &[
            "migrate",
            "backfill",
            "--county",
            "travis-tz",
            "--from",
            url,
        ],
        &["migrate", "verify", "--county", "travis-tz", "--from", url],
        &["migrate", "sync", "--county", "travis-tz", "--from", url],
    ];
    for args in commands {
        let out = run(args, dir.path());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("unknown county `travis-tz`"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("travis-tx"), "{args:?}: {stderr}");
    }
}

#[test]
fn list_prints_json_rows_in_county_order_and_a_table_with_a_header() {
    let dir = scratch_environments();
    let out = run(&["list", "--json"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let ids: Vec<&str> = rows
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["fulton-ga", "king-wa", "travis-tx"]);
    assert_eq!(rows[2]["account"], "111111111111");
    assert_eq!(rows[2]["stack_name"], "acme-travis-tx");
    let table = run(&["list"], dir.path());
    let stdout = text(&table.stdout);
    assert!(stdout.starts_with("COUNTY"), "{stdout}");
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
}

#[test]
fn county_add_creates_a_county_that_synthesizes_and_refuses_to_overwrite_it_with_exit_code_9() {
    let dir = scratch_environments();
    let args = [
        "county",
        "add",
        "harris-tx",
        "--name",
        "Harris County",
        "--state",
        "TX",
        "--account",
        "123456789012",
        "--region",
        "us-east-2",
    ];
    let out = run(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let path = dir.path().join("environments/harris-tx.yaml");
    let created = std::fs::read_to_string(&path).expect("created");
    assert!(
        created.contains("America/Chicago"),
        "timezone from the state:\n{created}"
    );
    let synth = run(
        &["synth", "--county", "harris-tx", "--out", "asm"],
        dir.path(),
    );
    assert!(synth.status.success(), "{}", text(&synth.stderr));
    // A new county can be planned at once: the file carries a first
    // estimate of its load, so a pipeline's `plan --fail-on-risk` passes.
    let plan = run(
        &["plan", "--county", "harris-tx", "--fail-on-risk"],
        dir.path(),
    );
    assert!(plan.status.success(), "{}", text(&plan.stderr));

    let again = run(&args, dir.path());
    assert_eq!(again.status.code(), Some(9));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("still there"),
        created
    );
}

#[test]
fn county_add_rejects_a_bad_account_with_exit_code_7_and_writes_nothing() {
    let dir = scratch_environments();
    let out = run(
        &[
            "county",
            "add",
            "bexar-tx",
            "--name",
            "Bexar",
            "--state",
            "TX",
            "--account",
            "12345",
            "--region",
            "us-east-2",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("account"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("environments/bexar-tx.yaml").exists());
}

#[test]
fn a_bad_flag_value_is_a_usage_error_naming_it() {
    let out = run(&["synth", "--format", "xml"], &root());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("xml"));
}

#[test]
fn help_lists_every_exit_code() {
    let out = run(&["--help"], &root());
    assert!(out.status.success());
    let help = text(&out.stdout);
    for code in [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "130",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{code}  "))),
            "exit code {code} in --help:\n{help}"
        );
    }
}

/// Runs `args` with stdout (or stderr) a pipe whose reading end is closed at
/// once, as `acme-infra ... | head -0` does.
fn run_with_closed_pipe(args: &[&str], cwd: &Path, close_stderr: bool) -> Output {
    let mut cmd = bin();
    cmd.args(args).current_dir(cwd);
    if close_stderr {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("acme-infra runs");
    if close_stderr {
        drop(child.stderr.take());
    } else {
        drop(child.stdout.take());
    }
    child.wait_with_output().expect("acme-infra ends")
}

/// Runs `args` with stdout or stderr on /dev/full, where every write fails
/// with "no space left on device".
fn run_with_full_disk(args: &[&str], cwd: &Path, on_stderr: bool) -> Output {
    let full = File::options()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let mut cmd = bin();
    cmd.args(args).current_dir(cwd);
    if on_stderr {
        cmd.stdout(Stdio::piped()).stderr(full);
    } else {
        cmd.stdout(full).stderr(Stdio::piped());
    }
    cmd.output().expect("acme-infra runs")
}

#[test]
fn list_into_a_closed_pipe_ends_quietly_with_status_0() {
    let dir = scratch_environments();
    for args in [&["list"][..], &["list", "--json"][..]] {
        let out = run_with_closed_pipe(args, dir.path(), false);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn synth_with_a_closed_stderr_still_writes_the_assembly_and_exits_0() {
    let dir = scratch_environments();
    let out = run_with_closed_pipe(&["synth", "--out", "asm"], dir.path(), true);
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.path().join("asm/manifest.json").is_file());
}

#[test]
fn list_onto_a_full_disk_fails_with_exit_code_10_and_says_why() {
    let dir = scratch_environments();
    for args in [&["list"][..], &["list", "--json"][..]] {
        let out = run_with_full_disk(args, dir.path(), false);
        assert_eq!(out.status.code(), Some(10), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("cannot write to stdout"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn synth_with_stderr_on_a_full_disk_exits_10_without_panicking() {
    let dir = scratch_environments();
    let out = run_with_full_disk(&["synth", "--out", "asm"], dir.path(), true);
    assert_eq!(out.status.code(), Some(10));
    let quiet = run_with_full_disk(&["synth", "--out", "asm", "--quiet"], dir.path(), true);
    assert_eq!(
        quiet.status.code(),
        Some(0),
        "--quiet writes nothing to stderr"
    );
}

#[test]
fn inventory_load_of_bad_rows_is_bad_input_listing_twenty_and_counting_the_rest() {
    let dir = scratch_environments();
    let mut csv = String::from("store_id,sku,quantity,price_cents\n");
    for _ in 0..5000 {
        csv.push_str("store-1,SKU-A,ten,2299\n");
    }
    std::fs::write(dir.path().join("stock.csv"), csv).expect("write");
    let out = run(
        &["inventory", "load", "--county", "travis-tx", "stock.csv"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("5000 bad row(s); nothing was written"),
        "{stderr}"
    );
    assert!(stderr.contains("... and 4980 more"), "{stderr}");
    assert!(stderr.len() < 4096, "{} bytes of errors", stderr.len());
}

#[test]
fn inventory_load_of_an_endless_file_stops_at_the_first_line() {
    let dir = scratch_environments();
    let out = run(
        &["inventory", "load", "--county", "travis-tx", "/dev/zero"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("/dev/zero:1: column row: longer than 4096 bytes"),
        "{}",
        text(&out.stderr)
    );
}

/// A checkout whose `scripts/build-functions.sh` is `script` (the county
/// files are the samples).
fn checkout_with_build_script(script: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_environments();
    std::fs::create_dir(dir.path().join("scripts")).expect("mkdir");
    let path = dir.path().join("scripts/build-functions.sh");
    std::fs::write(&path, script).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

#[test]
fn deploy_builds_bundles_as_make_functions_does_and_names_its_failure() {
    let dir = checkout_with_build_script(
        "#!/bin/sh\n\
         echo \"ARCH=$ARCH fallback=${ALLOW_ARCH_FALLBACK:-unset}\" > build.log\n\
         echo 'bundles (arm64):'\n\
         echo 'error: cannot install cargo-lambda into .venv: no network' >&2\n\
         exit 1\n",
    );
    let out = bin()
        .args(["deploy", "--county", "travis-tx", "--json"])
        .env("ALLOW_ARCH_FALLBACK", "1")
        // From a directory inside the checkout, as cargo finds its workspace.
        .env("ACME_ENVIRONMENTS", dir.path().join("environments"))
        .current_dir(dir.path().join("environments"))
        .output()
        .expect("acme-infra runs");
    assert_eq!(out.status.code(), Some(10), "{}", text(&out.stderr));
    let log = std::fs::read_to_string(dir.path().join("build.log")).expect("the script ran");
    assert_eq!(log.trim(), "ARCH=arm64 fallback=unset");
    assert!(
        out.stdout.is_empty(),
        "stdout is for --json: {}",
        text(&out.stdout)
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot install cargo-lambda"), "{stderr}");
    assert!(
        stderr.contains("`ARCH=arm64 scripts/build-functions.sh` (what `make functions` runs)"),
        "{stderr}"
    );
    assert!(stderr.contains("`ARCH=arm64 make functions`"), "{stderr}");
    assert!(!stderr.contains("target cannot be installed"), "{stderr}");
}

#[test]
fn deploy_outside_a_checkout_says_how_to_build_the_bundles() {
    let dir = scratch_environments();
    let out = run(&["deploy", "--county", "travis-tx"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("not in one"), "{stderr}");
    assert!(
        stderr.contains("`ARCH=arm64 make functions` and pass --assets-dir"),
        "{stderr}"
    );
}

/// The `acme-infra` commands in `text` (continuation lines joined, `# …`
/// comments dropped, quotes honoured), as a reader would copy them.
fn commands_in(text: &str) -> Vec<Vec<String>> {
    let joined = text.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let line = line.split(" # ").next().unwrap_or_default().trim();
        if !line.starts_with("acme-infra ") {
            continue;
        }
        let (mut words, mut word, mut quote) = (Vec::new(), String::new(), None);
        for ch in line.chars() {
            match (quote, ch) {
                (None, '\'' | '"') => quote = Some(ch),
                (Some(q), c) if c == q => quote = None,
                (None, ' ') if !word.is_empty() => words.push(std::mem::take(&mut word)),
                (None, ' ') => {}
                (_, c) => word.push(c),
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        out.push(words.into_iter().skip(1).collect());
    }
    out
}

/// Runs the county add, validate, synth and pipeline init steps of a pipeline
/// recipe in a scratch copy of the samples: each must succeed as written (the
/// rest of README's recipe runs in tests/pipeline_shell.rs).
fn recipe_runs_as_written(recipe: &str) {
    let dir = scratch_environments();
    let steps = commands_in(recipe);
    assert!(steps.len() >= 2, "a recipe: {recipe}");
    for step in steps
        .iter()
        .filter(|s| ["county", "validate", "synth", "pipeline"].contains(&s[0].as_str()))
    {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        let out = run(&args, dir.path());
        assert!(
            out.status.success(),
            "`acme-infra {}` exits {:?}: {}",
            args.join(" "),
            out.status.code(),
            text(&out.stderr)
        );
    }
}

#[test]
fn the_pipeline_recipes_of_help_and_readme_run_as_written() {
    let help = text(&run(&["--help"], &root()).stdout);
    let help_recipe = help
        .split("Typical pipeline for a new county:")
        .nth(1)
        .and_then(|r| r.split("\n\n").next())
        .expect("a pipeline in --help");
    recipe_runs_as_written(help_recipe);
    let add_help = text(&run(&["county", "add", "--help"], &root()).stdout);
    recipe_runs_as_written(&format!(
        "{}\nacme-infra validate",
        add_help.split("Example:").nth(1).expect("an example")
    ));
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let readme_recipe = readme
        .split("### A new county, from `county add` to the first confirmed order")
        .nth(1)
        .and_then(|r| r.split("```").nth(1))
        .expect("the pipeline recipe in README.md");
    recipe_runs_as_written(readme_recipe);
}

#[test]
fn deploy_of_an_unknown_county_exits_2_from_county_files_and_from_an_assembly() {
    let dir = scratch_environments();
    let synth = run(&["synth", "--out", "asm", "--quiet"], dir.path());
    assert!(synth.status.success(), "{}", text(&synth.stderr));
    for args in [
        &["deploy", "--county", "nosuch"][..],
        &["deploy", "--county", "nosuch", "--assembly", "asm"][..],
        &["diff", "--county", "nosuch"][..],
    ] {
        let out = run(args, dir.path());
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("nosuch"),
            "{}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("travis-tx"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn docs_county_stack_names_every_resource_type_the_sample_counties_create() {
    let dir = scratch_environments();
    let out = run(&["synth", "--out", "asm", "--quiet"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc = std::fs::read_to_string(root().join("docs/county-stack.md")).expect("doc");
    let mut missing = std::collections::BTreeSet::new();
    for county in ["fulton-ga", "king-wa", "travis-tx"] {
        let path = dir.path().join(format!("asm/acme-{county}.template.json"));
        let template: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("template")).expect("json");
        for resource in template["Resources"]
            .as_object()
            .expect("resources")
            .values()
        {
            let ty = resource["Type"].as_str().expect("type");
            if !doc.contains(&format!("`{ty}`")) {
                missing.insert(ty.to_owned());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/county-stack.md does not name: {missing:?}"
    );
}
