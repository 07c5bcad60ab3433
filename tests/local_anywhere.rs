//! `acme-infra local` run from a directory outside the repository, as an
//! installed binary would be: it must find its emulator where it runs (an
//! `AWS_ENDPOINT_URL`, the checkout it runs in, or `moto_server` on PATH),
//! never through paths of the machine it was built on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A directory outside the checkout holding a copy of `environments/`.
fn elsewhere() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(
        !dir.path().starts_with(root()),
        "the temp dir is outside the checkout"
    );
    let envs = dir.path().join("environments");
    std::fs::create_dir(&envs).expect("mkdir");
    for entry in std::fs::read_dir(root().join("environments")).expect("read") {
        let p = entry.expect("entry").path();
        std::fs::copy(&p, envs.join(p.file_name().expect("name"))).expect("copy");
    }
    dir
}

/// `acme-infra args…` in `cwd` with no emulator configured and `path` as PATH.
fn local(args: &[&str], cwd: &Path, path: &std::ffi::OsStr) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acme-infra"))
        .args(args)
        .current_dir(cwd)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("ACME_ENVIRONMENTS")
        .env_remove("RUST_LOG")
        .env("PATH", path)
        .output()
        .expect("acme-infra runs")
}

#[test]
fn outside_a_checkout_without_moto_local_says_where_an_emulator_can_come_from() {
    let dir = elsewhere();
    let empty = tempfile::tempdir().expect("tempdir");
    // `local load` ends by itself: built with the build tree's path, it
    // would find that checkout's moto and succeed here.
    let out = local(
        &[
            "local",
            "load",
            "--county",
            "travis-tx",
            "--duration",
            "1s",
            "--clients",
            "1",
        ],
        dir.path(),
        empty.path().as_os_str(),
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "no panic: {stderr}");
    assert!(stderr.contains("moto_server is not on PATH"), "{stderr}");
    assert!(stderr.contains("AWS_ENDPOINT_URL"), "{stderr}");
    let build_tree = root().display().to_string();
    assert!(
        !stderr.contains(&build_tree),
        "nothing of the build tree is used: {stderr}"
    );
}

#[test]
fn outside_a_checkout_local_load_runs_on_the_moto_server_on_path() {
    let venv_bin = root().join(".venv/bin");
    assert!(
        venv_bin.join("moto_server").is_file(),
        "moto_server not found in .venv/bin: run scripts/py-tools.sh (make test does) first"
    );
    let dir = elsewhere();
    let path = std::env::join_paths(std::iter::once(venv_bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let out = local(
        &[
            "local",
            "load",
            "--county",
            "travis-tx",
            "--duration",
            "1s",
            "--clients",
            "1",
            "--drain",
            "20s",
        ],
        dir.path(),
        &path,
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("moto server started"), "{stderr}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("load: 1 clients"),
        "the load report: {stdout}"
    );
}
