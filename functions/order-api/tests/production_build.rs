//! The Lambda bundles are built as `cargo lambda build --package order-api
//! --package order-worker --package stream-publisher --package
//! order-sweeper`: in that build no crate
//! may enable `test-support`, which compiles the test doubles (in-memory
//! store, fault injection, manual clock) and the emulator workaround. A
//! dependency that turned it on would ship them in every function.

use std::process::Command;

#[test]
fn no_lambda_build_enables_test_support() {
    let out = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--offline", "--edges", "normal,build,features"])
        .args(["--package", "order-api", "--package", "order-worker"])
        .args([
            "--package",
            "stream-publisher",
            "--package",
            "order-sweeper",
        ])
        .output()
        .expect("cargo tree runs");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(tree.contains("order-domain"), "{tree}");
    let enabling: Vec<&str> = tree
        .lines()
        .filter(|l| l.contains("test-support"))
        .collect();
    assert!(enabling.is_empty(), "{enabling:#?}\n{tree}");
    assert!(
        !tree.contains("order-capacity"),
        "the meter is in a Lambda build\n{tree}"
    );
}
