//! Keeps the client within Autotask's limits: a cap on requests in flight per endpoint, and
//! pacing between requests once the database's hourly threshold is half or three quarters used
//! (every integration of a customer shares it, so we slow down before anyone gets a 429).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::settings::Limits;

/// How much of the hourly threshold is used, as far as we last knew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pressure {
    Normal,
    AboveHalf,
    AboveThreeQuarters,
    /// Autotask answered 429: the threshold is used up.
    Exhausted,
}

/// The last reading of `ThresholdInformation`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub used: u64,
    pub limit: u64,
    pub pressure: Pressure,
}

impl Usage {
    pub fn new(used: u64, limit: u64) -> Usage {
        let pressure = if limit == 0 || used >= limit {
            Pressure::Exhausted
        } else if used * 4 > limit * 3 {
            Pressure::AboveThreeQuarters
        } else if used * 2 > limit {
            Pressure::AboveHalf
        } else {
            Pressure::Normal
        };
        Usage { used, limit, pressure }
    }
}

#[derive(Debug)]
struct Pacing {
    pressure: Pressure,
    usage: Option<Usage>,
    next_slot: Instant,
    last_check: Option<Instant>,
    requests_since_check: u64,
}

#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    endpoints: Mutex<HashMap<String, Arc<Semaphore>>>,
    pacing: Mutex<Pacing>,
}

/// How many intervals apart the threshold is read while under a quarter of it is used.
const LOW_USE_READINGS_APART: u32 = 3;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Limiter {
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            limits,
            endpoints: Mutex::new(HashMap::new()),
            pacing: Mutex::new(Pacing {
                pressure: Pressure::Normal,
                usage: None,
                next_slot: Instant::now(),
                last_check: None,
                requests_since_check: 0,
            }),
        }
    }

    /// Waits for a place among the endpoint's requests in flight, then for the pacing slot.
    /// The place is held until the returned permit is dropped.
    pub async fn acquire(&self, endpoint: &str, paced: bool) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            let mut endpoints = lock(&self.endpoints);
            let cap = self.limits.max_in_flight_per_endpoint.max(1);
            endpoints.entry(endpoint.to_ascii_lowercase()).or_insert_with(|| Arc::new(Semaphore::new(cap))).clone()
        };
        // The semaphore is never closed, so this only fails if that changes; then run unlimited.
        let permit = semaphore.acquire_owned().await.ok();
        if paced {
            self.wait_for_slot().await;
        }
        permit
    }

    fn spacing(&self, pressure: Pressure) -> Duration {
        match pressure {
            Pressure::Normal => Duration::ZERO,
            Pressure::AboveHalf => self.limits.spacing_above_half,
            Pressure::AboveThreeQuarters | Pressure::Exhausted => self.limits.spacing_above_three_quarters,
        }
    }

    async fn wait_for_slot(&self) {
        let slot = {
            let mut pacing = lock(&self.pacing);
            pacing.requests_since_check += 1;
            let spacing = self.spacing(pacing.pressure);
            if spacing.is_zero() {
                return;
            }
            let slot = pacing.next_slot.max(Instant::now());
            pacing.next_slot = slot + spacing;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }

    /// How long a reading stands: [`Limits::threshold_check_interval`], and three times that
    /// while less than a quarter is used — each reading is a request too (a rep's app alone read
    /// it about as often as it watched), and from under a quarter the database takes more than
    /// one interval at the full rate of 10,000 an hour to reach half.
    fn reading_stands(&self, usage: Option<Usage>) -> Duration {
        match usage {
            Some(u) if u.pressure == Pressure::Normal && u.used * 4 < u.limit => {
                self.limits.threshold_check_interval * LOW_USE_READINGS_APART
            }
            _ => self.limits.threshold_check_interval,
        }
    }

    /// Whether it is time to read `ThresholdInformation` again; claims the check if so.
    pub fn check_due(&self) -> bool {
        let mut pacing = lock(&self.pacing);
        let due = match pacing.last_check {
            None => true,
            Some(at) => {
                at.elapsed() >= self.reading_stands(pacing.usage)
                    || pacing.requests_since_check >= self.limits.threshold_check_requests
            }
        };
        if due {
            pacing.last_check = Some(Instant::now());
            pacing.requests_since_check = 0;
        }
        due
    }

    pub fn record(&self, usage: Usage) {
        let mut pacing = lock(&self.pacing);
        pacing.usage = Some(usage);
        pacing.pressure = usage.pressure;
    }

    /// A reading someone else made for the same database (the desk's worker): taken as this
    /// client's own, so it does not read again before its interval.
    pub fn told(&self, usage: Usage) {
        let mut pacing = lock(&self.pacing);
        pacing.usage = Some(usage);
        pacing.pressure = usage.pressure;
        pacing.last_check = Some(Instant::now());
        pacing.requests_since_check = 0;
    }

    /// A 429 arrived: pace at the slowest rate and read the threshold again soon.
    pub fn note_exhausted(&self) {
        let mut pacing = lock(&self.pacing);
        pacing.pressure = Pressure::Exhausted;
        pacing.last_check = None;
    }

    pub fn pressure(&self) -> Pressure {
        lock(&self.pacing).pressure
    }

    pub fn usage(&self) -> Option<Usage> {
        lock(&self.pacing).usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pressure_levels_follow_the_thresholds() {
        assert_eq!(Usage::new(5000, 10000).pressure, Pressure::Normal);
        assert_eq!(Usage::new(5001, 10000).pressure, Pressure::AboveHalf);
        assert_eq!(Usage::new(7501, 10000).pressure, Pressure::AboveThreeQuarters);
        assert_eq!(Usage::new(10000, 10000).pressure, Pressure::Exhausted);
    }

    #[test]
    fn checks_are_due_first_then_after_enough_requests() {
        let limits = Limits { threshold_check_requests: 2, ..Limits::default() };
        let limiter = Limiter::new(limits);
        assert!(limiter.check_due());
        assert!(!limiter.check_due());
        lock(&limiter.pacing).requests_since_check = 2;
        assert!(limiter.check_due());
        limiter.note_exhausted();
        assert!(limiter.check_due());
    }

    #[test]
    fn a_threshold_little_used_is_read_less_often() {
        // Short, so that "read that long ago" stays after this machine's boot.
        let limits = Limits { threshold_check_interval: Duration::from_millis(100), ..Limits::default() };
        let interval = limits.threshold_check_interval;
        let limiter = Limiter::new(limits);
        let read_ago = |ago: Duration, usage: Usage| {
            limiter.record(usage);
            lock(&limiter.pacing).last_check = Some(Instant::now() - ago);
            limiter.check_due()
        };
        assert!(!read_ago(interval * 2, Usage::new(2_000, 10_000)), "a fifth used: the reading stands 3 intervals");
        assert!(read_ago(interval * 3, Usage::new(2_000, 10_000)));
        assert!(read_ago(interval, Usage::new(2_500, 10_000)), "a quarter used: every interval");
        assert!(!read_ago(interval / 2, Usage::new(9_000, 10_000)));
    }
}
