//! What a monitoring system scrapes from the headless worker at `GET /metrics`, in the
//! Prometheus (OpenMetrics) text format: intake answers, Autotask and BeyondTrust calls and
//! their outcomes, retries, how long a session takes from its end event to its ticket, the
//! Autotask threshold in use, and the queue. One set per process: the clients record into it
//! wherever they run, so no handle has to be passed through every layer.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::store::QueueHealth;

type Labels = Vec<(&'static str, String)>;

/// The process's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    intake: Family<Labels, Counter>,
    autotask_calls: Family<Labels, Counter>,
    beyondtrust_calls: Family<Labels, Counter>,
    retries: Family<Labels, Counter>,
    written: Histogram,
    threshold: Gauge<f64, AtomicU64>,
    jobs: Family<Labels, Gauge>,
    oldest_pending: Gauge,
    desk_refusals: Family<Labels, Counter>,
    desk_searches: Family<Labels, Counter>,
    copy_tickets: Family<Labels, Gauge>,
    copy_age: Family<Labels, Gauge>,
    webhook_active: Family<Labels, Gauge>,
    webhook_deactivations: Family<Labels, Counter>,
    console_logins: Family<Labels, Counter>,
    /// Requests by purpose, hour by hour, for the console's chart.
    hourly: std::sync::Mutex<std::collections::VecDeque<Hour>>,
    /// Autotask's threshold as last read: used, limit.
    last_threshold: std::sync::Mutex<Option<(u64, u64)>>,
}

/// What the desk's requests were for, as the console's chart shows them.
pub const PURPOSES: [&str; 5] = ["writes", "searches and watch", "lookups", "housekeeping", "session keys"];

/// One hour's requests by purpose (in [`PURPOSES`] order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Hour {
    /// The hour's start, in seconds since 1970 (UTC).
    pub start: i64,
    pub counts: [u64; 5],
}

/// Hours kept for the chart.
const HOURS_KEPT: usize = 24;

/// The purpose of an Autotask call: writes, the tickets the desk searches and watches, the
/// companies, contacts and resources it looks up, and the calls that keep the client going.
fn purpose(entity: &str, operation: &str) -> usize {
    match operation {
        "create" | "update" => 0,
        "query" | "count" | "get" if entity == "Tickets" => 1,
        "query" | "count" | "get" => 2,
        _ => 3,
    }
}

