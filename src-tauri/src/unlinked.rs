//! "Not in a ticket": the rep's own sessions of the last 14 days that ended without a ticket —
//! billable time not in Autotask yet — as the embedded worker kept them. Attaching one queues its
//! job to write there (the same markers and ledger as every write); dismissing one takes it off.

use std::collections::HashMap;

use bta_core::store::UnlinkedSession;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::state::AppState;

/// How far back the list looks.
const DAYS: i64 = 14;

/// A session of the list as the window shows it.
#[derive(Debug, Serialize)]
pub struct UnlinkedView {
    profile: String,
    lsid: String,
    /// "Pat Lee (Dynamo Corporation, 25 min)".
    described: String,
    company: Option<String>,
    issue: Option<String>,
    ended_at: Option<DateTime<Utc>>,
    reason: String,
    /// The ticket its notes are in when only its time is not in Autotask (a closed timesheet).
    ticket_id: Option<i64>,
    /// Whether its profile has Ticket Default Data to make a new ticket from.
    can_create: bool,
}

impl UnlinkedView {
    fn new(s: UnlinkedSession, can_create: bool) -> UnlinkedView {
        UnlinkedView {
            can_create,
            described: s.described(),
            profile: s.profile,
            lsid: s.lsid,
            company: s.company,
            issue: s.issue,
            ended_at: s.ended_at,
            reason: s.reason,
            ticket_id: s.ticket_id,
        }
    }
}

/// My sessions without a ticket as the window shows them.
pub async fn views(state: &AppState) -> Result<Vec<UnlinkedView>, String> {
    let creates: HashMap<String, bool> = {
        let loaded = state.loaded();
        let profiles = loaded.config.iter().flat_map(|c| &c.profiles);
        profiles.map(|p| (p.name.clone(), !p.ticket_default_data.is_empty())).collect()
    };
    let sessions = mine(state).await?;
    let mut views: Vec<UnlinkedView> =
        sessions.into_iter().map(|s| UnlinkedView::new(s.clone(), creates.get(&s.profile) == Some(&true))).collect();
    // An enrolled profile's sessions are kept by the desk's worker, which says whether it can
    // make a ticket when asked.
    views.extend(at_desk_workers(state).await.into_iter().map(|s| UnlinkedView::new(s, true)));
    Ok(views)
}

/// The rep's sessions without a ticket at each enrolled profile's desk's worker.
async fn at_desk_workers(state: &AppState) -> Vec<UnlinkedSession> {
    let desks: Vec<_> = state.loaded().desks.values().filter(|d| d.enrolled()).cloned().collect();
    let mut sessions = Vec::new();
    for desk in desks {
        let Some(link) = desk.link() else { continue };
        match link.unlinked().await {
            Ok(found) => sessions.extend(found),
            Err(e) => tracing::warn!(profile = desk.profile().name, "the desk's sessions could not be read: {e}"),
        }
    }
    sessions
}

/// Each profile's rep on this desktop (`rep_username`); a profile without one shows all.
fn reps(state: &AppState) -> HashMap<String, Option<String>> {
    let loaded = state.loaded();
    let profiles = loaded.config.iter().flat_map(|c| &c.profiles);
    profiles.map(|p| (p.name.clone(), p.rep_username.clone())).collect()
}

fn is_mine(reps: &HashMap<String, Option<String>>, s: &UnlinkedSession) -> bool {
    match reps.get(&s.profile) {
        Some(Some(me)) => s.rep.as_deref().is_some_and(|rep| rep.eq_ignore_ascii_case(me)),
        Some(None) => true,
        None => false,
    }
}

/// My open sessions without a ticket, newest first.
pub async fn mine(state: &AppState) -> Result<Vec<UnlinkedSession>, String> {
    let since = Utc::now() - chrono::Duration::days(DAYS);
    let all = state.store.run(move |s| s.unlinked_since(since)).await.map_err(|e| e.to_string())?;
    let reps = reps(state);
    Ok(all.into_iter().filter(|s| is_mine(&reps, s)).collect())
}

/// One of my open sessions without a ticket.
pub async fn find(state: &AppState, profile: &str, lsid: &str) -> Result<UnlinkedSession, String> {
    mine(state)
        .await?
        .into_iter()
        .find(|s| s.profile == profile && s.lsid == lsid)
        .ok_or_else(|| format!("session {lsid} is no longer waiting for a ticket"))
}

/// Who acts, for the activity log: the profile's rep, else the logged-in user.
pub fn who(state: &AppState, profile: &str) -> String {
    let rep = reps(state).remove(profile).flatten();
    rep.or_else(|| std::env::var("USER").or_else(|_| std::env::var("USERNAME")).ok())
        .unwrap_or_else(|| "this desktop".to_owned())
}

/// The notification for a session of mine that just ended without a ticket, or whose time
/// Autotask did not take.
pub fn headline(s: &UnlinkedSession) -> String {
    let who = s.customer.clone().unwrap_or_else(|| "a customer".to_owned());
    let company = s.company.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
    let minutes = s.duration_seconds.map(|d| format!(", {} min,", (d + 30) / 60)).unwrap_or_default();
    if s.ticket_id.is_some() {
        return format!(
            "Time of the session with {who}{company}{minutes} is not in Autotask — its timesheet is closed"
        );
    }
    format!("Session with {who}{company}{minutes} is not in a ticket — attach it")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headline_names_customer_company_and_length() {
        let s = UnlinkedSession {
            customer: Some("Pat Lee".into()),
            company: Some("Dynamo Corporation".into()),
            duration_seconds: Some(1500),
            ..UnlinkedSession::default()
        };
        assert_eq!(headline(&s), "Session with Pat Lee (Dynamo Corporation), 25 min, is not in a ticket — attach it");
        assert_eq!(headline(&UnlinkedSession::default()), "Session with a customer is not in a ticket — attach it");
        let held = UnlinkedSession { ticket_id: Some(7201), ..s };
        assert_eq!(
            headline(&held),
            "Time of the session with Pat Lee (Dynamo Corporation), 25 min, is not in Autotask — its timesheet is closed"
        );
    }

    #[test]
    fn only_my_sessions_are_mine_where_the_profile_names_me() {
        let reps = HashMap::from([("Desk".to_owned(), Some("alex.morgan".to_owned())), ("Lab".to_owned(), None)]);
        let session = |profile: &str, rep: &str| UnlinkedSession {
            profile: profile.into(),
            rep: Some(rep.into()),
            ..UnlinkedSession::default()
        };
        assert!(is_mine(&reps, &session("Desk", "Alex.Morgan")));
        assert!(!is_mine(&reps, &session("Desk", "sam.lee")));
        assert!(is_mine(&reps, &session("Lab", "sam.lee")), "no rep set: the profile's all");
        assert!(!is_mine(&reps, &session("Gone", "alex.morgan")), "a profile no longer configured");
    }
}
