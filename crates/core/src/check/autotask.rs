//! The Autotask half of a check: the connection, then the settings whose mistakes Autotask
//! would only refuse at write time (note type and publish values, the time entry role of every
//! rep, Ticket Default Data).

use std::collections::HashSet;

use super::{Report, ticket_defaults};
use crate::autotask::{
    AutotaskClient, BillingCode, Error, ErrorKind, Filter, Query, Resource, ResourceRole, ResourceServiceDeskRole,
    Role, Ticket, TicketNote, TimeEntry, WORK_TYPE,
};
use crate::config::{Profile, RoleSource};

/// At most this many reps are named in one line; the rest are counted.
const NAMED: usize = 8;

pub(super) async fn check(profile: &Profile, r: &mut Report<'_>) {
    let client = match AutotaskClient::new(profile.autotask.clone()) {
        Ok(c) => c,
        Err(e) => return r.fail(format!("Autotask: {e}")),
    };
    if let Err(e) = checks(&client, profile, r).await {
        // One cause (no network, a wrong secret) would fail every call after it: say it once.
        r.fail(e.to_string());
        r.say("the remaining Autotask checks need the above to work, so they were not tried");
    }
}

/// Whether an error ends the checks: only a refusal of one entity leaves the others worth trying.
fn stops_the_checks(e: &Error) -> bool {
    !matches!(e.kind, ErrorKind::Permission | ErrorKind::NotFound)
}

/// Turns an error that does not stop the checks into a failed line.
pub(super) fn settle<T>(r: &mut Report<'_>, result: Result<T, Error>) -> Result<Option<T>, Error> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if stops_the_checks(&e) => Err(e),
        Err(e) => {
            r.fail(e.to_string());
            Ok(None)
        }
    }
}

async fn checks(client: &AutotaskClient, profile: &Profile, r: &mut Report<'_>) -> Result<(), Error> {
    let zone = client.zone().await?;
    r.pass(format!("Autotask zone: {} (web {})", zone.api_root, zone.web_root));
    let usage = client.refresh_usage().await?;
    let share = usage.used as f64 * 100.0 / usage.limit.max(1) as f64;
    r.pass(format!(
        "Autotask: {} of {} requests used this hour ({share:.0} %), by every integration of this database; \
         past 50 % Autotask slows them all down (see docs/operating.md for what a desk uses)",
        usage.used, usage.limit
    ));
    notes(client, profile, r).await?;
    if profile.update_time_entry {
        time_entries(client, profile, r).await?;
    }
    if profile.update_time_entry || profile.enable_automatic_ticket_creation {
        work_type(client, profile, r).await?;
    }
    if profile.enable_automatic_ticket_creation {
        ticket_defaults::check(client, profile, r).await?;
    }
    if profile.status_on_session_end.is_some() {
        status(client, profile, r).await?;
    }
    Ok(())
}

