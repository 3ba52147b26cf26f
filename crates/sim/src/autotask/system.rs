//! The desk's Autotask system settings that decide which time entries and tickets it accepts,
//! and the reps' timesheets — as Autotask's REST developer help describes them (TimeEntries and
//! BillingCodes, "Conditions and requirements"). `/_sim/settings`, `/_sim/timesheets` and the
//! stand-in's flags steer them; `/_sim/reset` returns to the flags'.
//!
//! The help gives the conditions but not the words of a refusal: every message here is ours,
//! worded after the help, and marked unconfirmed in the README's table.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

/// The system settings a time entry meets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SystemSettings {
    /// "Allow time entries to span over midnight": off unless a desk turns it on (the help: "You
    /// may need to enable [it] to prevent errors"), so an entry across UTC midnight is refused.
    pub allow_time_entries_to_span_midnight: bool,
    /// Proxy Time Entry: who may create a time entry for another resource.
    pub proxy_time_entry: ProxyTimeEntry,
    /// Whether the API user's security level is an administrator's.
    pub api_user_is_administrator: bool,
    /// "Require Work Type on tickets": a ticket needs a work type (BillingCodes useType 1).
    pub require_work_type: bool,
    /// The internal location's business hours in UTC ("08:00-18:00"); a work type with an
    /// after-hours work type is then refused on an entry that crosses their end or start.
    pub business_hours: Option<String>,
    /// Resources whose security level does not "Allow impersonation of resources with this
    /// security level": a write impersonating one is refused.
    pub impersonation_refused_for: Vec<i64>,
    /// Milliseconds between a callout's attempts (Autotask: 30 s, five attempts within 2 minutes).
    pub webhook_retry_ms: u64,
    /// Failed attempts in a row after which Autotask turns a webhook off and calls its
    /// `deactivationUrl` (Autotask: 25).
    pub webhook_failures_to_deactivate: u32,
    /// Callouts cannot reach the desk (a firewall between Autotask and it): each attempt fails
    /// without being sent. The deactivation call is still sent.
    pub webhook_callouts_blocked: bool,
    /// Tickets whose status a workflow rule keeps: an update of it answers 200 and changes
    /// everything but the status (Autotask's help: read a status back).
    pub workflow_keeps_status_of: Vec<i64>,
}

impl Default for SystemSettings {
    fn default() -> Self {
        SystemSettings {
            allow_time_entries_to_span_midnight: false,
            proxy_time_entry: ProxyTimeEntry::EnabledForApproversAndAdministrators,
            api_user_is_administrator: true,
            require_work_type: false,
            business_hours: None,
            impersonation_refused_for: Vec::new(),
            webhook_retry_ms: 30_000,
            webhook_failures_to_deactivate: 25,
            webhook_callouts_blocked: false,
            workflow_keeps_status_of: Vec::new(),
        }
    }
}

/// The Proxy Time Entry system setting's three values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "camelCase")]
pub enum ProxyTimeEntry {
    /// Only the resource itself may create its time entries.
    Disabled,
    /// A timesheet approver of the resource may too (the stand-in's API user approves none).
    EnabledForApprovers,
    /// Administrators may for any active resource.
    EnabledForApproversAndAdministrators,
}

/// A timesheet's status; time may only be added to a New or Rejected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimesheetStatus {
    New,
    Submitted,
    Approved,
    Rejected,
}

/// One resource's timesheet for the week (Monday to Sunday) holding `date`, as `/_sim/timesheets` takes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timesheet {
    #[serde(rename = "resourceID")]
    pub resource_id: i64,
    pub date: NaiveDate,
    pub status: TimesheetStatus,
}

/// Timesheets by resource and the Monday of their week; a week not listed is New.
#[derive(Debug, Default)]
pub struct Timesheets(BTreeMap<(i64, NaiveDate), TimesheetStatus>);

impl Timesheets {
    pub fn set(&mut self, sheet: &Timesheet) {
        self.0.insert((sheet.resource_id, monday_of(sheet.date)), sheet.status);
    }

    pub fn list(&self) -> Vec<Timesheet> {
        self.0.iter().map(|(&(resource_id, date), &status)| Timesheet { resource_id, date, status }).collect()
    }

