//! What a rep does from the tray, without the screen: find tickets (mine, by number, by id, by
//! words of the title, by company or contact name — [`search`]), make a session key tied to one
//! and Jump to its configuration item ([`actions`]), and open it in Autotask — with the profile's
//! own API credentials, or through the desk's worker ([`link`]) for a profile enrolled there
//! ([`enrolment`]), whose certificate is trusted by its pin ([`trust`]). The tray app's commands
//! are thin calls into here.

mod actions;
mod enrolment;
mod error;
pub mod link;
mod search;
mod trust;
mod watch;

use std::collections::HashMap;
use std::sync::Mutex;

use url::Url;

use crate::autotask::{self, AutotaskClient, Filter, Query, Ticket};
use crate::beyondtrust::{self, BeyondTrustClient};
use crate::config::{DeskRole, Profile, WorkerConfig};
pub use crate::desk_api::TicketRow;
use crate::ticket_search::{LOOKUP_TTL, Lookups, RECENT, SEARCH_LIMIT, Search, find};
pub use actions::{KeyOffer, jump, session_key};
pub use enrolment::{EnrolLink, EnrolPreview, preview as enrol_preview, with_enrolled_profile};
pub use error::{DeskError, TYPING_PAUSE};
use link::{DeskLink, Writer};
pub use search::{my_resource_id, search};
pub use watch::{TicketChange, TicketWatch};

/// What the app's embedded worker runs on: the profiles that have a desk, except those whose
/// sessions the desk's worker writes now (one writer per session) — returned by name too.
pub fn embedded_config(
    config: &WorkerConfig,
    desks: &HashMap<String, std::sync::Arc<Desk>>,
) -> (WorkerConfig, std::collections::BTreeSet<String>) {
    let stood_down: std::collections::BTreeSet<String> =
        desks.values().filter(|d| d.desk_worker_writes()).map(|d| d.profile.name.clone()).collect();
    let mut config = config.clone();
    config.profiles.retain(|p| desks.contains_key(&p.name));
    for profile in config.profiles.iter_mut().filter(|p| stood_down.contains(&p.name)) {
        profile.embedded_worker = false;
    }
    (config, stood_down)
}

/// One profile as the tray uses it: how it reaches Autotask and the appliance, who the rep is,
/// and the tickets last shown, so the window asks for every action by ticket id alone and never
/// hands over a URL or a row.
#[derive(Debug)]
pub struct Desk {
    profile: Profile,
    reach: Reach,
    me: tokio::sync::OnceCell<i64>,
    shown: Mutex<HashMap<i64, TicketRow>>,
    lookups: Lookups,
    watch: tokio::sync::Mutex<TicketWatch>,
    /// The last tickets I made a key for or Jumped from, the latest first (this run of the app).
    recent: Mutex<Vec<i64>>,
    /// The desk's worker, when the profile follows it.
    link: Option<DeskLink>,
    /// My open tickets as last asked, while the desk's worker watches them for me.
    mine: Mutex<Option<KeptMine>>,
    /// How long they are kept at most ([`MINE_KEPT`]).
    mine_kept: std::time::Duration,
}

/// How a profile reaches Autotask and the appliance.
#[derive(Debug)]
enum Reach {
    /// With the profile's own API credentials (solo use, or following the desk's worker with them).
    Own { autotask: AutotaskClient, beyondtrust: BeyondTrustClient },
    /// Enrolled: everything that needs a credential goes through the desk's worker; the app
    /// knows only where LiveLinks and tickets open.
    Enrolled { appliance: Url, web: Url },
}

/// My open tickets as last asked, with my last tickets of then.
#[derive(Debug)]
struct KeptMine {
    rows: Vec<TicketRow>,
    recent: Vec<i64>,
    at: std::time::Instant,
}

/// How long "my open tickets" are shown again without asking Autotask while the desk's worker
/// tells of every change to them (and as long as it answers).
const MINE_KEPT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// What one look at my tickets found, and from where.
#[derive(Debug, Clone, PartialEq)]
pub struct Watched {
    pub changes: Vec<TicketChange>,
    /// From the desk's worker (no Autotask request); else the app looked itself.
    pub from_desk_worker: bool,
}

