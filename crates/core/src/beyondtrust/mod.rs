//! BeyondTrust Remote Support (`shared/spec/beyondtrust.md`): a typed client for OAuth, the
//! Command API and the Reporting API; streaming readers for its reports; outbound events; and
//! the rep-console LiveLinks of the seed.

mod client;
mod command;
mod error;
pub mod events;
pub mod livelinks;
pub mod report;
mod settings;
pub mod xml;

pub use client::BeyondTrustClient;
pub use command::{ApiInfo, Queue, SessionKey, SessionKeyRequest};
pub use error::{Error, ErrorKind};
pub use events::{EventError, EventType, Member, OutboundEvent, parse_event};
pub use report::*;
pub use settings::BeyondTrustSettings;
pub use xml::{ReportError, read_listing, read_sessions, read_sessions_from_bytes, read_surveys};