    /// The status of the resource's timesheet for the week holding `day`.
    pub fn status(&self, resource_id: i64, day: NaiveDate) -> TimesheetStatus {
        self.0.get(&(resource_id, monday_of(day))).copied().unwrap_or(TimesheetStatus::New)
    }
}

fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// What a time entry to be created says about itself, for the rules below.
#[derive(Debug)]
pub struct Entry {
    pub resource_id: i64,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub date_worked: Option<DateTime<Utc>>,
    /// The work type it names, and whether that one has an after-hours work type.
    pub work_type: Option<WorkType>,
}

#[derive(Debug, Clone, Copy)]
pub struct WorkType {
    pub after_hours: bool,
}

impl SystemSettings {
    /// Every refusal the settings and timesheets give this entry, written by `api_resource`.
    pub fn refusals(&self, entry: &Entry, api_resource: i64, sheets: &Timesheets) -> Vec<String> {
        let mut refusals = Vec::new();
        if let (Some(start), Some(end)) = (entry.start, entry.end)
            && !self.allow_time_entries_to_span_midnight
            && crosses_midnight(start, end)
        {
            refusals.push(SPANS_MIDNIGHT.to_owned());
        }
        if entry.resource_id != api_resource && !self.proxy_allows() {
            refusals.push(PROXY_REFUSED.to_owned());
        }
        let day = entry.date_worked.or(entry.start).map(|d| d.date_naive());
        if let Some(day) = day
            && matches!(sheets.status(entry.resource_id, day), TimesheetStatus::Submitted | TimesheetStatus::Approved)
        {
            refusals.push(TIMESHEET_CLOSED.to_owned());
        }
        match entry.work_type {
            None if self.require_work_type => refusals.push(WORK_TYPE_REQUIRED.to_owned()),
            Some(WorkType { after_hours: true }) if self.crosses_business_hours(entry) => {
                refusals.push(AFTER_HOURS.to_owned())
            }
            _ => {}
        }
        refusals
    }

    fn proxy_allows(&self) -> bool {
        self.proxy_time_entry == ProxyTimeEntry::EnabledForApproversAndAdministrators && self.api_user_is_administrator
    }

    /// Whether the entry is partly inside and partly outside the day's business hours.
    fn crosses_business_hours(&self, entry: &Entry) -> bool {
        let (Some((open, close)), Some(start), Some(end)) =
            (self.business_hours.as_deref().and_then(parse_hours), entry.start, entry.end)
        else {
            return false;
        };
        let day = start.date_naive();
        [open, close].into_iter().any(|t| {
            let at = day.and_time(t).and_utc();
            start < at && at < end
        })
    }
}

/// "08:00-18:00" as two times of day.
pub fn parse_hours(text: &str) -> Option<(NaiveTime, NaiveTime)> {
    let (open, close) = text.split_once('-')?;
    let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").ok();
    let (open, close) = (time(open)?, time(close)?);
    (open < close).then_some((open, close))
}

/// Whether an entry's start and end fall on different UTC dates — the strictest reading of the
/// rule, by the entry's dates: one ending at 00:00:00 of the next day spans midnight too.
pub fn crosses_midnight(start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    end > start && end.date_naive() != start.date_naive()
}

/// A ticket without a work type where the desk requires one (the BillingCodes help: "the Type 1
/// BillingCode is required to create or update a ticket").
pub const TICKET_WORK_TYPE_REQUIRED: &str =
    "A Work Type (billingCodeID of a BillingCode with useType 1) is required to create or update a ticket.";
const WORK_TYPE_REQUIRED: &str = "A Work Type (billingCodeID of a BillingCode with useType 1) is required for ticket \
                                  time entries by your company's system settings.";
const SPANS_MIDNIGHT: &str = "The time entry spans midnight (UTC). Time entries may not span over midnight unless the \
                              'Allow time entries to span over midnight' system setting is enabled.";
const PROXY_REFUSED: &str = "Only the resource may create this time entry: Proxy Time Entry does not allow the API \
                             user to enter time for other resources.";
const TIMESHEET_CLOSED: &str = "A TimeEntry may only be added to a timesheet with the status of New or Rejected; this resource's timesheet for \
     the week has been submitted or approved.";
