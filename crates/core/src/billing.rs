//! Billing rules for time entries: how a session's worked seconds become the hours Autotask
//! bills. The seed rounds up to the next hundredth of an hour; desks that bill in blocks
//! ("every started quarter hour, at least half an hour") set a block and a minimum per profile.
//!
//! Autotask measures time entries in UTC and, unless a desk allows it, refuses one that spans
//! UTC midnight — every afternoon in the Americas. Such a session becomes one entry per UTC day,
//! the rules applied to the session as a whole and its hours shared out by the time in each day.

use chrono::{DateTime, Duration, Utc};

/// A profile's rules; the default is the seed's rounding alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BillingRules {
    /// Round the worked time up to the next multiple of this many minutes (0: the seed's 0.01 h).
    pub rounding_minutes: u32,
    /// Bill at least this many minutes (0: no minimum).
    pub minimum_minutes: u32,
    /// Apply both rules to `hoursWorked` as well as to `hoursToBill`.
    pub round_hours_worked: bool,
    /// Keep a session across UTC midnight in one entry (the desk's Autotask allows spans).
    pub spans_midnight: bool,
}

/// One time entry of a session: its span and hours (`hours_to_bill` only under a desk's rules).
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub hours_worked: f64,
    pub hours_to_bill: Option<f64>,
}

/// Autotask takes at most a day in one time entry.
const MAX_HOURS: f64 = 24.0;

impl BillingRules {
    /// Whether any rule beyond the seed's rounding is set.
    pub fn is_set(&self) -> bool {
        self.rounding_minutes > 0 || self.minimum_minutes > 0
    }

    /// `hoursToBill`: the rules applied to the worked time.
    pub fn hours_to_bill(&self, seconds: u64) -> f64 {
        let mut minutes = seconds as f64 / 60.0;
        minutes = minutes.max(f64::from(self.minimum_minutes));
        if self.rounding_minutes > 0 {
            let block = f64::from(self.rounding_minutes);
            minutes = (minutes / block).ceil() * block;
        }
        hundredths_up(minutes / 60.0)
    }

    /// `hoursWorked`: the seed's rounding, or the billing rules when they apply to it too.
    pub fn hours_worked(&self, seconds: u64) -> f64 {
        if self.round_hours_worked { self.hours_to_bill(seconds) } else { hundredths_up(seconds as f64 / 3600.0) }
    }

