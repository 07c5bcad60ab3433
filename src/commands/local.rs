//! `acme-infra local`, `inventory` and `orders`: thin wrappers over
//! `acme_local::commands`.

use super::CmdResult;
use crate::cli::local::{InventoryCommand, LocalArgs, OrdersCommand};
use crate::output::Console;

pub fn local(a: &LocalArgs) -> CmdResult {
    Ok(acme_local::commands::local(&a.into())?)
}

pub fn inventory(cmd: &InventoryCommand, c: &mut Console) -> CmdResult {
    Ok(acme_local::commands::inventory(&cmd.into(), &mut c.out)?)
}

pub fn orders(cmd: &OrdersCommand, c: &mut Console) -> CmdResult {
    Ok(acme_local::commands::orders(&cmd.into(), &mut c.out)?)
}