impl Desk {
    pub fn new(profile: &Profile) -> Result<Desk, DeskError> {
        let reach = match &profile.enrolled {
            Some(enrolled) => Reach::Enrolled {
                appliance: profile.beyondtrust.base_url().map_err(|e| DeskError::DeskLink(profile.name.clone(), e))?,
                web: enrolled.autotask_web.clone(),
            },
            None => Reach::Own {
                autotask: AutotaskClient::new(profile.autotask.clone())?,
                beyondtrust: BeyondTrustClient::new(profile.beyondtrust.clone())?,
            },
        };
        let pin = profile.enrolled.as_ref().and_then(|e| e.certificate_pin.as_deref());
        Ok(Desk {
            profile: profile.clone(),
            reach,
            me: tokio::sync::OnceCell::new(),
            shown: Mutex::new(HashMap::new()),
            lookups: Lookups::default(),
            watch: tokio::sync::Mutex::new(TicketWatch::default()),
            recent: Mutex::new(Vec::new()),
            link: match &profile.desk {
                DeskRole::Follows { url, also, token, takeover_after } => Some(
                    DeskLink::new(
                        std::iter::once(url).chain(also).cloned().collect(),
                        &profile.appliance_id,
                        token.clone(),
                        *takeover_after,
                        pin,
                        profile.enrolled.is_some(),
                    )
                    .map_err(|e| DeskError::DeskLink(profile.name.clone(), e))?,
                ),
                _ => None,
            },
            mine: Mutex::new(None),
            mine_kept: MINE_KEPT,
        })
    }

    /// Keeps what it looked up `factor` times shorter: a benchmark's compressed day keeps it as
    /// long in its own time as a real day would.
    pub fn in_compressed_time(mut self, factor: f64) -> Desk {
        self.lookups = Lookups::kept_for(LOOKUP_TTL.div_f64(factor));
        self.mine_kept = MINE_KEPT.div_f64(factor);
        self
    }

    /// The desk's worker, when this profile follows it.
    pub fn link(&self) -> Option<&DeskLink> {
        self.link.as_ref()
    }

    /// Whether the profile was enrolled at the desk's worker (it holds no API credential).
    pub fn enrolled(&self) -> bool {
        matches!(self.reach, Reach::Enrolled { .. })
    }

