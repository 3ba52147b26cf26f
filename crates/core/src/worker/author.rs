//! Who a session's notes and time entry are written as in Autotask: its primary rep's resource,
//! impersonated (`ImpersonationResourceId`), so the ticket's history names the rep who did the
//! work — or, where Autotask's security settings refuse that, the API user on the rep's behalf,
//! said in the note itself and in the Activity.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;

use super::{Failure, ProfileClients, Worker};
use crate::autotask;
use crate::beyondtrust::SupportSession;
use crate::render::{NoteText, written_for};
use crate::store::{REFUSED_REPS, refused_rep_key};

/// How long a refusal is acted on: within it, the rep's writes go straight to the API user (no
/// refused request per write); after it, writing as the rep is tried again, so a security level
/// fixed in Autotask takes effect within the hour.
fn acted_on() -> chrono::Duration {
    chrono::Duration::hours(1)
}

/// How long a refusal is listed (`check`) unless a write as the rep succeeds first.
pub const LISTED_DAYS: i64 = 7;

/// A session's author in Autotask.
#[derive(Debug)]
pub(super) struct Author {
    /// The rep as Autotask knows them: `<username>@<defaultDomain>`, or the username alone.
    pub name: String,
    /// Their active resource, where one has that e-mail.
    pub resource_id: Option<i64>,
    /// Write as the rep at all (the profile's `write_as_rep`).
    impersonate: bool,
    /// Autotask refused to let the API user write as this rep (now, or within the hour).
    refused: AtomicBool,
    /// A refusal is listed for `check` (within the week).
    listed: AtomicBool,
}

impl Author {
    /// The session's primary rep and their resource; the API user alone when the report names
    /// no rep or no resource has their e-mail (the notes are written all the same).
    pub async fn of(worker: &Worker, clients: &ProfileClients, session: &SupportSession) -> Result<Author, Failure> {
        let profile = &clients.profile;
        let username = session.primary_representative().and_then(|r| r.username.as_deref()).unwrap_or_default();
        let domain = profile.time_entry_default_data.default_domain().unwrap_or_default();
        let name = match (username.is_empty(), domain.is_empty()) {
            (true, _) => String::new(),
            (false, true) => username.to_owned(),
            (false, false) => format!("{username}@{domain}"),
        };
        let wanted = profile.write_as_rep || profile.update_time_entry;
        let resource_id =
            if wanted && name.contains('@') { worker.resource_lookup(clients, &name).await? } else { None };
        let (refused, listed) = match resource_id {
            Some(id) if profile.write_as_rep => {
                let key = refused_rep_key(&profile.name, id);
                let listed = chrono::Duration::days(LISTED_DAYS);
                let seen = move |s: &crate::store::Store| -> Result<_, crate::store::StoreError> {
                    let now = Utc::now();
                    Ok((s.cached(REFUSED_REPS, &key, acted_on(), now)?, s.cached(REFUSED_REPS, &key, listed, now)?))
                };
                let (recent, week) = worker.store.run(seen).await?;
                (recent.is_some(), week.is_some())
            }
            _ => (false, false),
        };
        Ok(Author {
            name,
            resource_id,
            impersonate: profile.write_as_rep,
            refused: AtomicBool::new(refused),
            listed: AtomicBool::new(listed),
        })
    }

    /// The resource a write is made as; `None` writes as the API user.
    pub fn as_resource(&self) -> Option<i64> {
        self.resource_id.filter(|_| self.impersonate && !self.was_refused())
    }

    pub fn was_refused(&self) -> bool {
        self.refused.load(Ordering::Acquire)
    }

    /// A note as it is written: as the rep, or as the API user saying for whom.
    pub fn note(&self, note: &NoteText) -> NoteText {
        if self.was_refused() { written_for(note, &self.on_behalf()) } else { note.clone() }
    }

    /// The line a note written by the API user for the rep begins with.
    fn on_behalf(&self) -> String {
        format!(
            "Written by the API user for {}: Autotask does not allow the API user to write as this resource.",
            self.name
        )
    }

    /// Makes one write (`create`, given the resource to write as) as the rep; where Autotask
    /// refuses to let the API user write as them, once more as the API user — the refused write
    /// wrote nothing, and `create` reads [`Author::note`] anew, which now says for whom.
    pub async fn write<F, Fut>(
        &self,
        worker: &Worker,
        clients: &ProfileClients,
        create: F,
    ) -> Result<i64, autotask::Error>
    where
        F: Fn(Option<i64>) -> Fut,
        Fut: std::future::Future<Output = Result<i64, autotask::Error>>,
    {
        let as_rep = self.as_resource();
        match create(as_rep).await {
            Err(e) if as_rep.is_some() && e.is_impersonation_refused() => {
                self.refused_now(worker, clients).await;
                create(None).await
            }
            Ok(id) => {
                if as_rep.is_some() {
                    self.wrote_as_rep(worker, clients).await;
                }
                Ok(id)
            }
            Err(e) => Err(e),
        }
    }

    /// A write as the rep succeeded: a refusal listed before (the security level since fixed)
    /// is taken off the list.
    async fn wrote_as_rep(&self, worker: &Worker, clients: &ProfileClients) {
        let Some(id) = self.resource_id.filter(|_| self.listed.swap(false, Ordering::AcqRel)) else { return };
        let key = refused_rep_key(&clients.profile.name, id);
        if let Err(e) = worker.store.run(move |s| s.uncache(REFUSED_REPS, &key)).await {
            tracing::warn!("could not take {} off the refused reps: {e}", self.name);
        }
    }

    /// Autotask refused a write as this rep: acted on for an hour, listed for a week, and said.
    async fn refused_now(&self, worker: &Worker, clients: &ProfileClients) {
        self.refused.store(true, Ordering::Release);
        let Some(id) = self.resource_id else { return };
        tracing::warn!(
            profile = %clients.profile.name,
            resource_id = id,
            rep = %self.name,
            "Autotask refused to let the API user write as this rep; writing as the API user. {}",
            WHAT_TO_CHANGE
        );
        let (key, name) = (refused_rep_key(&clients.profile.name, id), self.name.clone());
        if let Err(e) = worker.store.run(move |s| s.cache(REFUSED_REPS, &key, &name, Utc::now())).await {
            tracing::warn!("could not remember the refused impersonation: {e}");
        }
    }

    /// Said in the Activity when the API user wrote for the rep.
    pub fn said(&self) -> String {
        if self.was_refused() {
            format!(" as the API user for {} (Autotask does not allow writing as them: {WHAT_TO_CHANGE})", self.name)
        } else {
            String::new()
        }
    }
}

/// What an Autotask administrator changes so the rep's work is credited to them.
pub const WHAT_TO_CHANGE: &str = "in Autotask, Admin › Resources/Users › Security Levels › the rep's security level › \
                                  Web Services API: tick \"Allow impersonation of resources with this security level\"";
