//! Why a rep's action failed, in words for the rep; and how long their typing pauses before the
//! window searches.

use crate::{autotask, beyondtrust};

/// How long the rep's typing pauses before the window searches: longer than a fast typist's
/// gap between two keys (~125 ms at 8 keys a second), so typing a word costs one search, not
/// one per key — a whole desk's searches come out of Autotask's shared hourly threshold.
pub const TYPING_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error(transparent)]
    Autotask(#[from] autotask::Error),
    #[error(transparent)]
    BeyondTrust(#[from] beyondtrust::Error),
    #[error("ticket {0} has no configuration item to Jump to; add one to the ticket in Autotask")]
    NoConfigurationItem(String),
    #[error("no Autotask resource has the e-mail {0}; check your e-mail in Settings")]
    UnknownRep(String),
    #[error("profile '{0}' does not say who you are in Autotask; set \"Your Autotask e-mail\" in Settings")]
    NoRepEmail(String),
    #[error("profile '{0}' does not say who you are in BeyondTrust; set \"Your BeyondTrust username\" in Settings")]
    NoRepUsername(String),
    #[error("ticket {0} is not in the list any more; search again")]
    NotShown(i64),
    #[error("profile '{0}': {1}")]
    DeskLink(String, String),
    /// The desk's worker did not answer as asked: in a rep's words, the technical cause apart.
    #[error("{said}")]
    AtDesk { said: String, details: Option<String> },
}

impl DeskError {
    /// The technical cause behind the words, for a details line and the log.
    pub fn details(&self) -> Option<&str> {
        match self {
            DeskError::AtDesk { details, .. } => details.as_deref(),
            _ => None,
        }
    }
}
