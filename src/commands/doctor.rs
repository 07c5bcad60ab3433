//! `acme-infra doctor`: the deployer's AWS checks, and the legacy database
//! through the migration's own connection code.

use std::fmt::Write as _;

use acme_deploy::doctor::{self, Check, Outcome};
use acme_migrate::source::{Legacy, LegacyUrl};
use acme_stacks::config::CountyConfig;

use super::{CmdResult, load_counties};
use crate::cli::doctor::DoctorArgs;
use crate::error::Error;
use crate::output::Console;

pub fn run(a: &DoctorArgs, c: &mut Console) -> CmdResult {
    let counties = load_counties(&a.env, std::slice::from_ref(&a.county))?;
    let Some(cfg) = counties.first() else {
        return Err(Error::Usage(format!("no county `{}`", a.county)));
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let checks = runtime.block_on(checks(cfg, a.legacy_url.as_deref()));
    if a.json {
        let mut text = serde_json::to_string_pretty(&checks)?;
        text.push('\n');
        c.print(&text)?;
    } else {
        c.print(&render(cfg, &checks))?;
    }
    if doctor::failed(&checks, a.strict) {
        return Err(Error::CheckFailed(format!(
            "{}: not ready for a first deploy (see the checks above)",
            cfg.id
        )));
    }
    Ok(())
}

async fn checks(cfg: &CountyConfig, legacy_url: Option<&str>) -> Vec<Check> {
    let (clients, configured) = doctor::connect(cfg).await;
    let mut checks = vec![doctor::configured_region(cfg, configured.as_deref())];
    match clients {
        Ok(clients) => checks.extend(doctor::aws_checks(&clients, cfg).await),
        Err(unreached) => checks.push(unreached),
    }
    checks.push(legacy(cfg, legacy_url).await);
    checks
}

async fn legacy(cfg: &CountyConfig, url: Option<&str>) -> Check {
    const NAME: &str = "legacy database";
    if cfg.migration.is_none() {
        return Check::new(NAME, Outcome::Pass, "not needed: no `migration:` section");
    }
    let Some(text) = url.filter(|u| !u.is_empty()) else {
        return Check::new(
            NAME,
            Outcome::Warn,
            "not checked: the county migrates, give --legacy-url or ACME_LEGACY_URL",
        );
    };
    let url: LegacyUrl = match text.parse() {
        Ok(u) => u,
        Err(e) => return Check::new(NAME, Outcome::Fail, e.to_string()),
    };
    match Legacy::connect(&url).await {
        Ok(_) => {
            let tls = if url.requires_tls() {
                "TLS required"
            } else {
                "TLS as sslmode says"
            };
            Check::new(
                NAME,
                Outcome::Pass,
                format!("{url} answers, schema as expected ({tls})"),
            )
        }
        Err(e) => Check::new(NAME, Outcome::Fail, e.to_string()),
    }
}

fn render(cfg: &CountyConfig, checks: &[Check]) -> String {
    let mut s = format!(
        "Checks for {} (account {}, {})\n",
        cfg.id, cfg.account, cfg.region
    );
    for c in checks {
        let _ = writeln!(s, "{c}");
    }
    let count = |o: Outcome| checks.iter().filter(|c| c.outcome == o).count();
    let _ = writeln!(
        s,
        "{} pass, {} warn, {} fail, {} skip",
        count(Outcome::Pass),
        count(Outcome::Warn),
        count(Outcome::Fail),
        count(Outcome::Skip)
    );
    s
}
