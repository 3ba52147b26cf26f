//! BeyondTrust Remote Support: the Reporting API's documents read into typed structs.

pub mod report;
pub mod xml;

pub use report::*;
pub use xml::{ReportError, read_listing, read_sessions, read_surveys};
