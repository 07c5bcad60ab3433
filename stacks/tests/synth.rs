//! Snapshot, determinism, assembly and limit tests of the county stacks.

mod common;

use acme_stacks::assembly;
use acme_stacks::synth::{Format, synthesize};

#[test]
fn every_sample_county_matches_its_snapshot() {
    for cfg in common::sample_counties() {
        let s = synthesize(&cfg, Format::Json).expect("synthesizes");
        assert!(!s.has_errors(), "{:?}", s.findings);
        insta::assert_snapshot!(format!("template-{}", cfg.id), s.body);
    }
}

#[test]
fn synthesis_is_byte_for_byte_deterministic() {
    let counties = common::sample_counties();
    let a: Vec<_> = counties
        .iter()
        .map(|c| synthesize(c, Format::Json).expect("synth"))
        .collect();
    let b: Vec<_> = counties
        .iter()
        .rev()
        .map(|c| synthesize(c, Format::Json).expect("synth"))
        .collect();
    for (x, y) in a.iter().zip(b.iter().rev()) {
        assert_eq!(x.body, y.body, "county {}", x.county_id);
    }
    let d1 = tempfile::tempdir().expect("tempdir");
    let d2 = tempfile::tempdir().expect("tempdir");
    assembly::write(d1.path(), &a).expect("write");
    assembly::write(d2.path(), &b).expect("write");
    for entry in std::fs::read_dir(d1.path()).expect("read") {
        let name = entry.expect("entry").file_name();
        let x = std::fs::read(d1.path().join(&name)).expect("read");
        let y = std::fs::read(d2.path().join(&name)).expect("read");
        assert_eq!(x, y, "{name:?} differs between two synths");
    }
}

#[test]
fn assembly_manifest_follows_the_cloud_assembly_schema() {
    let counties = common::sample_counties();
    let stacks: Vec<_> = counties
        .iter()
        .map(|c| synthesize(c, Format::Json).expect("synth"))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    assembly::write(dir.path(), &stacks).expect("write");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["version"], assembly::SCHEMA_VERSION);
    for c in &counties {
        let a = &manifest["artifacts"][format!("acme-{}", c.id)];
        assert_eq!(a["type"], "aws:cloudformation:stack");
        assert_eq!(
            a["environment"],
            format!("aws://{}/{}", c.account, c.region)
        );
        assert_eq!(a["properties"]["terminationProtection"], true);
        assert_eq!(a["properties"]["tags"]["county"], c.id.as_str());
        let file = a["properties"]["templateFile"]
            .as_str()
            .expect("templateFile");
        let t: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(file)).expect("template"))
                .expect("json");
        assert_eq!(t["AWSTemplateFormatVersion"], "2010-09-09");
    }
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("cdk.out")).expect("marker"))
            .expect("json");
    assert_eq!(marker["version"], assembly::SCHEMA_VERSION);
}

#[test]
fn a_later_synth_of_fewer_counties_removes_stale_templates() {
    let counties = common::sample_counties();
    let stacks: Vec<_> = counties
        .iter()
        .map(|c| synthesize(c, Format::Json).expect("synth"))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    assembly::write(dir.path(), &stacks).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "keep me").expect("write");
    assembly::write(dir.path(), &stacks[..1]).expect("write");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            format!("acme-{}.template.json", counties[0].id),
            "cdk.out".to_owned(),
            "manifest.json".to_owned(),
            "notes.txt".to_owned()
        ]
    );
}

#[test]
fn yaml_templates_carry_the_same_template() {
    for cfg in common::sample_counties() {
        let json = synthesize(&cfg, Format::Json).expect("synth");
        let yaml = synthesize(&cfg, Format::Yaml).expect("synth");
        let a: serde_json::Value = serde_json::from_str(&json.body).expect("json");
        let b: serde_json::Value = serde_saphyr::from_str(&yaml.body).expect("yaml");
        assert_eq!(a, b, "county {}", cfg.id);
    }
}

