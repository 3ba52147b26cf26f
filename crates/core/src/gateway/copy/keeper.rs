//! The copy kept from Autotask: filled once, page by page with each page's names; kept with the
//! tickets each look and each callout brings; its completed tickets past `search_copy_days`
//! forgotten; and its companies' and contacts' new names asked for once every
//! `lookup_keep_minutes`. Every call to the copy itself runs off the async threads.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};

use super::{CopyError, Names, TicketCopy, Unnamed};
use crate::autotask::{
    self, AutotaskClient, Company, ConfigurationItem, Contact, Filter, MAX_PAGE_SIZE, TICKET_COMPLETE, Ticket,
};
use crate::gateway::CLOCK_OVERLAP;

/// Records per page and ids per `in` filter (Autotask's most per page).
const PAGE: usize = MAX_PAGE_SIZE as usize;
/// The fields of a ticket the copy keeps: asked for alone when it is filled or looked at.
pub const COPIED_FIELDS: [&str; 10] = [
    "id",
    "ticketNumber",
    "title",
    "status",
    "companyID",
    "contactID",
    "configurationItemID",
    "assignedResourceID",
    "lastActivityDate",
    // Not shown in a row: the role of a rep's time on a ticket assigned to them.
    "assignedResourceRoleID",
];

/// Why tickets could not be kept: Autotask did not answer for their names, or the copy failed.
#[derive(Debug, thiserror::Error)]
pub enum KeepError {
    #[error(transparent)]
    Autotask(#[from] autotask::Error),
    #[error(transparent)]
    Copy(#[from] CopyError),
}

/// One profile's copy, and what keeping it from Autotask needs.
#[derive(Debug)]
pub struct CopyKeeper {
    /// The profile's name, for the log.
    profile: String,
    autotask: AutotaskClient,
    copy: Arc<TicketCopy>,
    /// How far back it keeps completed tickets (`search_copy_days`).
    days: chrono::Duration,
    /// Whether it is filled: until then the desk's searches ask Autotask.
    ready: AtomicBool,
    /// How often it asks for companies and contacts renamed (`lookup_keep_minutes`), and since
    /// when it has them all.
    names_every: Duration,
    names_since: Mutex<Option<DateTime<Utc>>>,
}

impl CopyKeeper {
    pub fn new(
        profile: &str,
        autotask: AutotaskClient,
        copy: TicketCopy,
        days: chrono::Duration,
        names_every: Duration,
    ) -> Result<CopyKeeper, CopyError> {
        let ready = copy.filled_at()?.is_some();
        Ok(CopyKeeper {
            profile: profile.to_owned(),
            autotask,
            copy: Arc::new(copy),
            days,
            ready: AtomicBool::new(ready),
            names_every,
            names_since: Mutex::new(None),
        })
    }

    /// Runs `f` on the copy off the async threads.
    pub async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&TicketCopy) -> Result<T, CopyError> + Send + 'static,
    ) -> Result<T, CopyError> {
        let copy = self.copy.clone();
        tokio::task::spawn_blocking(move || f(&copy)).await.unwrap_or_else(|e| Err(CopyError::stopped(e)))
    }

    /// Whether the copy is filled and answers the desk's searches.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Takes the copy as filled once another worker on the store has filled it.
    pub async fn notice_filled(&self) {
        if !self.ready() && self.with(|c| c.filled_at()).await.ok().flatten().is_some() {
            self.ready.store(true, Ordering::Release);
        }
    }

