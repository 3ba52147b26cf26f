//! How much the desk's endpoints take: per rep, an allowance of requests (this worker's, on
//! [`crate::serve::limit`]'s bounded tables), and — counted in the store by every worker on it
//! together, so that a balancer spreading a rep's requests grants no more — a smaller one of
//! session keys and one of searches that reach Autotask (`rep_autotask_searches_per_hour`), so
//! one app gone wrong can take neither the desk's Autotask threshold nor the appliance's keys;
//! per address, wrong tokens and codes are answered "wait" after a handful. A right token or code is served whatever its address did: one machine behind
//! an office's shared address cannot lock its colleagues out. What stops guessing is the
//! credentials' size — 256-bit tokens, 100-bit codes that work once and expire — not the waits,
//! which keep a guesser's load and log small.

use std::net::IpAddr;
use std::time::Duration;

pub use crate::serve::limit::Wait;
use crate::serve::limit::{Keyed, allowance, client_key};
use crate::store::AsyncStore;

/// A rep's requests: this many at once…
pub const REQUESTS_BURST: u32 = 30;
/// …and this many a second after that (a fast typist's searches, 4 a second, and the watch).
pub const REQUESTS_PER_SECOND: u32 = 5;
/// A rep's session keys: this many at once…
pub const KEYS_BURST: u32 = 10;
/// …and then one every this many seconds (10 a minute).
pub const KEY_EVERY: Duration = Duration::from_secs(6);
/// A rep's searches that reach Autotask at once: a tenth of `rep_autotask_searches_per_hour`
/// (20 by default), between 1 and this.
pub const MOST_AUTOTASK_AT_ONCE: u32 = 1000;
/// Wrong tokens or codes from one address answered as such before it is told to wait…
pub const FAILURES_ALLOWED: u32 = 5;
/// …and then one more every this long.
pub const FAILURE_EVERY: Duration = Duration::from_secs(120);
/// Most addresses and reps each table remembers (past it, the rest share one entry).
const REMEMBERED: usize = 10_000;

type Rep = (String, String);

/// The desk's limits: requests and failures in this worker's memory, session keys and searches
/// of Autotask in the store.
#[derive(Debug)]
pub struct Limits {
    requests: Keyed<Rep>,
    failures: Keyed<IpAddr>,
    store: AsyncStore,
    keys: (u32, Duration),
    autotask: (u32, Duration),
    autotask_per_hour: u32,
}

impl Limits {
    /// `autotask_per_hour`: the searches one rep may have reach Autotask in an hour.
    pub fn new(autotask_per_hour: u32, store: AsyncStore) -> Limits {
        let hourly = Duration::from_secs(3600) / autotask_per_hour.max(1);
        Limits {
            requests: Keyed::new(
                allowance(REQUESTS_BURST, Duration::from_secs(1) / REQUESTS_PER_SECOND),
                REMEMBERED,
                (String::new(), String::new()),
            ),
            failures: Keyed::new(allowance(FAILURES_ALLOWED, FAILURE_EVERY), REMEMBERED, IpAddr::from([0, 0, 0, 0])),
            store,
            keys: (KEYS_BURST, KEY_EVERY),
            autotask: ((autotask_per_hour / 10).clamp(1, MOST_AUTOTASK_AT_ONCE), hourly),
            autotask_per_hour,
        }
    }

    /// Takes one of a rep's allowance counted in the store. Should the store not answer, the
    /// rep is served (what the allowance guards is spent by requests that fail without it too)
    /// and the log says so.
    async fn take_shared(
        &self,
        kind: &'static str,
        (burst, every): (u32, Duration),
        rep: (&str, &str),
    ) -> Result<(), Wait> {
        let key = format!("{}\u{1f}{}", rep.0, rep.1);
        let taken = self.store.run(move |s| s.take_allowance(kind, &key, (burst, every), chrono::Utc::now())).await;
        match taken {
            Ok(taken) => taken.map_err(Wait),
            Err(e) => {
                if let Some(count) = crate::serve::said::due("a rep's allowance the store could not count") {
                    tracing::warn!(
                        count,
                        "the desk's allowances could not be counted in the store, and were granted: {e}"
                    );
                }
                Ok(())
            }
        }
    }

