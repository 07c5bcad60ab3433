//! The deployer's commands as the `acme-infra` binary calls them. The binary
//! owns the command line and hands plain inputs here; it builds one
//! [`Deployer`] (SDK clients are built once per process), generates the
//! artifacts, and calls e.g. [`run_deploy`]; on `Err(e)` it prints
//! `e.report()` and exits with `e.exit()` (see [`crate::exit`]).

use crate::artifact::StackArtifact;
use crate::bootstrap::BootstrapOptions;
use crate::deploy::{DeployOptions, DeployReport, Deployer, StackReport};
use crate::error::DeployError;
use crate::output::{Format, Output};
use crate::reach::{Reach, Target};

/// The output sink for a command: text on stderr, or JSON lines on stdout.
pub fn output(json: bool) -> Output {
    Output::stdio(if json { Format::Json } else { Format::Human })
}

/// Keeps the artifacts whose county id is listed (all when `counties` is
/// empty); an unknown county id is a usage error naming a few valid ones.
pub fn select(
    artifacts: Vec<StackArtifact>,
    counties: &[String],
) -> Result<Vec<StackArtifact>, DeployError> {
    if counties.is_empty() {
        return Ok(artifacts);
    }
    for c in counties {
        if !artifacts.iter().any(|a| &a.county_id == c) {
            let known: Vec<&str> = artifacts
                .iter()
                .take(8)
                .map(|a| a.county_id.as_str())
                .collect();
            return Err(DeployError::usage(format!(
                "unknown county {c:?}; this environment has {} counties, e.g. {}",
                artifacts.len(),
                known.join(", ")
            )));
        }
    }
    Ok(artifacts
        .into_iter()
        .filter(|a| counties.contains(&a.county_id))
        .collect())
}