    /// Fills the copy: every open ticket and every ticket active in the copy's days, page by
    /// page, each page's companies, contacts and devices with it; says in the log how many
    /// tickets and requests it took. Until it is whole the desk's searches ask Autotask.
    pub async fn fill(&self) -> Result<(), KeepError> {
        let started = Utc::now();
        let filter = Filter::any_of([
            Filter::noteq("status", TICKET_COMPLETE),
            Filter::gte("lastActivityDate", (started - self.days).to_rfc3339()),
        ]);
        let query = autotask::Query::new(filter).max_records(MAX_PAGE_SIZE).include_fields(COPIED_FIELDS);
        let mut pages = std::pin::pin!(self.autotask.query::<Ticket>(query).try_chunks(PAGE));
        let (mut tickets, mut requests) = (0, 0);
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| e.1)?;
            requests += 1;
            tickets += page.len();
            requests += self.keep(page).await?.1;
        }
        self.with(move |c| {
            c.current_as_of(started)?;
            c.filled(Utc::now())
        })
        .await?;
        self.ready.store(true, Ordering::Release);
        tracing::info!(
            profile = self.profile,
            "desk watch: copied {tickets} ticket(s) for the desk's searches in {} Autotask request(s)",
            requests.max(1)
        );
        Ok(())
    }

    /// Keeps tickets in the copy, first asking Autotask for the names it lacks; returns each
    /// ticket's primary resource before, and the requests it took.
    pub async fn keep(&self, tickets: Vec<Ticket>) -> Result<(HashMap<i64, Option<i64>>, usize), KeepError> {
        let (tickets, unnamed) = self
            .with(move |c| {
                let unnamed = c.unnamed(&tickets)?;
                Ok((tickets, unnamed))
            })
            .await?;
        let (names, requests) = self.names(unnamed).await?;
        let before = self.with(move |c| c.keep(&tickets, &names)).await?;
        Ok((before, requests))
    }

    /// Keeps what a look found and forgets completed tickets past the copy's days; the copy is
    /// then current as of the look's start. Returns each copied ticket's primary resource before
    /// (none when the copy could not be kept: the next look asks from where it is current).
    pub async fn keep_looked(&self, tickets: Vec<Ticket>, started: DateTime<Utc>) -> HashMap<i64, Option<i64>> {
        if !self.ready() {
            return HashMap::new();
        }
        let kept = match self.keep(tickets).await {
            Ok((before, _)) => before,
            Err(e) => {
                tracing::warn!(profile = self.profile, "desk watch: the copy of the tickets was not kept: {e}");
                return HashMap::new();
            }
        };
        let days = self.days;
        let pruned = self.with(move |c| {
            c.prune(Utc::now() - days)?;
            c.current_as_of(started)
        });
        if let Err(e) = pruned.await {
            tracing::warn!(profile = self.profile, "desk watch: the copy of the tickets was not kept: {e}");
        }
        kept
    }

    /// Once every `lookup_keep_minutes`, asks Autotask for the companies and contacts changed
    /// since the last time (two requests) and takes their new names into the copy.
    pub async fn refresh_names(&self, started: DateTime<Utc>) {
        let since = *self.names_since.lock().unwrap_or_else(|e| e.into_inner());
        let Some(since) = since else {
            *self.names_since.lock().unwrap_or_else(|e| e.into_inner()) = Some(started);
            return;
        };
        let due = (started - since).to_std().is_ok_and(|waited| waited >= self.names_every);
        if !due || !self.ready() {
            return;
        }
        let renamed = match self.renamed_since(since).await {
            Ok(renamed) => renamed,
            Err(e) => {
                return tracing::warn!(profile = self.profile, "desk watch: renamed customers could not be read: {e}");
            }
        };
        match self.with(move |c| c.rename(&renamed)).await {
            Ok(indexed) => {
                *self.names_since.lock().unwrap_or_else(|e| e.into_inner()) = Some(started);
                if indexed > 0 {
                    tracing::info!(
                        profile = self.profile,
                        "desk watch: {indexed} ticket(s) of renamed customers indexed anew"
                    );
                }
            }
            Err(e) => tracing::warn!(profile = self.profile, "desk watch: renamed customers were not kept: {e}"),
        }
    }

    /// The companies and contacts changed in Autotask since `since`, with their names.
    async fn renamed_since(&self, since: DateTime<Utc>) -> Result<Names, autotask::Error> {
        let changed = |fields: &'static [&'static str]| {
            let filter = Filter::gte("lastActivityDate", (since - CLOCK_OVERLAP).to_rfc3339());
            autotask::Query::new(filter).max_records(MAX_PAGE_SIZE).include_fields(fields.iter().copied())
        };
        let (companies, contacts) = futures::try_join!(
            self.autotask.query_all::<Company>(changed(&["id", "companyName"])),
            self.autotask.query_all::<Contact>(changed(&["id", "firstName", "lastName", "emailAddress"])),
        )?;
        Ok(Names {
            companies: companies
                .into_iter()
                .filter_map(|c| Some((c.id?, c.company_name.unwrap_or_default())))
                .collect(),
            contacts: contacts.iter().filter_map(Names::contact).collect(),
            devices: Vec::new(),
        })
    }

    /// The names of companies, contacts and devices, asked of Autotask by id; with the requests.
    /// One Autotask does not have (deleted), or a device without a name, is kept nameless, so
    /// that it is not asked for again at every look.
    async fn names(&self, unnamed: Unnamed) -> Result<(Names, usize), autotask::Error> {
        let by_ids = |ids: &[i64]| autotask::Query::new(Filter::is_in("id", ids.to_vec())).max_records(MAX_PAGE_SIZE);
        let mut names = Names::default();
        let mut requests = 0;
        for ids in unnamed.companies.chunks(PAGE) {
            let found: Vec<Company> =
                self.autotask.query_all(by_ids(ids).include_fields(["id", "companyName"])).await?;
            let found = found.into_iter().filter_map(|c| Some((c.id?, c.company_name.unwrap_or_default())));
            names.companies.extend(nameless_too(ids, found.collect(), |n| n.0, |id| (id, String::new())));
            requests += 1;
        }
        for ids in unnamed.contacts.chunks(PAGE) {
            let fields = ["id", "firstName", "lastName", "emailAddress"];
            let found: Vec<Contact> = self.autotask.query_all(by_ids(ids).include_fields(fields)).await?;
            let found = found.iter().filter_map(Names::contact).collect();
            names.contacts.extend(nameless_too(ids, found, |n| n.0, |id| (id, String::new(), None)));
            requests += 1;
        }
        for ids in unnamed.devices.chunks(PAGE) {
            let found: Vec<ConfigurationItem> = self.autotask.query_all(by_ids(ids)).await?;
            let found = found.iter().filter_map(Names::device).collect();
            names.devices.extend(nameless_too(ids, found, |n| n.0, |id| (id, String::new())));
            requests += 1;
        }
        Ok((names, requests))
    }
}

/// The names found for `asked` (each an id first), and a nameless one for each id not found.
fn nameless_too<T>(asked: &[i64], mut found: Vec<T>, id_of: impl Fn(&T) -> i64, nameless: impl Fn(i64) -> T) -> Vec<T> {
    let known: HashSet<i64> = found.iter().map(&id_of).collect();
    found.extend(asked.iter().filter(|id| !known.contains(id)).map(|id| nameless(*id)));
    found
}
