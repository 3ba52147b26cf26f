//! The desk's copy of its tickets: every open ticket and every ticket active in the last
//! `search_copy_days`, with what a search row shows (number, title, status, company, contact,
//! device) and a full-text index over them. The reps' searches are answered from it without
//! asking Autotask ([`super::search`]); it is filled once and kept from Autotask ([`keeper`]) at
//! the feed's looks and Autotask's ticket webhooks ([`super::feed`], [`super::webhook`]). It holds nothing that is not
//! in Autotask. Where the store is a SQLite file the copy is a file of its own beside it
//! ([`file`]); where it is PostgreSQL the copy is there too, one for every worker on it, searched
//! with PostgreSQL's own full-text search ([`shared`]).

mod file;
mod keeper;
mod shared;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::autotask::{ConfigurationItem, Contact, Ticket};
use crate::desk_api::TicketRow;
use crate::store::{AsyncStore, Engine};
use crate::ticket_search::Search;
pub use file::{describe, file_of};
pub use keeper::{COPIED_FIELDS, CopyKeeper, KeepError};
pub use shared::describe as describe_shared;

/// Most rows a search from the copy answers with (as many as Autotask's searches).
const ROWS: usize = crate::ticket_search::SEARCH_LIMIT as usize;

/// Why the copy could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("the desk's copy of the tickets at {path} failed: {message}")]
pub struct CopyError {
    path: String,
    message: String,
}

impl CopyError {
    fn at(path: impl std::fmt::Display, message: String) -> CopyError {
        CopyError { path: path.to_string(), message }
    }

    /// The copy's background task ended before answering (the worker is stopping).
    pub fn stopped(e: tokio::task::JoinError) -> CopyError {
        CopyError::at("(stopping)", format!("its task stopped: {e}"))
    }
}

/// Companies, contacts and devices, by id, as a ticket row names them.
#[derive(Debug, Default)]
pub struct Names {
    pub companies: Vec<(i64, String)>,
    pub contacts: Vec<(i64, String, Option<String>)>,
    pub devices: Vec<(i64, String)>,
}

impl Names {
    pub fn contact(c: &Contact) -> Option<(i64, String, Option<String>)> {
        let name = format!("{} {}", c.first_name.as_deref().unwrap_or(""), c.last_name.as_deref().unwrap_or(""));
        Some((c.id?, name.trim().to_owned(), c.email_address.clone()))
    }

    pub fn device(ci: &ConfigurationItem) -> Option<(i64, String)> {
        Some((ci.id?, ci.device_name()?))
    }
}

/// The ids of companies, contacts and devices the copy does not name yet.
#[derive(Debug, Default, PartialEq)]
pub struct Unnamed {
    pub companies: Vec<i64>,
    pub contacts: Vec<i64>,
    pub devices: Vec<i64>,
}

impl Unnamed {
    pub fn is_empty(&self) -> bool {
        self.companies.is_empty() && self.contacts.is_empty() && self.devices.is_empty()
    }
}

/// One ticket as the copy holds it: a search row but for the status's label.
#[derive(Debug, Clone, PartialEq)]
pub struct Copied {
    pub row: TicketRow,
    pub status: Option<i64>,
}

impl Copied {
    /// The row a rep sees, its status named from Autotask's picklist.
    pub fn into_row(self, status_label: impl Fn(i64) -> Option<String>) -> TicketRow {
        let status = self.status.and_then(status_label).unwrap_or_default();
        TicketRow { status, ..self.row }
    }
}

/// A ticket's primary resource and their role on it, as the copy holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    pub resource: Option<i64>,
    pub role: Option<i64>,
}

/// How current the copy is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Freshness {
    pub tickets: u64,
    /// When it was filled (none while it is being filled for the first time).
    pub filled_at: Option<DateTime<Utc>>,
    /// Everything changed in Autotask before this is in it: the start of the last look.
    pub current_as_of: Option<DateTime<Utc>>,
    /// The last change a webhook brought in.
    pub last_webhook_at: Option<DateTime<Utc>>,
}

/// A ticket's row in the copy, as either engine keeps it: what a search row shows but the names,
/// and its primary resource's role.
#[derive(Debug, PartialEq)]
struct Kept {
    number: String,
    title: String,
    status: Option<i64>,
    company: Option<i64>,
    contact: Option<i64>,
    device: Option<i64>,
    assigned: Option<i64>,
    active: Option<i64>,
    role: Option<i64>,
}