const AFTER_HOURS: &str = "The time entry crosses the end of business hours and its Work Type has an After-Hours \
                           Work Type: enter the after-hours time separately with that work type.";

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).single().unwrap_or_default()
    }

    fn entry(start: DateTime<Utc>, end: DateTime<Utc>) -> Entry {
        Entry { resource_id: 7, start: Some(start), end: Some(end), date_worked: Some(start), work_type: None }
    }

    #[test]
    fn an_entry_across_utc_midnight_is_refused_until_the_setting_allows_it() {
        let settings = SystemSettings::default();
        let across = entry(at(23, 50), at(23, 50) + Duration::minutes(30));
        assert_eq!(settings.refusals(&across, 7, &Timesheets::default()), vec![SPANS_MIDNIGHT.to_owned()]);
        let to_midnight = entry(at(23, 30), at(23, 30) + Duration::minutes(30));
        assert_eq!(settings.refusals(&to_midnight, 7, &Timesheets::default()).len(), 1, "ends on the next date");
        let to_last_second = entry(at(23, 30), at(23, 30) + Duration::seconds(29 * 60 + 59));
        assert!(settings.refusals(&to_last_second, 7, &Timesheets::default()).is_empty(), "within its date");
        let allowed = SystemSettings { allow_time_entries_to_span_midnight: true, ..settings };
        assert!(allowed.refusals(&across, 7, &Timesheets::default()).is_empty());
    }

    #[test]
    fn proxy_time_entry_lets_only_an_administrator_enter_time_for_others() {
        let others = entry(at(9, 0), at(9, 30));
        let sheets = Timesheets::default();
        assert!(SystemSettings::default().refusals(&others, 1, &sheets).is_empty());
        let not_admin = SystemSettings { api_user_is_administrator: false, ..Default::default() };
        assert_eq!(not_admin.refusals(&others, 1, &sheets), vec![PROXY_REFUSED.to_owned()]);
        assert!(not_admin.refusals(&others, 7, &sheets).is_empty(), "its own time");
        for proxy in [ProxyTimeEntry::Disabled, ProxyTimeEntry::EnabledForApprovers] {
            let s = SystemSettings { proxy_time_entry: proxy, ..Default::default() };
            assert_eq!(s.refusals(&others, 1, &sheets).len(), 1, "{proxy:?}");
        }
    }

    #[test]
    fn a_submitted_or_approved_week_takes_no_more_time() {
        let mut sheets = Timesheets::default();
        let tuesday = entry(at(9, 0), at(9, 30));
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
        for (status, refused) in [
            (TimesheetStatus::Submitted, true),
            (TimesheetStatus::Approved, true),
            (TimesheetStatus::Rejected, false),
            (TimesheetStatus::New, false),
        ] {
            sheets.set(&Timesheet { resource_id: 7, date: monday + Duration::days(6), status });
            assert_eq!(!SystemSettings::default().refusals(&tuesday, 7, &sheets).is_empty(), refused, "{status:?}");
        }
        sheets.set(&Timesheet { resource_id: 8, date: monday, status: TimesheetStatus::Approved });
        assert!(SystemSettings::default().refusals(&tuesday, 7, &sheets).is_empty(), "another rep's week");
    }

    #[test]
    fn after_hours_work_types_refuse_an_entry_across_the_end_of_business_hours() {
        let s = SystemSettings { business_hours: Some("08:00-18:00".into()), ..Default::default() };
        let sheets = Timesheets::default();
        let late = Entry { work_type: Some(WorkType { after_hours: true }), ..entry(at(17, 45), at(18, 15)) };
        assert_eq!(s.refusals(&late, 7, &sheets), vec![AFTER_HOURS.to_owned()]);
        let inside = Entry { work_type: Some(WorkType { after_hours: true }), ..entry(at(17, 0), at(17, 45)) };
        assert!(s.refusals(&inside, 7, &sheets).is_empty());
        let plain = Entry { work_type: Some(WorkType { after_hours: false }), ..entry(at(17, 45), at(18, 15)) };
        assert!(s.refusals(&plain, 7, &sheets).is_empty());
        assert_eq!(parse_hours("18:00-08:00"), None);
    }
}
