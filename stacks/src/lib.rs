//! The county stack generator: a typed CloudFormation model (`cfn`), strict county
//! configuration (`config`), the county stack itself (`county`) and the cloud
//! assembly writer (`assembly`). Nothing here calls AWS: a template is a pure
//! function of a county's configuration.

pub mod assembly;
pub mod bootstrap;
pub mod cfn;
pub mod config;
pub mod county;
pub mod limits;
pub mod synth;