/// The process's metrics, made on first use.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Seconds from a session's end to its ticket: from a few seconds to a day of retries.
const WRITTEN_BUCKETS: [f64; 12] = [1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0];

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("bta");
        let intake = Family::<Labels, Counter>::default();
        let autotask_calls = Family::<Labels, Counter>::default();
        let beyondtrust_calls = Family::<Labels, Counter>::default();
        let retries = Family::<Labels, Counter>::default();
        let written = Histogram::new(WRITTEN_BUCKETS);
        let threshold = Gauge::<f64, AtomicU64>::default();
        let jobs = Family::<Labels, Gauge>::default();
        let oldest_pending = Gauge::default();
        let desk_refusals = Family::<Labels, Counter>::default();
        let desk_searches = Family::<Labels, Counter>::default();
        let copy_tickets = Family::<Labels, Gauge>::default();
        let copy_age = Family::<Labels, Gauge>::default();
        let webhook_active = Family::<Labels, Gauge>::default();
        let webhook_deactivations = Family::<Labels, Counter>::default();
        registry.register(
            "desk_webhook_active",
            "Whether Autotask's ticket webhook for the desk is on, by profile (1 on, 0 turned off by Autotask)",
            webhook_active.clone(),
        );
        registry.register(
            "desk_webhook_deactivations",
            "Times Autotask turned the desk's ticket webhook off (after failed deliveries), by profile",
            webhook_deactivations.clone(),
        );
        let console_logins = Family::<Labels, Counter>::default();
        registry.register(
            "console_logins",
            "Console logins, by outcome (right, wrong: a password checked; slowed, busy: refused before any check)",
            console_logins.clone(),
        );
        registry.register("intake_answers", "Outbound events answered, by profile and HTTP status", intake.clone());
        registry.register(
            "autotask_calls",
            "Autotask requests, by entity, operation and outcome (ok, rejected, server, network…)",
            autotask_calls.clone(),
        );
        registry.register(
            "beyondtrust_calls",
            "BeyondTrust API requests, by command and outcome",
            beyondtrust_calls.clone(),
        );
        registry.register("job_retries", "Jobs rescheduled after a transient failure, by profile", retries.clone());
        registry.register(
            "session_written_seconds",
            "From a session's end event to its note and time entry written",
            written.clone(),
        );
        registry.register(
            "autotask_threshold_used_ratio",
            "Share of Autotask's hourly request threshold in use, as last read",
            threshold.clone(),
        );
        registry.register("jobs", "Jobs in the store, by state", jobs.clone());
        registry.register("oldest_pending_job_seconds", "Age of the oldest job still waiting", oldest_pending.clone());
        registry.register(
            "desk_refusals",
            "Desk requests refused, by reason (token, code, slowed, limited, not_served, store)",
            desk_refusals.clone(),
        );
        registry.register(
            "desk_searches",
            "Reps' searches at the desk's worker, by where they were answered from (copy, autotask)",
            desk_searches.clone(),
        );
        registry.register("ticket_copy_tickets", "Tickets in the desk's copy, by profile", copy_tickets.clone());
        registry.register(
            "ticket_copy_age_seconds",
            "How long ago the desk's copy of the tickets was last current, by profile (-1: not filled yet)",
            copy_age.clone(),
        );
        Metrics {
            registry,
            intake,
            autotask_calls,
            beyondtrust_calls,
            retries,
            written,
            threshold,
            jobs,
            oldest_pending,
            desk_refusals,
            desk_searches,
            copy_tickets,
            copy_age,
            webhook_active,
            webhook_deactivations,
            console_logins,
            hourly: Default::default(),
            last_threshold: Default::default(),
        }
    }

    fn count(&self, purpose: usize) {
        let start = chrono::Utc::now().timestamp() / 3600 * 3600;
        let mut hours = self.hourly.lock().unwrap_or_else(|e| e.into_inner());
        if hours.back().is_none_or(|h| h.start != start) {
            hours.push_back(Hour { start, counts: [0; 5] });
            while hours.len() > HOURS_KEPT {
                hours.pop_front();
            }
        }
        if let Some(hour) = hours.back_mut() {
            hour.counts[purpose] += 1;
        }
    }

    /// The last day's requests by purpose, oldest hour first (hours without any left out).
    pub fn last_day(&self) -> Vec<Hour> {
        let since = chrono::Utc::now().timestamp() - 24 * 3600;
        let hours = self.hourly.lock().unwrap_or_else(|e| e.into_inner());
        hours.iter().filter(|h| h.start > since).copied().collect()
    }

    /// Autotask's hourly threshold as last read: used and limit.
    pub fn threshold(&self) -> Option<(u64, u64)> {
        *self.last_threshold.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A console login, by outcome: `right` and `wrong` had their password checked.
    pub fn console_login(&self, outcome: &'static str) {
        self.console_logins.get_or_create(&vec![("outcome", outcome.to_owned())]).inc();
    }

    pub fn desk_refused(&self, reason: &str) {
        self.desk_refusals.get_or_create(&vec![("reason", reason.to_owned())]).inc();
    }

    pub fn intake_answered(&self, profile: &str, status: u16) {
        self.intake.get_or_create(&vec![("profile", profile.to_owned()), ("status", status.to_string())]).inc();
    }

    pub fn autotask_call(&self, entity: &str, operation: &str, outcome: &str) {
        let labels =
            vec![("entity", entity.to_owned()), ("operation", operation.to_owned()), ("outcome", outcome.to_owned())];
        self.autotask_calls.get_or_create(&labels).inc();
        self.count(purpose(entity, operation));
    }

    pub fn beyondtrust_call(&self, command: &str, outcome: &str) {
        self.beyondtrust_calls
            .get_or_create(&vec![("command", command.to_owned()), ("outcome", outcome.to_owned())])
            .inc();
        if command == "generate_session_key" {
            self.count(4);
        }
    }

    pub fn retried(&self, profile: &str) {
        self.retries.get_or_create(&vec![("profile", profile.to_owned())]).inc();
    }

    pub fn session_written(&self, seconds: f64) {
        self.written.observe(seconds.max(0.0));
    }

    pub fn threshold_used(&self, used: u64, limit: u64) {
        *self.last_threshold.lock().unwrap_or_else(|e| e.into_inner()) = Some((used, limit));
        if limit > 0 {
            self.threshold.set(used as f64 / limit as f64);
        }
    }

    /// Counts a rep's search at the desk's worker, by where it was answered from.
    pub fn desk_search(&self, from_copy: bool) {
        let from = if from_copy { "copy" } else { "autotask" };
        self.desk_searches.get_or_create(&vec![("from", from.to_owned())]).inc();
    }

    /// How many tickets a profile's copy holds and how many seconds ago it was current.
    pub fn ticket_copy(&self, profile: &str, tickets: u64, age_seconds: Option<i64>) {
        let labels = vec![("profile", profile.to_owned())];
        self.copy_tickets.get_or_create(&labels).set(tickets as i64);
        self.copy_age.get_or_create(&labels).set(age_seconds.unwrap_or(-1));
    }

    /// The desk's ticket webhook is on (again) or was found turned off.
    pub fn desk_webhook(&self, profile: &str, active: bool, turned_off_now: bool) {
        let labels = vec![("profile", profile.to_owned())];
        self.webhook_active.get_or_create(&labels).set(i64::from(active));
        if turned_off_now {
            self.webhook_deactivations.get_or_create(&labels).inc();
        }
    }

    /// The text a scrape gets, with the queue as the store holds it now.
    pub fn render(&self, queue: &QueueHealth, oldest_pending_seconds: i64) -> String {
        for (state, count) in [("pending", queue.pending), ("running", queue.running), ("failed", queue.failed)] {
            self.jobs.get_or_create(&vec![("state", state.to_owned())]).set(count as i64);
        }
        self.oldest_pending.set(oldest_pending_seconds);
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_call_counts_for_its_purpose() {
        use super::purpose;
        assert_eq!(purpose("TimeEntries", "create"), 0);
        assert_eq!(purpose("Tickets", "update"), 0);
        assert_eq!(purpose("Tickets", "query"), 1);
        assert_eq!(purpose("Companies", "query"), 2);
        assert_eq!(purpose("Tickets", "fieldinformation"), 3);
    }
}