/// The status a session's end sets, and those it moves from, are labels of Autotask's Status picklist.
async fn status(client: &AutotaskClient, profile: &Profile, r: &mut Report<'_>) -> Result<(), Error> {
    let Some(fields) = settle(r, client.fields::<Ticket>().await)? else { return Ok(()) };
    let Some(statuses) = fields.picklist("status") else {
        r.fail("Autotask's tickets show no status picklist: turn status_on_session_end off");
        return Ok(());
    };
    let target = profile.status_on_session_end.as_deref().unwrap_or_default();
    let unknown: Vec<&str> = std::iter::once(target)
        .chain(profile.status_on_session_end_from.iter().map(String::as_str))
        .filter(|label| statuses.value_of(label).is_none())
        .collect();
    if unknown.is_empty() {
        r.pass(format!(
            "a session's end sets its ticket's status to \"{target}\" from {}",
            profile.status_on_session_end_from.join(", ")
        ));
    } else {
        r.fail(format!(
            "Autotask has no active ticket status {}; use statuses it has: {}",
            unknown.iter().map(|l| format!("\"{l}\"")).collect::<Vec<_>>().join(", "),
            statuses.labels().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(())
}

/// The active work types (BillingCodes of useType 1), by name.
pub(super) async fn work_types(client: &AutotaskClient) -> Result<Vec<(i64, String)>, Error> {
    let query =
        Query::new(Filter::eq("useType", WORK_TYPE)).and(Filter::eq("isActive", true)).include_fields(["id", "name"]);
    let codes = client.query_all::<BillingCode>(query).await?;
    Ok(codes.into_iter().filter_map(|c| Some((c.id?, c.name?))).collect())
}

/// The profile's work type is one of Autotask's active work types; else which are.
async fn work_type(client: &AutotaskClient, profile: &Profile, r: &mut Report<'_>) -> Result<(), Error> {
    let Some(name) = &profile.work_type else {
        r.say("no work type is set: where Autotask requires one on tickets, set work_type to one of its work types");
        return Ok(());
    };
    let Some(types) = settle(r, work_types(client).await)? else { return Ok(()) };
    match types.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)) {
        Some((id, n)) => r.pass(format!("work type \"{n}\" ({id}) on time entries and created tickets")),
        None => r.fail(format!(
            "Autotask has no active work type named \"{name}\"; set work_type to one of: {}",
            types.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
    Ok(())
}

async fn notes(client: &AutotaskClient, profile: &Profile, r: &mut Report<'_>) -> Result<(), Error> {
    let Some(fields) = settle(r, client.fields::<TicketNote>().await)? else { return Ok(()) };
    match fields.picklist("noteType").and_then(|p| p.label_of(profile.note_type).map(str::to_owned)) {
        Some(label) => r.pass(format!("Autotask note type {} is \"{label}\"", profile.note_type)),
        None => {
            r.fail(format!("Autotask has no note type {}; set note_type to one of its note types", profile.note_type))
        }
    }
    let publish = if profile.publish_notes_as_public { 1 } else { 2 };
    match fields.picklist("publish").and_then(|p| p.label_of(publish).map(str::to_owned)) {
        Some(label) => r.pass(format!("notes are published as \"{label}\" ({publish})")),
        None => r.fail(format!(
            "Autotask's notes have no publish value {publish}; tell us which values your Autotask lists, and switch publish_notes_as_public meanwhile"
        )),
    }
    Ok(())
}

/// The role by name, and every active rep at the default domain who lacks it: Autotask refuses a
/// time entry whose resource and role are not a pair, so each of them would lose their time.
async fn time_entries(client: &AutotaskClient, profile: &Profile, r: &mut Report<'_>) -> Result<(), Error> {
    let defaults = &profile.time_entry_default_data;
    let role_name = defaults.role_name().unwrap_or_default();
    let roles = settle(r, client.query_all::<Role>(Query::new(Filter::eq("name", role_name))).await)?;
    let Some(role) = roles.and_then(|roles| roles.into_iter().find_map(|role| role.id)) else {
        r.fail(format!("Autotask has no role \"{role_name}\"; correct roleName in Time Entry Default Data"));
        return Ok(());
    };
    r.pass(format!("Autotask role \"{role_name}\" found"));
    r.pass(format!("time entries: {}", profile.billing.describe()));
    r.say(if profile.billing.spans_midnight {
        "a session across UTC midnight is written as one entry: Autotask refuses it unless its \"Allow time entries to span over midnight\" system setting is on"
    } else {
        "a session across UTC midnight is written as one entry per UTC day, as Autotask takes them by default"
    });
    let domain = defaults.default_domain().unwrap_or_default();
    let reps = Query::new(Filter::ends_with("email", format!("@{domain}")))
        .and(Filter::eq("isActive", true))
        .include_fields(["id", "email"]);
    let Some(mut reps) = settle(r, client.query_all::<Resource>(reps).await)? else { return Ok(()) };
    // The integration's own API user is a resource too, but never records time.
    let api_user = &profile.autotask.username;
    reps.retain(|rep| rep.email.as_deref().is_none_or(|e| !e.eq_ignore_ascii_case(api_user)));
    if reps.is_empty() {
        r.fail(format!("no active Autotask resource has an e-mail @{domain}; correct defaultDomain"));
        return Ok(());
    }
    let mut covered = HashSet::new();
    if profile.time_entry_roles.contains(&RoleSource::RoleName) {
        let holders =
            Query::new(Filter::eq("roleID", role)).and(Filter::eq("isActive", true)).include_fields(["resourceID"]);
        let Some(holders) = settle(r, client.query_all::<ResourceRole>(holders).await)? else { return Ok(()) };
        covered.extend(holders.into_iter().filter_map(|h| h.resource_id));
    }
    if profile.time_entry_roles.contains(&RoleSource::Default) {
        let defaults =
            Query::new(Filter::eq("isDefault", true)).and(Filter::eq("isActive", true)).include_fields(["resourceID"]);
        let Some(found) = settle(r, client.query_all::<ResourceServiceDeskRole>(defaults).await)? else {
            return Ok(());
        };
        covered.extend(found.into_iter().filter_map(|d| d.resource_id));
    }
    let lacking: Vec<&str> = reps
        .iter()
        .filter(|rep| rep.id.is_none_or(|id| !covered.contains(&id)))
        .filter_map(|rep| rep.email.as_deref())
        .collect();
    proxy(client, api_user, profile.write_as_rep, r).await?;
    let neither = match profile.time_entry_roles.contains(&RoleSource::Default) {
        true => format!("neither \"{role_name}\" nor a default service desk role"),
        false => format!("not \"{role_name}\""),
    };
    if lacking.is_empty() {
        r.pass(format!("all {} active Autotask resources @{domain} have a role for their time", reps.len()));
    } else {
        r.fail(format!(
            "{} of {} active Autotask resources @{domain} have no role for their time ({neither}), so Autotask would refuse their time entries except on tickets assigned to them: {} — give them the role in Autotask (Admin › Resources › the resource › Roles) or a default service desk role",
            lacking.len(),
            reps.len(),
            named(&lacking)
        ));
    }
    Ok(())
}

/// The API user enters each rep's time for them (proxy time entry). The REST API shows the API
/// user's own resource and what its security level lets it do with time entries
/// (`entityInformation`), but not the Proxy Time Entry system setting: that much is said.
async fn proxy(client: &AutotaskClient, api_user: &str, as_rep: bool, r: &mut Report<'_>) -> Result<(), Error> {
    if as_rep {
        r.say(
            "each rep's time is entered as the rep (write_as_rep); the API user enters it for them only where Autotask \
             does not allow writing as them, which needs what follows",
        );
    }
    let own = Query::new(Filter::eq("email", api_user)).include_fields(["id", "isActive"]);
    let Some(found) = settle(r, client.query_all::<Resource>(own).await)? else { return Ok(()) };
    if found.first().is_none_or(|resource| resource.is_active == Some(false)) {
        r.fail(format!(
            "no active Autotask resource has the API user's e-mail {api_user}: Autotask lets only a resource enter time, for itself or (as an administrator) for others"
        ));
    }
    let Some(access) = settle(r, client.access::<TimeEntry>().await)? else { return Ok(()) };
    match access.user_access_for_create {
        Some(1) => r.pass(
            "the API user's security level may create time entries for every resource; Autotask also needs its Proxy Time Entry system setting \"Enabled for timesheet approvers and Administrators\" — the API does not show it, so that could not be checked",
        ),
        Some(0) => r.fail(
            "the API user's security level may not create time entries: give it an administrator's security level, or turn update_time_entry off",
        ),
        Some(_) => r.fail(
            "the API user's security level may create time entries only under conditions (its own time, or as a timesheet approver), so each rep's time would be refused: give the API user an administrator's security level, and set Proxy Time Entry to \"Enabled for timesheet approvers and Administrators\"",
        ),
        None => r.say(
            "Autotask did not say what the API user's security level allows with time entries, nor does it show the Proxy Time Entry system setting: neither could be checked",
        ),
    }
    Ok(())
}

/// The first few names, and how many more.
fn named(names: &[&str]) -> String {
    let shown = names.iter().take(NAMED).copied().collect::<Vec<_>>().join(", ");
    match names.len().saturating_sub(NAMED) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}