impl Kept {
    fn of(t: &Ticket) -> Kept {
        Kept {
            number: t.ticket_number.as_deref().unwrap_or("").to_uppercase(),
            title: t.title.clone().unwrap_or_default(),
            status: t.status,
            company: t.company_id,
            contact: t.contact_id,
            device: t.configuration_item_id,
            assigned: t.assigned_resource_id,
            active: t.last_activity_date.map(|at| at.timestamp_millis()),
            role: t.assigned_resource_role_id,
        }
    }
}

/// The copy: on its own file, or in the store's database.
#[derive(Debug)]
pub enum TicketCopy {
    File(file::FileCopy),
    Shared(shared::SharedCopy),
}

/// Runs the same on either copy.
macro_rules! either {
    ($self:ident, $copy:ident => $e:expr) => {
        match $self {
            TicketCopy::File($copy) => $e,
            TicketCopy::Shared($copy) => $e,
        }
    };
}

impl TicketCopy {
    /// A profile's copy: in the store's database when it is PostgreSQL, else in its file beside
    /// the store's (made when there is none, made again when it cannot be read).
    pub fn of(store: &AsyncStore, profile: &str) -> Result<TicketCopy, CopyError> {
        Ok(match store.blocking().engine() {
            Engine::Postgres => TicketCopy::Shared(shared::SharedCopy::new(store.clone(), profile)),
            Engine::Sqlite => TicketCopy::File(file::FileCopy::open(&file_of(store.blocking().data_dir(), profile))?),
        })
    }

    /// When the copy was last filled whole (none: it is to be filled).
    pub fn filled_at(&self) -> Result<Option<DateTime<Utc>>, CopyError> {
        either!(self, c => c.meta("filled_at"))
    }

    /// Marks the copy filled: it answers searches from now on.
    pub fn filled(&self, at: DateTime<Utc>) -> Result<(), CopyError> {
        either!(self, c => c.set_meta("filled_at", at))
    }

    /// Everything changed in Autotask before `at` is in the copy.
    pub fn current_as_of(&self, at: DateTime<Utc>) -> Result<(), CopyError> {
        either!(self, c => c.set_meta("current_as_of", at))
    }

    /// Since when the copy lacks what changed in Autotask (none before it is filled).
    pub fn current_since(&self) -> Result<Option<DateTime<Utc>>, CopyError> {
        either!(self, c => c.meta("current_as_of"))
    }

    pub fn webhook_applied(&self, at: DateTime<Utc>) -> Result<(), CopyError> {
        either!(self, c => c.set_meta("last_webhook_at", at))
    }

    pub fn freshness(&self) -> Result<Freshness, CopyError> {
        Ok(Freshness {
            tickets: either!(self, c => c.tickets())?,
            filled_at: self.filled_at()?,
            current_as_of: self.current_since()?,
            last_webhook_at: either!(self, c => c.meta("last_webhook_at"))?,
        })
    }

    /// Of the companies, contacts and devices these tickets name, those the copy has no name for.
    pub fn unnamed(&self, tickets: &[Ticket]) -> Result<Unnamed, CopyError> {
        either!(self, c => c.unnamed(tickets))
    }

    /// Keeps tickets (whole, or as a look or a webhook brought them) with the names they need,
    /// in one transaction; returns the primary resource each ticket the copy already held had
    /// before.
    pub fn keep(&self, tickets: &[Ticket], names: &Names) -> Result<HashMap<i64, Option<i64>>, CopyError> {
        either!(self, c => c.keep(tickets, names))
    }

    /// Takes new names of companies, contacts and devices the copy names already (a renamed
    /// customer is found by its new name); returns how many tickets were indexed anew.
    pub fn rename(&self, names: &Names) -> Result<usize, CopyError> {
        either!(self, c => c.rename(names))
    }

    /// Forgets tickets: deleted in Autotask.
    pub fn forget(&self, ids: &[i64]) -> Result<(), CopyError> {
        either!(self, c => c.forget(ids))
    }

    /// Forgets completed tickets whose last activity is before `before` (outside the copy's
    /// days); how many.
    pub fn prune(&self, before: DateTime<Utc>) -> Result<usize, CopyError> {
        either!(self, c => c.prune(before))
    }

    /// What `search` finds in the copy, ranked: an exact number or id first, then my last
    /// tickets, then mine, then by last activity. "Mine" is my open tickets and my last ones.
    pub fn search(&self, search: &Search, me: Option<i64>, recent: &[i64]) -> Result<Vec<Copied>, CopyError> {
        let mut found = either!(self, c => c.search(search, me, recent))?;
        for c in &mut found {
            c.row.recent = recent.contains(&c.row.id);
        }
        Ok(found)
    }