#[test]
fn the_aws_cdk_cli_lists_the_county_stacks() {
    let root = common::root();
    let cdk = common::tool(
        "ACME_CDK",
        &[root.join("tools/node/node_modules/.bin/cdk")],
        "cdk",
    );
    let mut counties = common::sample_counties();
    // The CDK reads both ways a county's account is reached: the role as its
    // own `assumeRoleArn`, the profile as a metadata entry.
    counties[1].access = Some(acme_stacks::config::AccountAccess::Profile(
        "acme-second".into(),
    ));
    assert!(counties[0].access.is_some(), "the samples assume a role");
    let stacks: Vec<_> = counties
        .iter()
        .map(|c| synthesize(c, Format::Json).expect("synth"))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    assembly::write(dir.path(), &stacks).expect("write");
    let out = std::process::Command::new(&cdk)
        .args([
            "ls",
            "--long",
            "--json",
            "--no-notices",
            "--no-version-reporting",
            "--app",
        ])
        .arg(dir.path())
        .env("CDK_DISABLE_VERSION_CHECK", "1")
        .env("CDK_CLI_TELEMETRY", "false")
        .current_dir(dir.path())
        .output()
        .expect("cdk runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cdk ls failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    for c in &counties {
        assert!(
            stdout.contains(&format!("acme-{}", c.id)),
            "cdk ls misses acme-{}: {stdout}",
            c.id
        );
        assert!(
            stdout.contains(&c.account),
            "cdk ls misses account {}: {stdout}",
            c.account
        );
    }
}

#[test]
fn an_assembly_reads_back_as_written_and_bad_ones_say_where() {
    let stacks: Vec<_> = common::sample_counties()
        .iter()
        .map(|c| synthesize(c, Format::Json).expect("synth"))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    assembly::write(dir.path(), &stacks).expect("write");
    let read = assembly::read(dir.path()).expect("reads back");
    assert_eq!(read.len(), stacks.len());
    for s in &stacks {
        let r = read
            .iter()
            .find(|r| r.stack_name == s.stack_name)
            .expect("every stack is in the manifest");
        assert_eq!(
            (&r.county_id, &r.account, &r.region, &r.tags, &r.body),
            (&s.county_id, &s.account, &s.region, &s.tags, &s.body)
        );
    }

    // No manifest: the error names the file.
    let empty = tempfile::tempdir().expect("tempdir");
    let e = assembly::read(empty.path()).expect_err("no manifest");
    assert!(e.to_string().contains("manifest.json"), "{e}");

    // A template edited into invalid JSON: the file and the line are named.
    let victim = dir.path().join(assembly::template_file(&stacks[0]));
    std::fs::write(&victim, "{\n  \"Resources\": {,\n}").expect("write");
    let e = assembly::read(dir.path()).expect_err("bad template");
    let msg = e.to_string();
    assert!(
        msg.contains(&stacks[0].stack_name) && msg.contains("line 2"),
        "{msg}"
    );

    // A manifest from a newer schema is refused rather than misread.
    let manifest = dir.path().join("manifest.json");
    let text = std::fs::read_to_string(&manifest).expect("read");
    std::fs::write(&manifest, text.replace(assembly::SCHEMA_VERSION, "99.0.0")).expect("write");
    let e = assembly::read(dir.path()).expect_err("newer schema");
    assert!(e.to_string().contains("99.0.0"), "{e}");
}

#[test]
fn how_a_county_is_reached_travels_in_the_assembly_and_reads_back() {
    use acme_stacks::config::AccountAccess;
    let mut counties = common::sample_counties();
    let role = AccountAccess::Role {
        arn: format!("arn:aws:iam::{}:role/acme-deploy", counties[0].account),
        external_id: Some("acme-fleet-7".into()),
    };
    counties[0].access = Some(role.clone());
    counties[1].access = Some(AccountAccess::Profile("acme-second".into()));
    counties[2].access = None;
    let stacks: Vec<_> = counties
        .iter()
        .map(|c| synthesize(c, Format::Json).expect("synth"))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    assembly::write(dir.path(), &stacks).expect("write");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).expect("manifest"))
            .expect("json");
    let first = &manifest["artifacts"][format!("acme-{}", counties[0].id)];
    // The CDK's own properties, so `cdk deploy --app` assumes the same role.
    assert_eq!(
        first["properties"]["assumeRoleArn"],
        format!("arn:aws:iam::{}:role/acme-deploy", counties[0].account)
    );
    assert_eq!(first["properties"]["assumeRoleExternalId"], "acme-fleet-7");
    let third = &manifest["artifacts"][format!("acme-{}", counties[2].id)];
    assert!(
        third["properties"].get("assumeRoleArn").is_none(),
        "{third}"
    );
    assert!(third.get("metadata").is_none(), "{third}");
    let back = assembly::read(dir.path()).expect("read");
    let access_of = |id: &str| {
        back.iter()
            .find(|t| t.county_id == id)
            .map(|t| t.access.clone())
            .expect("stack")
    };
    assert_eq!(access_of(&counties[0].id), Some(role));
    assert_eq!(
        access_of(&counties[1].id),
        Some(AccountAccess::Profile("acme-second".into()))
    );
    assert_eq!(access_of(&counties[2].id), None);
}