    /// The entries a session from `start` to `end` is written as: one, or one per UTC day it
    /// touches, whose hours add up to what one entry would bill.
    pub fn parts(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<Part> {
        let seconds = (end - start).num_seconds().max(0) as u64;
        let worked = self.hours_worked(seconds);
        let to_bill = self.is_set().then(|| self.hours_to_bill(seconds));
        let whole = Part { start, end, hours_worked: worked, hours_to_bill: to_bill };
        if self.spans_midnight {
            return vec![whole];
        }
        let days = utc_days(start, end);
        if days.len() < 2 {
            return vec![within_its_date(whole)];
        }
        let weights: Vec<i64> = days.iter().map(|(s, e)| (*e - *s).num_milliseconds()).collect();
        let (Some(worked), Some(to_bill)) =
            (share(worked, &weights), to_bill.map_or(Some(None), |h| share(h, &weights).map(Some)))
        else {
            // A moment on one side of midnight would get no hundredth of an hour: the session
            // is written as one entry within the UTC day that holds most of it, billing the same.
            let (s, e) = days.iter().copied().max_by_key(|(s, e)| *e - *s).unwrap_or((start, end));
            return vec![within_its_date(Part { start: s, end: e, ..whole })];
        };
        days.iter()
            .enumerate()
            .map(|(i, (s, e))| {
                within_its_date(Part {
                    start: *s,
                    end: *e,
                    hours_worked: worked[i],
                    hours_to_bill: to_bill.as_ref().map(|b| b[i]),
                })
            })
            .collect()
    }

    /// The rules in a line, as `check` and Settings say them.
    pub fn describe(&self) -> String {
        let block = match self.rounding_minutes {
            0 => "rounded up to the next 0.01 h (the seed's rounding)".to_owned(),
            n => format!("rounded up to the next {n} minutes"),
        };
        let minimum = match self.minimum_minutes {
            0 => String::new(),
            n => format!(", at least {n} minutes"),
        };
        let worked = if self.round_hours_worked { "hours worked and to bill" } else { "hours to bill" };
        format!("{worked} {block}{minimum}")
    }
}

/// The pieces of `start..end` within each UTC day, in order.
fn utc_days(start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut days = Vec::new();
    let mut from = start;
    while from < end {
        let midnight = (from.date_naive() + Duration::days(1)).and_hms_opt(0, 0, 0).map(|m| m.and_utc());
        let to = midnight.map_or(end, |m| m.min(end));
        days.push((from, to));
        from = to;
    }
    days
}

/// A part that ends at the midnight after its start ends at 23:59:59 instead: an entry read by
/// its dates must not span midnight, and 00:00:00 is the next date. Its hours stay as shared
/// from the whole session; a part of a second or less keeps a second.
fn within_its_date(part: Part) -> Part {
    if part.end.date_naive() == part.start.date_naive() {
        return part;
    }
    let end = part.end - Duration::seconds(1);
    let start = if end > part.start { part.start } else { end - Duration::seconds(1) };
    Part { start, end, ..part }
}

/// `hours` shared out in whole hundredths by `weights`, each rounded, the last taking what is left;
/// `None` when a part would get none.
fn share(hours: f64, weights: &[i64]) -> Option<Vec<f64>> {
    let total = (hours * 100.0).round() as i64;
    let weight: i64 = weights.iter().sum();
    if weight <= 0 {
        return None;
    }
    let share_of = |w: i64| (total as f64 * w as f64 / weight as f64).round() as i64;
    let mut parts: Vec<i64> = weights.iter().map(|w| share_of(*w)).collect();
    let given: i64 = parts.iter().sum();
    if let Some(last) = parts.last_mut() {
        *last += total - given;
    }
    parts.iter().all(|p| *p > 0).then(|| parts.iter().map(|p| *p as f64 / 100.0).collect())
}

/// Up to the next hundredth of an hour, at least 0.01 h and at most a day.
fn hundredths_up(hours: f64) -> f64 {
    // Worked out in whole hundredths so 0.25 h stays 0.25 and does not become 0.26 by float noise.
    let hundredths = (hours * 100.0 - 1e-9).ceil();
    (hundredths / 100.0).clamp(0.01, MAX_HOURS)
}

#[cfg(test)]
mod tests {
    use super::{BillingRules, Part};
    use chrono::{DateTime, Duration, TimeZone, Utc};

    fn at(day: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, h, m, 0).single().unwrap_or_default()
    }

    fn total(parts: &[Part], f: impl Fn(&Part) -> f64) -> f64 {
        (parts.iter().map(f).sum::<f64>() * 100.0).round() / 100.0
    }

    #[test]
    fn a_session_across_utc_midnight_is_one_entry_per_day_billing_what_one_would() {
        let desk = BillingRules { rounding_minutes: 15, minimum_minutes: 30, ..Default::default() };
        let parts = desk.parts(at(1, 23, 50), at(2, 0, 20));
        assert_eq!(parts.len(), 2);
        let last_second = at(2, 0, 0) - Duration::seconds(1);
        assert_eq!((parts[0].start, parts[0].end), (at(1, 23, 50), last_second), "within its own date");
        assert_eq!((parts[1].start, parts[1].end), (at(2, 0, 0), at(2, 0, 20)));
        assert_eq!(total(&parts, |p| p.hours_worked), desk.hours_worked(30 * 60));
        assert_eq!(total(&parts, |p| p.hours_to_bill.unwrap_or(0.0)), 0.5, "the minimum on the whole session");
        assert_eq!(parts[0].hours_to_bill, Some(0.17), "a third of it before midnight");
        assert_eq!(parts[1].hours_to_bill, Some(0.33));
        let seed = BillingRules::default().parts(at(1, 23, 50), at(2, 0, 20));
        assert_eq!(total(&seed, |p| p.hours_worked), 0.5);
        assert!(seed.iter().all(|p| p.hours_to_bill.is_none()), "Autotask bills the hours worked");
    }