    /// A ticket's primary resource and their role on it, when the copy holds the ticket.
    pub fn assignment(&self, id: i64) -> Result<Option<Assignment>, CopyError> {
        either!(self, c => c.assignment(id))
    }

    /// A ticket's last activity moved on to `at` (the worker wrote a note to it), where the copy
    /// holds the ticket with an older one: its row shows it, and sorts by it, before the look.
    pub fn touched(&self, id: i64, at: DateTime<Utc>) -> Result<(), CopyError> {
        either!(self, c => c.touched(id, at))
    }

    /// One ticket, by id.
    pub fn get(&self, id: i64) -> Result<Option<Copied>, CopyError> {
        either!(self, c => c.get(id))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::store::{Store, StoreUrl};

    /// Runs a test on a copy in its file, then on one in the store's PostgreSQL — on Linux,
    /// where the tests make their own; the Windows build's tests, under Wine, cannot start one.
    fn on_both(test: impl Fn(&TicketCopy)) {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = AsyncStore::new(Store::open(&dir.path().join("store.sqlite3")).unwrap());
        eprintln!("on SQLite");
        test(&TicketCopy::of(&sqlite, "Desk").unwrap());
        if cfg!(unix) {
            let cluster = crate::store::throwaway_postgres::cluster().unwrap();
            let url = StoreUrl::parse(&cluster.new_database().unwrap(), Some(&crate::Secret::new(cluster.password())));
            let key = dir.path().join("worker.token-key");
            crate::store::load_or_make_key(&key).unwrap();
            let postgres = AsyncStore::new(Store::connect(&url.unwrap(), &key, dir.path()).unwrap());
            eprintln!("on PostgreSQL");
            let copy = TicketCopy::of(&postgres, "Desk").unwrap();
            assert!(matches!(copy, TicketCopy::Shared(_)));
            test(&copy);
            // Another profile's copy in the same database holds none of this one's tickets.
            let other = TicketCopy::of(&postgres, "Other desk").unwrap();
            assert_eq!(other.search(&Search::parse("a"), None, &[]).unwrap(), Vec::new());
        }
    }

    pub(crate) fn ticket(
        id: i64,
        number: &str,
        title: &str,
        assigned: Option<i64>,
        status: i64,
        minutes_ago: i64,
    ) -> Ticket {
        Ticket {
            id: Some(id),
            ticket_number: Some(number.to_owned()),
            title: Some(title.to_owned()),
            status: Some(status),
            company_id: Some(10),
            contact_id: Some(20),
            configuration_item_id: Some(30),
            assigned_resource_id: assigned,
            last_activity_date: Some(Utc::now() - chrono::Duration::minutes(minutes_ago)),
            ..Default::default()
        }
    }

    pub(crate) fn names() -> Names {
        Names {
            companies: vec![(10, "Dynamo Freight".into())],
            contacts: vec![(20, "Pat Lee".into(), Some("pat@dynamo.example".into()))],
            devices: vec![(30, "WS-0042".into())],
        }
    }

    fn ids(found: &[Copied]) -> Vec<i64> {
        found.iter().map(|c| c.row.id).collect()
    }

    #[test]
    fn words_numbers_and_ids_are_found_and_ranked_as_a_rep_expects() {
        on_both(|copy| {
            let tickets = [
                ticket(1, "T20261124.0001", "Outlook keeps asking for a password", Some(7), 1, 50),
                ticket(2, "T20261124.0042", "Printer offline", None, 1, 10),
                ticket(3, "T20261125.1042", "Outlook calendar gone", Some(8), 5, 5),
            ];
            assert_eq!(copy.unnamed(&tickets).unwrap().companies, [10]);
            copy.keep(&tickets, &names()).unwrap();
            assert!(copy.unnamed(&tickets).unwrap().is_empty());

            let find = |text: &str, me: Option<i64>| ids(&copy.search(&Search::parse(text), me, &[]).unwrap());
            assert_eq!(find("outl", None), [3, 1], "a word's start; the latest first");
            assert_eq!(find("outl", Some(7)), [1, 3], "mine before others'");
            assert_eq!(find("OUTLOOK cal", None), [3], "every word");
            assert_eq!(find("dynamo", None).len(), 3, "the company's name");
            assert_eq!(find("pat lee", None).len(), 3, "the contact's name");
            assert_eq!(find("ws-0042", None).len(), 3, "the device's name");
            assert_eq!(find("\"*) OR (", None), Vec::<i64>::new(), "FTS5's own syntax is only text");
            assert_eq!(find("t20261124", None), [2, 1], "a number's start");
            assert_eq!(find("T20261124.0042", None), [2]);
            assert_eq!(find("0042", None), [2], "a number's end");
            assert_eq!(find("3", None), [3], "an id");
            assert_eq!(find("1", None), [1], "an id before the numbers that end with it");
            assert_eq!(find("042", None), [3, 2], "the end of two numbers, the latest first");
            let mine = copy.search(&Search::Mine, Some(8), &[2]).unwrap();
            assert_eq!(ids(&mine), [2], "my open tickets (3 is complete) and my last ones");
            assert!(mine[0].row.recent);
            let row = &copy.get(1).unwrap().unwrap().row;
            assert_eq!(
                (row.company.as_str(), row.contact.as_str(), row.device.as_deref()),
                ("Dynamo Freight", "Pat Lee", Some("WS-0042"))
            );
        });
    }

    #[test]
    fn a_changed_ticket_is_found_by_its_new_words_only_and_old_completed_ones_leave() {
        on_both(|copy| {
            copy.keep(&[ticket(1, "T20261124.0001", "VPN drops", Some(7), 1, 60 * 24 * 40)], &names()).unwrap();
            let before = copy
                .keep(&[ticket(1, "T20261124.0001", "Teams camera", Some(8), 5, 60 * 24 * 40)], &Names::default())
                .unwrap();
            assert_eq!(before, HashMap::from([(1, Some(7))]));
            let find = |text: &str| ids(&copy.search(&Search::parse(text), None, &[]).unwrap());
            assert!(find("vpn").is_empty());
            assert_eq!(find("camera"), [1]);
            let renamed = Names {
                companies: vec![(10, "Zeppelin Freight".into()), (99, "Not copied".into())],
                ..Default::default()
            };
            assert_eq!(copy.rename(&renamed).unwrap(), 1, "the one ticket of the renamed company");
            assert_eq!((find("zeppelin"), find("dynamo")), (vec![1], vec![]));
            assert_eq!(copy.rename(&renamed).unwrap(), 0, "the same name again changes nothing");
            assert!(find("not copied").is_empty(), "a name no ticket uses is not kept");
            assert_eq!(copy.prune(Utc::now() - chrono::Duration::days(30)).unwrap(), 1);
            assert!(find("camera").is_empty() && copy.get(1).unwrap().is_none());
        });
    }

    #[test]
    fn a_note_the_worker_wrote_moves_the_tickets_last_activity_on_never_back() {
        on_both(|copy| {
            copy.keep(&[ticket(7, "T20261203.0001", "New laptop", Some(4), 1, 5)], &Names::default()).unwrap();
            let was = copy.get(7).unwrap().unwrap().row.last_activity.unwrap();
            let now = Utc::now();
            copy.touched(7, now).unwrap();
            let moved = copy.get(7).unwrap().unwrap().row.last_activity.unwrap();
            assert!(moved > was && (moved - now).num_milliseconds().abs() <= 1, "{was} → {moved}");
            copy.touched(7, was).unwrap();
            assert_eq!(copy.get(7).unwrap().unwrap().row.last_activity.unwrap(), moved, "not moved back");
            copy.touched(8, now).unwrap();
            assert!(copy.get(8).unwrap().is_none(), "a ticket it does not hold is not made");
        });
    }

    #[test]
    fn accents_and_case_do_not_matter_and_the_query_syntax_is_only_text() {
        on_both(|copy| {
            let names = Names { companies: vec![(10, "Bäckerei Müller".into())], ..Default::default() };
            copy.keep(&[ticket(1, "T20261207.0001", "Café Wi-Fi down", None, 1, 5)], &names).unwrap();
            let find = |text: &str| copy.search(&Search::parse(text), None, &[]).unwrap().len();
            assert_eq!((find("muller"), find("MÜLL"), find("cafe wi-fi"), find("backerei cafe")), (1, 1, 1, 1));
            for hostile in ["'", "\\", "a' | 'b", "muller:* | !x", "(müller", "müller & !café"] {
                assert!(find(hostile) <= 1, "{hostile}");
            }
            assert_eq!(find("muller tea"), 0, "every word");
        });
    }
}
