//! `acme-contract`: the facts that more than one crate must agree on, each
//! defined once. The generator (`acme-stacks`) builds resources from them, the
//! functions read and write with them, the deployer and the local runner find
//! resources by them. A fact written here is never retyped as a string
//! elsewhere.
//!
//! | module | what |
//! |---|---|
//! | [`routes`] | the order API's routes: methods, paths, query parameters, operations |
//! | [`schema`] | table, attribute and index names, and the functions' environment variables |
//! | [`payment`] | the payment providers a county file can select |
//! | [`rules`] | the JSON of `ACME_COUNTY_RULES` and the ranges of its values |
//! | [`limits`] | DynamoDB quotas the plans obey, and the order limits they imply |
//! | [`ids`] | id characters and lengths |
//! | [`migration`] | a migrating county's cutover mode and where the flag lives |

pub mod ids;
pub mod limits;
pub mod migration;
pub mod payment;
pub mod routes;
pub mod rules;
pub mod schema;
