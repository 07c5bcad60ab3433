//! The `acme-infra` binary end to end: exit codes, output files and the
//! messages a pipeline or a person sees.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
fn synth_writes_an_assembly_for_every_county_and_is_repeatable() {
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
fn synth_of_one_county_in_yaml() {
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
fn an_invalid_county_file_fails_with_its_position_and_exit_code_3() {
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
fn unknown_county_is_named_with_a_suggestion() {
    let dir = scratch_environments();
    let out = run(&["synth", "--county", "travis-tz"], dir.path());
    assert_eq!(out.status.code(), Some(7));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("travis-tz"), "{stderr}");
    assert!(stderr.contains("travis-tx"), "{stderr}");
}

#[test]
fn list_as_a_table_and_as_json() {
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
fn county_add_creates_a_valid_county_and_never_overwrites() {
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
fn county_add_rejects_a_bad_account_and_writes_nothing() {
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
fn bad_flags_are_usage_errors() {
    let out = run(&["synth", "--format", "xml"], &root());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("xml"));
}