    #[test]
    fn one_entry_where_spans_are_allowed_or_nothing_crosses() {
        let spans = BillingRules { spans_midnight: true, ..Default::default() };
        assert_eq!(spans.parts(at(1, 23, 50), at(2, 0, 20)).len(), 1);
        let day = BillingRules::default().parts(at(1, 15, 0), at(1, 15, 30));
        assert_eq!(day, vec![Part { start: at(1, 15, 0), end: at(1, 15, 30), hours_worked: 0.5, hours_to_bill: None }]);
        let to_midnight = BillingRules::default().parts(at(1, 23, 30), at(2, 0, 0));
        assert_eq!(to_midnight.len(), 1, "ends at midnight");
        assert_eq!(to_midnight[0].end, at(2, 0, 0) - Duration::seconds(1), "at 23:59:59 of its date");
        assert_eq!(to_midnight[0].hours_worked, 0.5);
    }

    #[test]
    fn a_moment_past_midnight_stays_in_the_day_that_holds_the_session() {
        let parts = BillingRules::default().parts(at(1, 23, 40), at(2, 0, 0) + Duration::seconds(10));
        assert_eq!(parts.len(), 1);
        assert_eq!((parts[0].start, parts[0].end), (at(1, 23, 40), at(2, 0, 0) - Duration::seconds(1)));
        assert_eq!(parts[0].hours_worked, 0.34, "the whole session's hours");
        let long = BillingRules::default().parts(at(1, 20, 0), at(3, 2, 0));
        assert_eq!(long.len(), 3, "a session over two midnights");
        assert!(long.iter().all(|p| p.start.date_naive() == p.end.date_naive()), "each within its date");
        let second = BillingRules::default().parts(at(1, 23, 59) + Duration::seconds(59), at(2, 0, 0));
        assert!(second[0].start < second[0].end && second[0].end.date_naive() == at(1, 0, 0).date_naive());
        assert_eq!(total(&long, |p| p.hours_worked), 24.0, "at most a day, as one entry would be");
    }

    #[test]
    fn the_seed_rounds_up_to_the_hundredth() {
        let seed = BillingRules::default();
        assert_eq!(seed.hours_to_bill(902), 0.26);
        assert_eq!(seed.hours_worked(36), 0.01);
        assert_eq!(seed.hours_worked(37), 0.02);
        assert_eq!(seed.hours_worked(0), 0.01);
        assert_eq!(seed.hours_worked(200_000), 24.0);
        assert_eq!(seed.hours_worked(900), 0.25, "a quarter hour exactly");
    }

    #[test]
    fn quarter_hour_blocks_with_a_half_hour_minimum() {
        let desk = BillingRules { rounding_minutes: 15, minimum_minutes: 30, ..Default::default() };
        assert_eq!(desk.hours_to_bill(5 * 60), 0.5, "5 min bills the minimum");
        assert_eq!(desk.hours_to_bill(30 * 60), 0.5);
        assert_eq!(desk.hours_to_bill(31 * 60), 0.75, "a started block is billed");
        assert_eq!(desk.hours_to_bill(60 * 60), 1.0);
        assert_eq!(desk.hours_worked(31 * 60), 0.52, "hours worked keep the seed's rounding");
        let both = BillingRules { round_hours_worked: true, ..desk };
        assert_eq!(both.hours_worked(31 * 60), 0.75);
    }

    #[test]
    fn odd_blocks_round_up_to_the_hundredth_and_a_day_is_the_most() {
        let tenths = BillingRules { rounding_minutes: 10, ..Default::default() };
        assert_eq!(tenths.hours_to_bill(60), 0.17, "10 minutes is 0.1667 h, billed as 0.17");
        let six = BillingRules { rounding_minutes: 6, ..Default::default() };
        assert_eq!(six.hours_to_bill(7 * 60), 0.2);
        assert_eq!(BillingRules { minimum_minutes: 2000, ..Default::default() }.hours_to_bill(1), 24.0);
    }

    #[test]
    fn the_rules_read_as_a_sentence() {
        let desk = BillingRules { rounding_minutes: 15, minimum_minutes: 30, ..Default::default() };
        assert_eq!(desk.describe(), "hours to bill rounded up to the next 15 minutes, at least 30 minutes");
        assert!(!BillingRules::default().is_set());
    }
}
