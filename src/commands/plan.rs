//! `acme-infra plan`: a thin wrapper over `order_capacity::plan`.

use order_capacity::plan::{self, PriceFile};

use super::{CmdResult, load_counties};
use crate::cli::plan::PlanArgs;
use crate::error::Error;
use crate::output::Console;

pub fn run(a: &PlanArgs, c: &mut Console) -> CmdResult {
    let counties = load_counties(&a.env, std::slice::from_ref(&a.county))?;
    let Some(cfg) = counties.first() else {
        return Err(Error::Usage(format!("no county `{}`", a.county)));
    };
    let prices = PriceFile::shipped()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(Error::Runtime)?;
    let plan = runtime.block_on(plan::plan(cfg, &prices))?;
    if a.json {
        let mut text = serde_json::to_string_pretty(&plan)?;
        text.push('\n');
        c.print(&text)?;
    } else {
        c.print(&plan.render())?;
    }
    if a.fail_on_risk && !plan.risks.is_empty() {
        return Err(Error::CheckFailed(format!(
            "{}: {} risk(s) at peak (listed above)",
            plan.county,
            plan.risks.len()
        )));
    }
    Ok(())
}
