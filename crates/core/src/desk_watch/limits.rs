//! How much the desk's endpoints take: per rep, a bucket of requests (and a smaller one of
//! session keys), so one app gone wrong cannot take the desk's Autotask threshold or the
//! appliance's keys; per address, wrong tokens and codes are slowed after a handful, so guessing
//! costs time. A right token from a slowed address is still served: one machine behind an
//! office's shared address cannot lock its colleagues out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A rep's requests: this many at once…
pub const REQUESTS_BURST: f64 = 30.0;
/// …and this many a second after that (a fast typist's searches, 4 a second, and the watch).
pub const REQUESTS_PER_SECOND: f64 = 5.0;
/// A rep's session keys: this many at once…
pub const KEYS_BURST: f64 = 10.0;
/// …and then one every this many seconds (10 a minute).
pub const KEY_EVERY_SECONDS: f64 = 6.0;
/// Wrong tokens or codes from one address within [`FAILURE_WINDOW`] before it is slowed.
pub const FAILURES_ALLOWED: u32 = 5;
/// The window wrong tokens are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// How long a slowed address waits the first time; doubled each time after, up to [`LONGEST_WAIT`].
pub const FIRST_WAIT: Duration = Duration::from_secs(60);
pub const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);
/// Most addresses and reps remembered (the oldest are forgotten past it).
const REMEMBERED: usize = 10_000;

/// What a request may not do now, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait(pub Duration);

impl Wait {
    /// Whole seconds, for `Retry-After`.
    pub fn seconds(self) -> u64 {
        self.0.as_secs_f64().ceil().max(1.0) as u64
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self, burst: f64, per_second: f64) -> Result<(), Wait> {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * per_second).min(burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Wait(Duration::from_secs_f64((1.0 - self.tokens) / per_second)))
        }
    }
}

#[derive(Debug)]
struct Failures {
    count: u32,
    since: Instant,
    /// How many times the address was slowed.
    slowed: u32,
    until: Option<Instant>,
}

/// The desk's limits, in memory (a restarted worker starts them afresh).
#[derive(Debug, Default)]
pub struct Limits {
    requests: Mutex<HashMap<(String, String), Bucket>>,
    keys: Mutex<HashMap<(String, String), Bucket>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

impl Limits {
    /// One request of a rep (profile, username).
    pub fn request(&self, rep: (&str, &str)) -> Result<(), Wait> {
        take(&self.requests, rep, REQUESTS_BURST, REQUESTS_PER_SECOND)
    }

    /// One session key of a rep.
    pub fn session_key(&self, rep: (&str, &str)) -> Result<(), Wait> {
        take(&self.keys, rep, KEYS_BURST, 1.0 / KEY_EVERY_SECONDS)
    }

    /// How long an address is still slowed for, if it is.
    pub fn slowed(&self, address: IpAddr) -> Option<Wait> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let until = failures.get(&address)?.until?;
        until.checked_duration_since(Instant::now()).map(Wait)
    }

    /// Counts a wrong token or code from `address`; the wait it is now slowed for, if it is.
    pub fn failed(&self, address: IpAddr) -> Option<Wait> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= REMEMBERED && !failures.contains_key(&address) {
            forget_oldest(&mut failures, |f| f.since);
        }
        let now = Instant::now();
        let f = failures.entry(address).or_insert(Failures { count: 0, since: now, slowed: 0, until: None });
        if now.duration_since(f.since) > FAILURE_WINDOW && f.until.is_none_or(|u| u < now) {
            f.count = 0;
            f.since = now;
        }
        f.count += 1;
        if f.count <= FAILURES_ALLOWED {
            return None;
        }
        if f.until.is_some_and(|u| u > now) {
            return f.until.map(|u| Wait(u - now));
        }
        let wait = FIRST_WAIT.saturating_mul(1 << f.slowed.min(10)).min(LONGEST_WAIT);
        f.slowed += 1;
        f.until = Some(now + wait);
        Some(Wait(wait))
    }
}

fn take(
    buckets: &Mutex<HashMap<(String, String), Bucket>>,
    rep: (&str, &str),
    burst: f64,
    rate: f64,
) -> Result<(), Wait> {
    let mut buckets = buckets.lock().unwrap_or_else(|e| e.into_inner());
    let key = (rep.0.to_owned(), rep.1.to_owned());
    if buckets.len() >= REMEMBERED && !buckets.contains_key(&key) {
        forget_oldest(&mut buckets, |b| b.at);
    }
    buckets.entry(key).or_insert(Bucket { tokens: burst, at: Instant::now() }).take(burst, rate)
}

fn forget_oldest<K: Clone + Eq + std::hash::Hash, V>(map: &mut HashMap<K, V>, when: impl Fn(&V) -> Instant) {
    if let Some(oldest) = map.iter().min_by_key(|(_, v)| when(v)).map(|(k, _)| k.clone()) {
        map.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rep_gets_a_burst_then_the_rate_and_others_are_not_touched() {
        let limits = Limits::default();
        for _ in 0..REQUESTS_BURST as usize {
            assert!(limits.request(("Desk", "alex")).is_ok());
        }
        let wait = limits.request(("Desk", "alex")).unwrap_err();
        assert!(wait.0 <= Duration::from_secs_f64(1.0 / REQUESTS_PER_SECOND) && wait.seconds() == 1);
        assert!(limits.request(("Desk", "sam")).is_ok(), "another rep has a bucket of their own");
        for _ in 0..KEYS_BURST as usize {
            assert!(limits.session_key(("Desk", "alex")).is_ok());
        }
        assert!(limits.session_key(("Desk", "alex")).is_err());
    }

    #[test]
    fn an_address_is_slowed_after_a_handful_of_wrong_tokens_and_longer_each_time() {
        let limits = Limits::default();
        let (guesser, colleague) = ("192.0.2.7".parse().unwrap(), "192.0.2.8".parse().unwrap());
        for _ in 0..FAILURES_ALLOWED {
            assert_eq!(limits.failed(guesser), None);
        }
        assert_eq!(limits.slowed(guesser), None);
        let first = limits.failed(guesser).unwrap();
        assert_eq!(first.seconds(), FIRST_WAIT.as_secs());
        assert!(limits.slowed(guesser).is_some() && limits.slowed(colleague).is_none());
        assert!(limits.failed(guesser).unwrap().0 <= FIRST_WAIT, "the same wait while it lasts");
    }
}