    /// One request of a rep (profile, username).
    pub fn request(&self, rep: (&str, &str)) -> Result<(), Wait> {
        self.requests.take(&owned(rep))
    }

    /// One session key of a rep.
    pub async fn session_key(&self, rep: (&str, &str)) -> Result<(), Wait> {
        self.take_shared("session key", self.keys, rep).await
    }

    /// One search of a rep that asks Autotask itself.
    pub async fn autotask_search(&self, rep: (&str, &str)) -> Result<(), Wait> {
        self.take_shared("autotask search", self.autotask, rep).await
    }

    /// The searches a rep may have reach Autotask in an hour.
    pub fn autotask_per_hour(&self) -> u32 {
        self.autotask_per_hour
    }

    /// Counts a wrong token or code from `address`; the wait it is told, once past the handful.
    pub fn failed(&self, address: IpAddr) -> Option<Wait> {
        self.failures.take(&client_key(address)).err()
    }
}

fn owned(rep: (&str, &str)) -> Rep {
    (rep.0.to_owned(), rep.1.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Limits on a store of their own, or the store of `limits`' (another worker on it).
    fn limits_on(per_hour: u32, dir: &tempfile::TempDir) -> Limits {
        let store = crate::store::Store::open(&dir.path().join("store.sqlite3")).unwrap();
        Limits::new(per_hour, AsyncStore::new(store))
    }

    #[tokio::test]
    async fn a_rep_gets_a_burst_then_the_rate_and_others_are_not_touched() {
        let dir = tempfile::tempdir().unwrap();
        let limits = limits_on(200, &dir);
        for _ in 0..REQUESTS_BURST {
            assert!(limits.request(("Desk", "alex")).is_ok());
        }
        let wait = limits.request(("Desk", "alex")).unwrap_err();
        assert!(wait.0 <= Duration::from_secs(1) / REQUESTS_PER_SECOND && wait.seconds() == 1);
        assert!(limits.request(("Desk", "sam")).is_ok(), "another rep has a bucket of their own");
        for _ in 0..KEYS_BURST {
            assert!(limits.session_key(("Desk", "alex")).await.is_ok());
        }
        let wait = limits.session_key(("Desk", "alex")).await.unwrap_err();
        assert!(wait.0 > KEY_EVERY / 2 && wait.0 <= KEY_EVERY, "{wait:?}");
        assert!(limits.session_key(("Desk", "sam")).await.is_ok());
    }

    #[tokio::test]
    async fn a_reps_searches_of_autotask_have_an_hourly_budget_every_worker_counts_together() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (limits_on(60, &dir), limits_on(60, &dir));
        for limits in [&one, &two, &one, &two, &one, &two] {
            assert!(limits.autotask_search(("Desk", "alex")).await.is_ok());
        }
        let wait = two.autotask_search(("Desk", "alex")).await.unwrap_err();
        assert!(wait.seconds() > 30 && wait.seconds() <= 60, "one a minute at 60 an hour: {wait:?}");
        assert!(one.autotask_search(("Desk", "alex")).await.is_err(), "spent at both workers");
        assert!(one.autotask_search(("Desk", "sam")).await.is_ok());
    }

    #[test]
    fn an_address_is_told_to_wait_after_a_handful_of_wrong_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let limits = limits_on(200, &dir);
        let (guesser, colleague) = ("192.0.2.7".parse().unwrap(), "192.0.2.8".parse().unwrap());
        for _ in 0..FAILURES_ALLOWED {
            assert_eq!(limits.failed(guesser), None);
        }
        let wait = limits.failed(guesser).unwrap();
        assert!(wait.0 > FAILURE_EVERY / 2 && wait.0 <= FAILURE_EVERY, "{wait:?}");
        assert_eq!(limits.failed(colleague), None, "another address is not touched");
    }
}
