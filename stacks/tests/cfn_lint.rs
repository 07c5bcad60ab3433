//! cfn-lint over every sample county's template, JSON and YAML, and over a
//! county on the card API payment provider (which no sample uses): zero
//! errors, zero warnings, zero informational findings.

mod common;

use acme_stacks::assembly;
use acme_stacks::synth::{Format, synthesize};

#[test]
fn cfn_lint_passes_every_sample_county_clean() {
    let root = common::root();
    let lint = common::tool(
        "ACME_CFN_LINT",
        &[root.join(".venv/bin/cfn-lint")],
        "cfn-lint",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for format in [Format::Json, Format::Yaml] {
        let stacks: Vec<_> = common::sample_counties()
            .iter()
            .map(|c| synthesize(c, format).expect("synth"))
            .collect();
        let sub = dir.path().join(format.extension());
        assembly::write(&sub, &stacks).expect("write");
        files.extend(stacks.iter().map(|s| sub.join(assembly::template_file(s))));
        let counties = common::sample_counties();
        let card = synthesize(&common::with_card_api(counties[0].clone()), format).expect("synth");
        let path = sub.join(format!("card-api.{}", format.extension()));
        std::fs::write(&path, &card.body).expect("write");
        files.push(path);
    }
    files.push(dir.path().join("bootstrap.template.json"));
    std::fs::write(
        files.last().expect("pushed"),
        acme_stacks::bootstrap::template_json(),
    )
    .expect("write");
    let out = std::process::Command::new(&lint)
        .args(["--format", "parseable", "--"])
        .args(&files)
        .output()
        .expect("cfn-lint runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim().is_empty(),
        "cfn-lint found problems (exit {:?}):\n{stdout}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}