/// Every `--allow-replace` must name a county being deployed (or, bare, the
/// only one) and a well-formed logical id: a typo must not silently allow
/// nothing, nor a bare id allow data loss in every county at once.
pub fn check_allow_replace(
    allow: &[String],
    artifacts: &[StackArtifact],
) -> Result<(), DeployError> {
    let valid_id = |id: &str| {
        !id.is_empty() && id.len() <= 255 && id.chars().all(|c| c.is_ascii_alphanumeric())
    };
    for a in allow {
        let (county, id) = match a.split_once('/') {
            Some((c, id)) => (Some(c), id),
            None => (None, a.as_str()),
        };
        if !valid_id(id) {
            return Err(DeployError::usage(format!(
                "--allow-replace {a:?}: {id:?} is not a logical id (letters and digits only, e.g. OrdersTable)"
            )));
        }
        match county {
            Some(c) if !artifacts.iter().any(|x| x.county_id == c) => {
                return Err(DeployError::usage(format!(
                    "--allow-replace {a}: county {c:?} is not part of this deploy ({})",
                    artifacts
                        .iter()
                        .map(|x| x.county_id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            None if artifacts.len() > 1 => {
                return Err(DeployError::usage(format!(
                    "--allow-replace {a}: {} counties are being deployed; say whose {id} may lose its data: \
                     --allow-replace <county>/{id}",
                    artifacts.len()
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// `deploy`: the artifacts of `counties` (all when empty), after checking
/// that every `--allow-replace` names one of them.
pub async fn run_deploy(
    deployer: &Deployer,
    counties: &[String],
    opts: &DeployOptions,
    artifacts: Vec<StackArtifact>,
    out: &Output,
) -> Result<DeployReport, DeployError> {
    let artifacts = select(artifacts, counties)?;
    check_allow_replace(&opts.allow_replace, &artifacts)?;
    deployer.deploy(artifacts, opts, out).await
}

/// `bootstrap`: `account` and `region` default to those of the credentials.
pub async fn run_bootstrap(
    deployer: &Deployer,
    account: Option<&str>,
    region: Option<&str>,
    opts: &BootstrapOptions,
    out: &Output,
) -> Result<StackReport, DeployError> {
    let me = deployer.check_identity(&[]).await?;
    let account = account.unwrap_or(&me.account);
    let region = region.unwrap_or(&me.region);
    deployer.bootstrap(account, region, opts, out).await
}

/// `bootstrap --county`: the county's account and region, reached as its
/// county file says.
pub async fn run_bootstrap_target(
    base: &Deployer,
    target: &Target,
    opts: &BootstrapOptions,
    out: &Output,
) -> Result<StackReport, DeployError> {
    match base.reach(target).await? {
        Reach::Reached { deployer, .. } => {
            deployer
                .bootstrap(&target.account, &target.region, opts, out)
                .await
        }
        Reach::Unreachable { reason } => Err(DeployError::Identity {
            message: reason,
            fix: "use the account's credentials, or give the county file `access:`".into(),
        }),
    }
}

/// `diff`: with `fail`, a difference is a [`DeployError::DiffFound`].
pub async fn run_diff(
    deployer: &Deployer,
    counties: &[String],
    fail: bool,
    artifacts: Vec<StackArtifact>,
    out: &Output,
) -> Result<(), DeployError> {
    let artifacts = select(artifacts, counties)?;
    let whole_fleet = counties.is_empty();
    deployer
        .diff(&artifacts, fail, whole_fleet, out)
        .await
        .map(|_| ())
}

/// `destroy`: asks first unless `yes`.
pub async fn run_destroy(
    deployer: &Deployer,
    counties: &[String],
    yes: bool,
    artifacts: Vec<StackArtifact>,
    out: &Output,
) -> Result<(), DeployError> {
    let artifacts = select(artifacts, counties)?;
    deployer.destroy(&artifacts, yes, out).await.map(|_| ())
}

/// `status`.
pub async fn run_status(
    deployer: &Deployer,
    counties: &[String],
    artifacts: Vec<StackArtifact>,
    out: &Output,
) -> Result<(), DeployError> {
    let artifacts = select(artifacts, counties)?;
    deployer.status(&artifacts, out).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Exit;

    fn artifact(c: &str) -> StackArtifact {
        StackArtifact {
            stack_name: format!("acme-{c}"),
            county_id: c.into(),
            account: "1".into(),
            region: "r".into(),
            access: None,
            template_body: "{}".into(),
            tags: Default::default(),
            termination_protection: true,
            assets: vec![],
        }
    }

    #[test]
    fn allow_replace_names_a_deployed_county_or_the_only_one() {
        let one = vec![artifact("travis-tx")];
        let two = vec![artifact("travis-tx"), artifact("king-wa")];
        let ok = |allow: &[&str], a: &[StackArtifact]| {
            let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
            check_allow_replace(&allow, a)
        };
        assert!(ok(&["OrdersTable"], &one).is_ok());
        assert!(ok(&["travis-tx/OrdersTable"], &one).is_ok());
        assert!(ok(&["king-wa/InventoryTable", "travis-tx/OrdersTable"], &two).is_ok());
        let e = ok(&["OrdersTable"], &two).expect_err("bare with two counties");
        assert_eq!(e.exit(), Exit::Usage);
        assert!(e.to_string().contains("<county>/OrdersTable"), "{e}");
        let e = ok(&["fulton-ga/OrdersTable"], &two).expect_err("county not deployed");
        assert!(e.to_string().contains("\"fulton-ga\""), "{e}");
        for bad in ["", "travis-tx/", "Orders-Table", "travis-tx/Orders Table"] {
            assert!(ok(&[bad], &one).is_err(), "{bad:?} is refused");
        }
        // Scoped entries apply to their county only.
        let opts = DeployOptions {
            allow_replace: vec!["king-wa/InventoryTable".into(), "OrdersTable".into()],
            ..DeployOptions::default()
        };
        assert_eq!(
            opts.allowed_for("king-wa"),
            ["InventoryTable", "OrdersTable"]
        );
        assert_eq!(opts.allowed_for("travis-tx"), ["OrdersTable"]);
    }

    #[test]
    fn select_by_county() {
        let a = artifact;
        let all = vec![a("06037"), a("06059")];
        assert_eq!(select(all.clone(), &[]).map(|v| v.len()).ok(), Some(2));
        assert_eq!(
            select(all.clone(), &["06059".into()])
                .map(|v| v[0].county_id.clone())
                .ok()
                .as_deref(),
            Some("06059")
        );
        let e = select(all, &["6037".into()]).expect_err("unknown");
        assert_eq!(e.exit(), Exit::Usage);
        assert!(e.to_string().contains("06037"), "{e}");
    }
}