    /// Whether the desk's worker writes this profile's sessions now (see [`DeskLink::writer`]).
    pub fn desk_worker_writes(&self) -> bool {
        self.link.as_ref().is_some_and(|l| l.writer() == Writer::DeskWorker)
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The rep's Autotask resource id: looked up once, or as the desk's worker knows them.
    async fn me(&self) -> Result<i64, DeskError> {
        let autotask = match &self.reach {
            Reach::Own { autotask, .. } => autotask,
            Reach::Enrolled { .. } => return self.link().and_then(DeskLink::me).ok_or_else(|| self.worker_needed()),
        };
        let email =
            self.profile.rep_email.as_deref().ok_or_else(|| DeskError::NoRepEmail(self.profile.name.clone()))?;
        self.me.get_or_try_init(|| my_resource_id(autotask, email)).await.copied()
    }

    /// An enrolled profile's answer when the desk's worker gave none.
    fn worker_needed(&self) -> DeskError {
        let said = self.link().map_or_else(String::new, DeskLink::said);
        DeskError::DeskLink(self.profile.name.clone(), said)
    }

    /// Finds tickets and remembers them for the actions that follow.
    pub async fn search(&self, text: &str) -> Result<Vec<TicketRow>, DeskError> {
        self.search_in(text, false).await
    }

    /// Whether this profile's searches go to the desk's worker, which answers them from its copy
    /// of the tickets (so "Search all of Autotask" asks for more).
    pub fn searches_at_desk(&self) -> bool {
        self.link.is_some()
    }

    /// Finds tickets — in all of Autotask rather than the desk's copy when `everywhere` — and
    /// remembers them for the actions that follow.
    pub async fn search_in(&self, text: &str, everywhere: bool) -> Result<Vec<TicketRow>, DeskError> {
        let mine = Search::parse(text) == Search::Mine;
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let kept = if mine && !everywhere { self.kept_mine(&recent) } else { None };
        let rows = match kept {
            Some(rows) => rows,
            None => {
                let rows = self.search_anew(text, mine, &recent, everywhere).await?;
                if mine && self.link.as_ref().is_some_and(DeskLink::answering) {
                    let kept = KeptMine { rows: rows.clone(), recent, at: std::time::Instant::now() };
                    *self.mine.lock().unwrap_or_else(|e| e.into_inner()) = Some(kept);
                }
                rows
            }
        };
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        // Keep earlier results too: the rep may act on a row while the next search runs.
        if shown.len() > 1000 {
            shown.clear();
        }
        shown.extend(rows.iter().map(|r| (r.id, r.clone())));
        Ok(rows)
    }

    /// Searches at the desk's worker while it answers (the desk's lookups shared, no request of
    /// this app's); by itself otherwise, or when the worker's search fails — except an enrolled
    /// profile, which has only the worker.
    async fn search_anew(
        &self,
        text: &str,
        mine: bool,
        recent: &[i64],
        everywhere: bool,
    ) -> Result<Vec<TicketRow>, DeskError> {
        let autotask = match (&self.reach, &self.link) {
            (Reach::Enrolled { .. }, Some(link)) => {
                return link.search(text, None, recent, everywhere).await.map_err(|e| self.worker_error(e));
            }
            (Reach::Enrolled { .. }, None) => return Err(self.worker_needed()),
            (Reach::Own { autotask, .. }, _) => autotask,
        };
        let me = if mine { Some(self.me().await?) } else { None };
        if let Some(link) = self.link.as_ref().filter(|l| l.answering()) {
            match link.search(text, me, recent, everywhere).await {
                Ok(rows) => return Ok(rows),
                Err(e) => tracing::warn!(profile = self.profile.name, "searching by itself: {e}"),
            }
        }
        Ok(find(autotask, text, me, recent, &self.lookups).await?)
    }

    fn worker_error(&self, e: link::LinkError) -> DeskError {
        let (said, details) = e.in_words();
        DeskError::AtDesk { said, details }
    }

    /// My open tickets as kept, when the desk's worker has told of no change to them since, my
    /// last tickets are the same, and they are not too old.
    fn kept_mine(&self, recent: &[i64]) -> Option<Vec<TicketRow>> {
        let kept = self.mine.lock().unwrap_or_else(|e| e.into_inner());
        let kept = kept.as_ref().filter(|k| k.recent == recent && k.at.elapsed() < self.mine_kept)?;
        Some(kept.rows.clone())
    }

    /// A ticket the rep has been shown.
    pub fn shown(&self, ticket_id: i64) -> Result<TicketRow, DeskError> {
        let shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        shown.get(&ticket_id).cloned().ok_or(DeskError::NotShown(ticket_id))
    }

    /// A session key for a shown ticket, in the rep's own queue: made with the profile's own API
    /// account, or by the desk's worker; when an enrolled profile's worker cannot be reached, the
    /// rep console's own Generate Session Key dialog, tied to the ticket (no secret needed).
    pub async fn session_key(&self, ticket_id: i64) -> Result<KeyOffer, DeskError> {
        let ticket = self.shown(ticket_id)?;
        let offer = match (&self.reach, &self.link) {
            (Reach::Own { beyondtrust, .. }, _) => {
                let rep = self.profile.rep_username.as_deref();
                let rep = rep.ok_or_else(|| DeskError::NoRepUsername(self.profile.name.clone()))?;
                session_key(beyondtrust, &ticket, rep).await?
            }
            (Reach::Enrolled { appliance, .. }, Some(link)) => match link.session_key(ticket_id).await {
                Ok(answer) => actions::offer(answer).ok_or_else(|| self.worker_needed())?,
                Err(e @ link::LinkError::Unreachable { .. }) => {
                    tracing::warn!(profile = self.profile.name, "a key through the rep console: {e}");
                    KeyOffer::ConsoleLink(beyondtrust::livelinks::session_key_link(appliance, &ticket_id.to_string()))
                }
                Err(e) => return Err(self.worker_error(e)),
            },
            (Reach::Enrolled { .. }, None) => return Err(self.worker_needed()),
        };
        self.used(ticket_id);
        Ok(offer)
    }

    /// Where the appliance is, for LiveLinks.
    fn appliance(&self) -> &Url {
        match &self.reach {
            Reach::Own { beyondtrust, .. } => beyondtrust.base_url(),
            Reach::Enrolled { appliance, .. } => appliance,
        }
    }

    /// The Jump LiveLink for a shown ticket's device.
    pub fn jump(&self, ticket_id: i64) -> Result<Url, DeskError> {
        let url = jump(self.appliance(), &self.shown(ticket_id)?)?;
        self.used(ticket_id);
        Ok(url)
    }

    /// Puts a ticket first among my last ones.
    fn used(&self, ticket_id: i64) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.retain(|&id| id != ticket_id);
        recent.insert(0, ticket_id);
        recent.truncate(RECENT);
    }

