//! `acme-infra migrate cutover` and `status`, the bad inputs, through the
//! binary: a county without `migration:`, a mode that is not the next one,
//! a rollback from `legacy`, a county whose stack has no flag. The gates
//! themselves are walked in `migrate/tests/cutover_walk.rs`. Needs the emulator
//! (`scripts/with-moto.sh`): the flag is read from its SSM.
//!
//! The migrating county is a copy of travis-tx under an id of this run's own,
//! so its flag is seen by no other test on the emulator and is left there.

use std::path::Path;
use std::process::Command;

use acme_local::state::STATE_DIR_ENV;

const NOWHERE: &str = "postgres://x@127.0.0.1:1/db";

/// The shipped county files in `dir`/environments, plus travis-tx's (which
/// migrates) under a new id; that id.
fn environments(dir: &Path) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let county = format!("cut-{:x}-{nanos:x}", std::process::id());
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("environments");
    let envs = dir.join("environments");
    std::fs::create_dir_all(&envs).expect("mkdir");
    for file in ["defaults.yaml", "king-wa.yaml"] {
        std::fs::copy(shipped.join(file), envs.join(file)).expect("copy");
    }
    let travis = std::fs::read_to_string(shipped.join("travis-tx.yaml")).expect("read");
    assert!(travis.contains("\nid: travis-tx\n"), "{travis}");
    let copy = travis.replace("\nid: travis-tx\n", &format!("\nid: {county}\n"));
    std::fs::write(envs.join(format!("{county}.yaml")), copy).expect("write");
    county
}

fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_acme-infra"))
        .arg("migrate")
        .args(args)
        .args(["--target", "aws", "--from", NOWHERE])
        .env(STATE_DIR_ENV, dir)
        .env("ACME_ENVIRONMENTS", dir.join("environments"))
        .output()
        .expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn set_flag(county: &str, mode: &str) {
    let sdk = aws_config::load_from_env().await;
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(acme_contract::migration::mode_parameter(county))
        .value(mode)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .expect("PutParameter");
}

#[tokio::test]
async fn bad_steps_are_refused_with_their_exit_codes() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.is_empty()),
        "AWS_ENDPOINT_URL is not set: run with scripts/with-moto.sh"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let county = environments(dir.path());
    let c = county.as_str();

    // king-wa has no `migration:` section: no mode, for either command.
    for args in [
        &["cutover", "--county", "king-wa", "--to", "shadow"][..],
        &["status", "--county", "king-wa"][..],
    ] {
        let (code, err) = run(dir.path(), args);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("--county king-wa: the county file has no `migration:` section"),
            "{err}"
        );
    }

    // The migrating county before its stack made the flag.
    let (code, err) = run(dir.path(), &["cutover", "--county", c, "--to", "shadow"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("has no cutover flag"), "{err}");
    assert!(err.contains(&format!("/acme/{c}/migration/mode")), "{err}");

    // Not the next mode; not a mode at all; nothing to roll back to.
    set_flag(c, "legacy").await;
    let (code, err) = run(dir.path(), &["cutover", "--county", c, "--to", "dynamo"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{c} is in mode `legacy`: a cutover moves one step at a time"
        )),
        "{err}"
    );
    assert!(err.contains("the next is `shadow`"), "{err}");
    let (code, err) = run(dir.path(), &["cutover", "--county", c, "--to", "Dynamo"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`Dynamo` is not a cutover mode"), "{err}");
    let (code, err) = run(dir.path(), &["cutover", "--county", c, "--rollback"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no earlier mode to roll back to"), "{err}");
    set_flag(c, "dynamo").await;
    let (code, err) = run(dir.path(), &["cutover", "--county", c, "--to", "shadow"]);
    assert_eq!(code, Some(2), "backwards is --rollback: {err}");
    let (code, err) = run(dir.path(), &["cutover", "--county", c]);
    assert_eq!(code, Some(2), "neither --to nor --rollback: {err}");

    // The flag is untouched by every refusal.
    let sdk = aws_config::load_from_env().await;
    let value = aws_sdk_ssm::Client::new(&sdk)
        .get_parameter()
        .name(format!("/acme/{c}/migration/mode"))
        .send()
        .await
        .expect("GetParameter")
        .parameter
        .and_then(|p| p.value);
    assert_eq!(value.as_deref(), Some("dynamo"));
}
