//! `acme-infra local`, `inventory` and `orders`: thin wrappers over
//! `acme_local::commands`.

use super::{CmdResult, load_county};
use crate::cli::local::{InventoryCommand, LocalArgs, LocalCommand, OrdersCommand};
use crate::output::Console;

/// The county's file is read (and an unknown county refused, as every other
/// command refuses it) before an emulator is started or a table touched.
pub fn local(a: &LocalArgs) -> CmdResult {
    let run = match &a.command {
        Some(LocalCommand::Load(l)) => &l.run,
        None => &a.run,
    };
    if let Some(id) = &run.county {
        load_county(&run.env, id)?;
    }
    Ok(acme_local::commands::local(&a.into())?)
}

pub fn inventory(cmd: &InventoryCommand, c: &mut Console) -> CmdResult {
    let target = match cmd {
        InventoryCommand::Load(a) => &a.target,
        InventoryCommand::Show(a) => &a.target,
    };
    load_county(&target.env, &target.county)?;
    Ok(acme_local::commands::inventory(&cmd.into(), &mut c.out)?)
}

pub fn orders(cmd: &OrdersCommand, c: &mut Console) -> CmdResult {
    Ok(acme_local::commands::orders(&cmd.into(), &mut c.out)?)
}
