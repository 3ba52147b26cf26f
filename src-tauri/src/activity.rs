//! Activity as the rep reads it: the worker's lines with each ticket named by number and title.
//! A line written before its ticket's name was known ("ticket 7201") is named here — from the
//! store, else by one Autotask request per profile for all such lines shown at once.

use std::collections::{BTreeSet, HashMap};

use bta_core::store::Activity;

use crate::state::AppState;

/// Names the tickets of `lines` that still say "ticket 7201", where the name can be found.
pub async fn named(state: &AppState, mut lines: Vec<Activity>) -> Vec<Activity> {
    let wanted: BTreeSet<(String, i64)> = lines
        .iter()
        .filter(|a| a.names_ticket_by_id())
        .filter_map(|a| Some((a.profile.clone(), a.ticket_id?)))
        .collect();
    if wanted.is_empty() {
        return lines;
    }
    let names = names(state, wanted).await;
    for line in &mut lines {
        if let Some(name) = line.ticket_id.and_then(|id| names.get(&(line.profile.clone(), id))) {
            line.name_ticket(name);
        }
    }
    lines
}

/// The lines of each enrolled profile's rep at their desk's worker (a failed job's newest line
/// offers Retry there); a worker that cannot be reached adds none (Settings says why).
pub async fn at_desk_workers(state: &AppState) -> Vec<crate::commands::ActivityView> {
    let desks: Vec<_> = state.loaded().desks.values().filter(|d| d.enrolled()).cloned().collect();
    let mut views = Vec::new();
    for desk in desks {
        let Some(link) = desk.link() else { continue };
        match link.activity().await {
            Ok(lines) => {
                let mut offered = std::collections::HashSet::new();
                for line in lines {
                    let retryable = line.level == "error" && line.job_id.is_some_and(|j| offered.insert(j));
                    views.push(crate::commands::ActivityView { line, retryable });
                }
            }
            Err(e) => tracing::warn!(profile = desk.profile().name, "the desk's activity could not be read: {e}"),
        }
    }
    views
}

/// The names of `wanted` tickets: kept ones from the store, the others asked of Autotask (and kept).
async fn names(state: &AppState, wanted: BTreeSet<(String, i64)>) -> HashMap<(String, i64), String> {
    let now = chrono::Utc::now();
    let kept = state
        .store
        .run(move |s| {
            let mut found = HashMap::new();
            for (profile, id) in wanted {
                let name = s.ticket_name(&profile, id, now)?;
                found.insert((profile, id), name);
            }
            Ok(found)
        })
        .await
        .unwrap_or_default();
    let mut missing: HashMap<String, Vec<i64>> = HashMap::new();
    for ((profile, id), name) in &kept {
        if name.is_none() {
            missing.entry(profile.clone()).or_default().push(*id);
        }
    }
    let mut names: HashMap<(String, i64), String> =
        kept.into_iter().filter_map(|(key, name)| Some((key, name?))).collect();
    for (profile, ids) in missing {
        let Ok(desk) = state.desk(&profile) else { continue };
        match desk.ticket_names(&ids).await {
            Ok(found) => {
                remember(state, &profile, &found).await;
                names.extend(found.into_iter().map(|(id, name)| ((profile.clone(), id), name)));
            }
            Err(e) => tracing::warn!(profile, "the tickets' numbers and titles could not be read: {e}"),
        }
    }
    names
}

async fn remember(state: &AppState, profile: &str, names: &HashMap<i64, String>) {
    let (profile, names) = (profile.to_owned(), names.clone());
    let kept = state
        .store
        .run(move |s| {
            names.iter().try_for_each(|(id, name)| s.remember_ticket(&profile, *id, name, chrono::Utc::now()))
        })
        .await;
    if let Err(e) = kept {
        tracing::warn!("the tickets' names could not be kept: {e}");
    }
}

/// Keeps the name of a ticket the rep acted on (made a key, Jumped, attached a session), so the
/// lines the worker writes about it name it without asking Autotask; its name.
pub async fn remember_shown(state: &AppState, profile: &str, ticket_id: i64) -> Option<String> {
    let row = state.desk(profile).ok()?.shown(ticket_id).ok()?;
    let name = bta_core::store::ticket_label(&row.number, &row.title);
    remember(state, profile, &HashMap::from([(ticket_id, name.clone())])).await;
    Some(name)
}
