//! `acme-infra list`.

use serde::Serialize;

use std::fmt::Write as _;

use super::{CmdResult, load_counties};
use crate::cli::stacks::ListArgs;
use crate::output::Console;

#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    name: &'a str,
    state: &'a str,
    account: &'a str,
    region: &'a str,
    sales_enabled: bool,
    stack_name: String,
}

pub fn run(a: &ListArgs, c: &mut Console) -> CmdResult {
    let counties = load_counties(&a.env, &[])?;
    let rows: Vec<Row<'_>> = counties
        .iter()
        .map(|c| Row {
            id: &c.id,
            name: &c.name,
            state: &c.state,
            account: &c.account,
            region: &c.region,
            sales_enabled: c.sales_enabled,
            stack_name: acme_stacks::county::stack_name(&c.id),
        })
        .collect();
    if a.json {
        let mut text = serde_json::to_string_pretty(&rows)?;
        text.push('\n');
        return c.print(&text);
    }
    let w_id = rows.iter().map(|r| r.id.len()).max().unwrap_or(0).max(6);
    let w_name = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(4);
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{:<w_id$}  {:<w_name$}  {:<5}  {:<12}  {:<14}  SALES",
        "COUNTY", "NAME", "STATE", "ACCOUNT", "REGION"
    );
    for r in &rows {
        let _ = writeln!(
            text,
            "{:<w_id$}  {:<w_name$}  {:<5}  {:<12}  {:<14}  {}",
            r.id,
            r.name,
            r.state,
            r.account,
            r.region,
            if r.sales_enabled {
                "enabled"
            } else {
                "disabled"
            }
        );
    }
    c.print(&text)
}
