//! The desk-wide ticket watch. Where a desk runs `bt-autotask-worker`, the worker asks Autotask
//! once per interval for every rep's changed open tickets ([`feed`]) and each tray app learns of
//! its own rep's from the worker ([`link`]) instead of asking Autotask itself: one query per
//! interval for the whole desk instead of one per rep. The same answer tells the app whether the
//! worker writes the desk's sessions, so that the app's embedded worker stands down — one writer
//! per session. The worker also searches for the apps ([`search`]): what one rep's search looked
//! up (companies, contacts, devices, names) is known for every rep's next.

pub mod feed;
pub mod link;
pub mod search;

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::Secret;

/// Where the worker's listener serves the desk-wide watch.
pub const PATH: &str = "/desk/changes";

/// Where the worker's listener serves the desk-wide search.
pub const SEARCH_PATH: &str = "/desk/search";

/// Longest an app's request waits for news before the worker answers "nothing yet".
pub const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// One changed open ticket, as the worker tells the apps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeskChange {
    pub id: i64,
    pub number: String,
    pub title: String,
    /// The ticket's primary resource; an app tells its rep only of their own.
    pub assigned: Option<i64>,
    /// Whether it is still open (not Complete).
    #[serde(default = "still_open")]
    pub open: bool,
}

fn still_open() -> bool {
    true
}

/// The worker's answer to `GET /desk/changes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    /// Where the next request goes on from (`after=`).
    pub cursor: String,
    /// What changed after the request's cursor (none for a request without one).
    pub changes: Vec<DeskChange>,
    /// Whether this worker writes the profile's finished sessions (then the apps' embedded
    /// workers stand down).
    pub writes_sessions: bool,
    /// How often the worker asks Autotask.
    pub every_seconds: u64,
    /// The database's hourly threshold as the worker last read it: the apps take it as their
    /// own reading instead of each asking `ThresholdInformation`.
    #[serde(default)]
    pub threshold: Option<Threshold>,
}

/// A reading of Autotask's hourly threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Threshold {
    pub used: u64,
    pub limit: u64,
}

/// A new desk token: 32 random bytes, URL-safe base64.
pub fn new_token() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Compares a token shown to the desk's without telling by its timing how much matched.
fn same_token(shown: &[u8], desk: &[u8]) -> bool {
    shown.len() == desk.len() && shown.iter().zip(desk).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_compared_whole() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a.expose(), b.expose());
        assert!(same_token(a.expose().as_bytes(), a.expose().as_bytes()));
        assert!(!same_token(a.expose().as_bytes(), b.expose().as_bytes()));
        assert!(!same_token(&a.expose().as_bytes()[..42], a.expose().as_bytes()));
        assert!(!same_token(b"", a.expose().as_bytes()));
    }
}
