//! bta-core: everything bt-autotask does without a screen — settings, secrets, and the typed
//! clients for Autotask PSA and BeyondTrust Remote Support. Never depends on the desktop shell.

pub mod autotask;
pub mod beyondtrust;
pub mod check;
pub mod config;
pub mod desk;
pub mod intake;
pub mod polling;
pub mod render;
pub mod secret;
pub mod service;
pub mod store;
pub mod transport_policy;
pub mod worker;

pub use secret::Secret;