    /// Tickets' names ("T20261124.0042 Outlook keeps asking…", see [`store::ticket_label`]) in
    /// one request, for activity lines written before their names were known (an enrolled
    /// profile's lines come from the worker, named).
    ///
    /// [`store::ticket_label`]: crate::store::ticket_label
    pub async fn ticket_names(&self, ids: &[i64]) -> Result<HashMap<i64, String>, DeskError> {
        let Reach::Own { autotask, .. } = &self.reach else { return Ok(HashMap::new()) };
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let query = Query::new(Filter::is_in("id", ids.to_vec()))
            .include_fields(["id", "ticketNumber", "title"])
            .max_records(SEARCH_LIMIT);
        let tickets = autotask.query_page::<Ticket>(&query).await?.items;
        Ok(tickets
            .into_iter()
            .filter_map(|t| {
                let (number, title) = (t.ticket_number.unwrap_or_default(), t.title.unwrap_or_default());
                Some((t.id?, crate::store::ticket_label(&number, &title)))
            })
            .collect())
    }

    /// The Autotask web UI's root.
    async fn web_root(&self) -> Result<Url, DeskError> {
        match &self.reach {
            Reach::Own { autotask, .. } => Ok(autotask.zone().await?.web_root.clone()),
            Reach::Enrolled { web, .. } => Ok(web.clone()),
        }
    }

    /// The ticket in the Autotask web UI.
    pub async fn ticket_url(&self, ticket_id: i64) -> Result<Url, DeskError> {
        Ok(autotask::ticket_url(&self.web_root().await?, ticket_id))
    }

    /// The ticket of a whole number (`T20261124.0042`) in the Autotask web UI, without asking
    /// anyone for its id: what still works when the desk's worker cannot be reached.
    pub async fn ticket_url_by_number(&self, number: &str) -> Result<Url, DeskError> {
        Ok(autotask::ticket_number_url(&self.web_root().await?, number))
    }

    /// Whether `url` goes to this profile's appliance or Autotask web UI over http(s): the only
    /// places the tray opens.
    pub async fn may_open(&self, url: &Url) -> bool {
        let web = self.web_root().await.ok();
        let same_place = |known: &Url| {
            known.scheme() == url.scheme()
                && known.host() == url.host()
                && known.port_or_known_default() == url.port_or_known_default()
        };
        matches!(url.scheme(), "http" | "https")
            && (same_place(self.appliance()) || web.as_ref().is_some_and(same_place))
    }

    /// The rep's open tickets that changed in Autotask: from the desk's worker, waiting up to
    /// `wait` for news, when the profile follows it and it answers; else by one look of the app's
    /// own (at once) — an enrolled profile has only the worker.
    pub async fn watch(&self, wait: std::time::Duration) -> Result<Watched, DeskError> {
        if let Some(link) = &self.link {
            match link.changes(wait).await {
                Ok(told) => {
                    // Should the worker go away, the app's own watch starts from then.
                    *self.watch.lock().await = TicketWatch::default();
                    if let (Some(t), Reach::Own { autotask, .. }) = (told.threshold, &self.reach) {
                        autotask.usage_told(t.used, t.limit);
                    }
                    let me = self.me().await?;
                    self.forget_mine_if_changed(&told.changes, me);
                    let changes = told
                        .changes
                        .into_iter()
                        .filter(|c| c.open && c.assigned == Some(me))
                        .map(|c| TicketChange { id: c.id, number: c.number, title: c.title })
                        .collect();
                    return Ok(Watched { changes, from_desk_worker: true });
                }
                Err(e) => {
                    tracing::warn!(profile = self.profile.name, "{e}");
                    link.start_afresh();
                    *self.mine.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    if self.enrolled() {
                        return Err(self.worker_error(e));
                    }
                }
            }
        }
        let Reach::Own { autotask, .. } = &self.reach else { return Err(self.worker_needed()) };
        let me = self.me().await?;
        let changes = self.watch.lock().await.check(autotask, me).await?;
        Ok(Watched { changes, from_desk_worker: false })
    }

    /// My open tickets are asked afresh after a change to one of them, or to one now mine.
    fn forget_mine_if_changed(&self, changes: &[crate::desk_api::DeskChange], me: i64) {
        let mut kept = self.mine.lock().unwrap_or_else(|e| e.into_inner());
        let listed = |id: i64| kept.as_ref().is_some_and(|k| k.rows.iter().any(|r| r.id == id));
        if changes.iter().any(|c| c.assigned == Some(me) || listed(c.id)) {
            *kept = None;
        }
    }
}
