//! bta-core: everything bt-autotask does without a screen — settings, secrets, and the typed
//! clients for Autotask PSA and BeyondTrust Remote Support. Never depends on the desktop shell.

pub mod autotask;
pub mod beyondtrust;
pub mod billing;
pub mod check;
pub mod config;
pub mod console;
pub mod desk;
pub mod desk_api;
pub mod gateway;
pub mod intake;
pub mod mail;
pub mod metrics;
pub mod polling;
pub mod render;
pub mod secret;
pub mod serve;
pub mod service;
pub mod store;
pub mod ticket_search;
pub mod transport_policy;
pub mod worker;

pub use secret::Secret;

/// Whether log lines on stderr may carry colour: only for a person at a terminal, and not when
/// `NO_COLOR` is set (no-color.org); a service manager's or a collector's file gets plain text.
pub fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
