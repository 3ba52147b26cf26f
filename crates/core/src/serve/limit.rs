//! Per-client allowances with bounded memory — requests per rep, wrong credentials per address,
//! logins per address and name — on `governor`'s keyed GCRA limiters. A table never holds more
//! than its ceiling of keys: keys back at their full allowance are forgotten (shard by shard,
//! never the whole table under one lock), and past the ceiling the rest share one key. An IPv6
//! client is known by its /64, the block one subscriber holds, so one client cannot fill a table
//! by changing addresses.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, MonotonicClock};
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

/// How long a request must wait before it may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait(pub Duration);

impl Wait {
    /// Whole seconds, for `Retry-After`.
    pub fn seconds(self) -> u64 {
        self.0.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// An allowance: `burst` at once, then one more every `every`.
pub fn allowance(burst: u32, every: Duration) -> Quota {
    let quota =
        Quota::with_period(every.max(Duration::from_nanos(1))).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
    quota.allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

/// Checks between two tidyings of a table (and a full table is tidied at most once a second).
const TIDY_EVERY: u64 = 4096;

/// A keyed allowance with at most `most` keys.
#[derive(Debug)]
pub struct Keyed<K: Hash + Eq + Clone> {
    limiter: RateLimiter<K, DashMapStateStore<K>, MonotonicClock>,
    clock: MonotonicClock,
    most: usize,
    /// The one key every client past the ceiling shares.
    overflow: K,
    checks: AtomicU64,
    tidied: Mutex<Instant>,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    pub fn new(quota: Quota, most: usize, overflow: K) -> Keyed<K> {
        let clock = MonotonicClock;
        Keyed {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            most,
            overflow,
            checks: AtomicU64::new(0),
            tidied: Mutex::new(Instant::now()),
        }
    }

    /// Takes one from `key`'s allowance, or says how long until there is one.
    pub fn take(&self, key: &K) -> Result<(), Wait> {
        let key = self.room_for(key);
        self.limiter.check_key(key).map_err(|not_until| Wait(not_until.wait_time_from(self.clock.now())))
    }

    /// How many keys the table holds now.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key to count under: `key`, or the shared one when the table is full.
    fn room_for<'a>(&'a self, key: &'a K) -> &'a K {
        if self.checks.fetch_add(1, Ordering::Relaxed) % TIDY_EVERY == 0 {
            self.tidy();
        }
        if self.len() < self.most {
            return key;
        }
        self.tidy();
        if self.len() < self.most { key } else { &self.overflow }
    }

    /// Forgets the keys that are back at their whole allowance (they are as good as new); at
    /// most once a second.
    fn tidy(&self) {
        let mut tidied = self.tidied.lock().unwrap_or_else(|e| e.into_inner());
        if tidied.elapsed() < Duration::from_secs(1) {
            return;
        }
        *tidied = Instant::now();
        drop(tidied);
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The key a client's address counts under: the address itself, or an IPv6 address's /64.
pub fn client_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_waits_and_others_are_not_touched() {
        let table = Keyed::new(allowance(3, Duration::from_secs(60)), 100, 0u32);
        for _ in 0..3 {
            assert_eq!(table.take(&1), Ok(()));
        }
        let wait = table.take(&1).unwrap_err();
        assert!(wait.0 > Duration::from_secs(50) && wait.seconds() <= 60, "{wait:?}");
        assert_eq!(table.take(&2), Ok(()), "another key has its own allowance");
    }

    #[test]
    fn a_full_table_stays_bounded_and_the_rest_share_one_key() {
        let table = Keyed::new(allowance(1, Duration::from_secs(3600)), 50, u32::MAX);
        for key in 0..10_000u32 {
            let _ = table.take(&key);
        }
        assert!(table.len() <= 51, "at most the ceiling and the shared key: {}", table.len());
        assert!(table.take(&20_000).is_err(), "past the ceiling a new key shares the spent one");
    }

    #[test]
    fn an_ipv6_client_is_known_by_its_64_block() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap_or(IpAddr::from([0; 4]));
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap_or(IpAddr::from([0; 4]));
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(client_key(mapped), IpAddr::from([192, 0, 2, 7]));
        assert_eq!(client_key(IpAddr::from([192, 0, 2, 7])), IpAddr::from([192, 0, 2, 7]));
    }
}
