//! The rep's open tickets watched for changes made in Autotask, a notification for each: from the
//! desk's worker where a profile follows one (a long request there, no Autotask request), else by
//! the app's own threshold-aware look every `ticket_watch_seconds`. The same link decides who
//! writes the rep's sessions: while the desk's worker does, the embedded worker stands down for
//! that profile.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bta_core::desk::Desk;
use bta_core::desk_api::LONGEST_WAIT;
use tauri::{AppHandle, Manager};

use crate::notices::{RecentWrites, Target};
use crate::state::AppState;

/// How often the loaded profiles and who writes their sessions are looked at.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);
/// Least time between two requests to the desk's worker, should it answer at once each time.
const LEAST_GAP: Duration = Duration::from_secs(1);

pub fn start(app: &AppHandle) {
    tauri::async_runtime::spawn(follow(app.clone()));
}

/// Keeps one watch running per loaded profile (a reloaded profile gets a new one), and the
/// embedded worker on the profiles whose sessions the app writes.
async fn follow(app: AppHandle) {
    let state = app.state::<AppState>();
    let mut running: HashMap<String, (Arc<Desk>, tauri::async_runtime::JoinHandle<()>)> = HashMap::new();
    loop {
        let desks = state.loaded().desks.clone();
        running.retain(|name, (desk, task)| {
            let current = desks.get(name).is_some_and(|d| Arc::ptr_eq(d, desk));
            if !current {
                task.abort();
            }
            current
        });
        for (name, desk) in desks {
            if desk.profile().rep_email.is_some() && !running.contains_key(&name) {
                let task = tauri::async_runtime::spawn(watch(app.clone(), desk.clone()));
                running.insert(name, (desk, task));
            }
        }
        if state.desk_writes() != *state.stood_down() {
            tracing::info!("who writes the sessions changed; restarting the embedded worker");
            state.restart_worker().await;
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// One profile's watch, until its task is aborted.
async fn watch(app: AppHandle, desk: Arc<Desk>) {
    let state = app.state::<AppState>();
    loop {
        let every = state.loaded().config.as_ref().map_or(Duration::from_secs(180), |c| c.ticket_watch);
        let started = Instant::now();
        let from_desk_worker = match desk.watch(every.min(LONGEST_WAIT)).await {
            Ok(watched) => {
                for change in watched.changes {
                    if app.state::<RecentWrites>().contains(change.id, every * 2) {
                        continue;
                    }
                    let target = Target::Ticket { profile: desk.profile().name.clone(), ticket_id: change.id };
                    crate::notices::show(
                        &app,
                        &format!("{} changed in Autotask", change.number),
                        &change.title,
                        target,
                    );
                }
                watched.from_desk_worker
            }
            Err(e) => {
                tracing::warn!(profile = desk.profile().name, "could not look at my tickets: {e}");
                false
            }
        };
        let gap = if from_desk_worker { LEAST_GAP } else { every };
        tokio::time::sleep(gap.saturating_sub(started.elapsed())).await;
    }
}

impl AppState {
    /// The profiles whose sessions the desk's worker writes now (the embedded worker stands
    /// down for them).
    pub fn desk_writes(&self) -> BTreeSet<String> {
        let loaded = self.loaded();
        loaded.desks.values().filter(|d| d.desk_worker_writes()).map(|d| d.profile().name.clone()).collect()
    }
}
