//! Companies, contacts and devices a desk has looked up, and the searches it has asked lately:
//! what lets most searches take one Autotask round trip. The app keeps its own; a desk's worker
//! keeps one for every rep it serves.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Found, NAME_MIN_CHARS, NAMES_MAX, Names, Search, full_name, name_has};
use crate::autotask::{self, AutotaskClient, Company, Contact, Filter, Query, TICKET_COMPLETE, Ticket};

/// How long a looked-up company, contact or device is taken as current: names and devices
/// seldom change, and each rep's desk looking them up again every few minutes would cost a
/// 200-rep desk a fifth of Autotask's hourly threshold by itself (the desk benchmark).
pub const LOOKUP_TTL: std::time::Duration = std::time::Duration::from_secs(4 * 3600);
/// How long a search that matched no company or contact by name is remembered (a customer
/// added meanwhile is found by name after this long).
const NAMELESS_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// How long a rep's search that Autotask answered in full answers the searches they type on
/// from it ("dyna" → "dynamo"): time to finish typing; a ticket made meanwhile is found by
/// the rep's next search anew.
const NARROWING_TTL: std::time::Duration = std::time::Duration::from_secs(15);

/// Records looked up by id, kept for [`LOOKUP_TTL`].
#[derive(Debug)]
pub(super) struct Cache<V>(Mutex<HashMap<i64, (V, std::time::Instant)>>);

impl<V> Default for Cache<V> {
    fn default() -> Self {
        Cache(Mutex::new(HashMap::new()))
    }
}

impl<V: Clone> Cache<V> {
    /// The records of `ids`: those known from the cache, the rest in one query.
    pub(super) async fn fetch<E: autotask::Entity>(
        &self,
        autotask: &AutotaskClient,
        kept: std::time::Duration,
        ids: impl Iterator<Item = i64>,
        keep: impl Fn(E) -> Option<(i64, V)>,
    ) -> Result<HashMap<i64, V>, autotask::Error> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        {
            let entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
            for id in ids {
                match entries.get(&id) {
                    Some((value, at)) if at.elapsed() < kept => {
                        found.insert(id, value.clone());
                    }
                    _ => missing.push(id),
                }
            }
        }
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(found);
        }
        let query = Query::new(Filter::is_in("id", missing)).max_records(super::SEARCH_LIMIT);
        let fresh = autotask.query_page::<E>(&query).await?.items;
        let mut entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (id, value) in fresh.into_iter().filter_map(keep) {
            entries.insert(id, (value.clone(), std::time::Instant::now()));
            found.insert(id, value);
        }
        Ok(found)
    }
}

impl<V: Clone> Cache<V> {
    /// A known record, however long ago it was looked up.
    pub(super) fn get(&self, id: i64) -> Option<V> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&id).map(|(value, _)| value.clone())
    }

    /// Keeps records found another way (by name).
    fn keep(&self, found: impl IntoIterator<Item = (i64, V)>) {
        let mut entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        entries.extend(found.into_iter().map(|(id, value)| (id, (value, std::time::Instant::now()))));
    }

    /// The ids of known records that `matches`, however long ago they were looked up (a name
    /// seldom changes; their tickets are asked for afresh).
    fn ids_where(&self, matches: impl Fn(&V) -> bool) -> Vec<i64> {
        let entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<i64> = entries.iter().filter(|(_, (v, _))| matches(v)).map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.truncate(NAMES_MAX);
        ids
    }
}

/// Companies, contacts and devices a desk has looked up: once they are known, a search takes
/// one Autotask round trip (the tickets); the others run side by side when needed.
#[derive(Debug)]
pub struct Lookups {
    /// How long a lookup is taken as current ([`LOOKUP_TTL`]; a simulated day shortens it).
    pub(super) kept: std::time::Duration,
    /// How long a search that matched no name is remembered ([`NAMELESS_TTL`]).
    nameless_kept: std::time::Duration,
    pub(super) companies: Cache<String>,
    pub(super) contacts: Cache<Contact>,
    pub(super) devices: Cache<Option<String>>,
    /// Searches that matched no company or contact by name, with when: typing on after one
    /// ("outl" → "outlook") can only match fewer, so it does not ask again.
    nameless: Mutex<Vec<(String, std::time::Instant)>>,
    /// How long a search answered in full answers the next ([`NARROWING_TTL`]).
    narrowing_kept: std::time::Duration,
    /// Each rep's last search that Autotask answered in full (by resource id; a worker serves
    /// a whole desk), for the searches they type on from it.
    answered: Mutex<HashMap<Option<i64>, Answered>>,
}

/// A search Autotask answered in full, and when.
#[derive(Debug)]
struct Answered {
    search: Search,
    tickets: Vec<Ticket>,
    at: std::time::Instant,
}

impl Default for Lookups {
    fn default() -> Self {
        Lookups::kept_for(LOOKUP_TTL)
    }
}

impl Lookups {
    /// Lookups taken as current for `kept`; a search that matched no name is remembered for the
    /// same share of it as [`NAMELESS_TTL`] is of [`LOOKUP_TTL`].
    pub fn kept_for(kept: std::time::Duration) -> Lookups {
        let share = kept.as_secs_f64() / LOOKUP_TTL.as_secs_f64();
        Lookups {
            kept,
            nameless_kept: NAMELESS_TTL.mul_f64(share),
            companies: Cache::default(),
            contacts: Cache::default(),
            devices: Cache::default(),
            nameless: Mutex::default(),
            narrowing_kept: NARROWING_TTL.mul_f64(share),
            answered: Mutex::default(),
        }
    }

    /// Remembers a rep's search by words or number that Autotask answered in full.
    pub(super) fn answered(&self, me: Option<i64>, search: &Search, found: &Found) {
        if !found.complete || !matches!(search, Search::Words(_) | Search::Number(_)) {
            return;
        }
        let mut answered = self.answered.lock().unwrap_or_else(|e| e.into_inner());
        answered.retain(|_, a| a.at.elapsed() < self.narrowing_kept);
        let at = std::time::Instant::now();
        answered.insert(me, Answered { search: search.clone(), tickets: found.tickets.clone(), at });
    }

    /// The tickets of a search the rep typed on from their last one that Autotask answered in
    /// full a moment ago: those of that answer this search matches, without asking again.
    /// None when there is no such answer, or a name it needs is not known here.
    pub(super) fn narrowed(&self, me: Option<i64>, search: &Search) -> Option<Vec<Ticket>> {
        let answered = self.answered.lock().unwrap_or_else(|e| e.into_inner());
        let earlier =
            answered.get(&me).filter(|a| a.at.elapsed() < self.narrowing_kept && search.narrows(&a.search))?;
        let mut tickets = Vec::new();
        for ticket in &earlier.tickets {
            if self.finds(search, ticket)? {
                tickets.push(ticket.clone());
            }
        }
        Some(tickets)
    }

    /// Whether Autotask finds `ticket` for `search`, told from the ticket and the names known
    /// here; none when its company or contact is not known.
    fn finds(&self, search: &Search, ticket: &Ticket) -> Option<bool> {
        match search {
            Search::Number(number) => {
                let numbered = ticket.ticket_number.as_deref().map(str::to_uppercase);
                Some(numbered.is_some_and(|n| n.starts_with(&number.to_uppercase())))
            }
            Search::Words(words) => self.finds_by_words(words, ticket),
            Search::Mine | Search::Digits(_) => None,
        }
    }

    fn finds_by_words(&self, words: &[String], ticket: &Ticket) -> Option<bool> {
        if name_has(ticket.title.as_deref().unwrap_or(""), words) {
            return Some(true);
        }
        if words.join(" ").chars().count() < NAME_MIN_CHARS || ticket.status == Some(TICKET_COMPLETE) {
            return Some(false);
        }
        let company = match ticket.company_id {
            Some(id) => name_has(&self.companies.get(id)?, words),
            None => false,
        };
        let contact = match ticket.contact_id {
            Some(id) => name_has(&full_name(&self.contacts.get(id)?), words),
            None => false,
        };
        Some(company || contact)
    }

    /// Companies and contacts already known whose name has every word.
    pub(super) fn known_names(&self, words: &[String]) -> Names {
        Names {
            companies: self.companies.ids_where(|name| name_has(name, words)),
            contacts: self.contacts.ids_where(|c| name_has(&full_name(c), words)),
        }
    }

    /// Companies and contacts whose name has the words, asked of Autotask side by side, and kept.
    pub(super) async fn find_names(
        &self,
        autotask: &AutotaskClient,
        words: &[String],
    ) -> Result<Names, autotask::Error> {
        let contains = |field: &str, word: &String| Filter::contains(field, word.clone());
        let companies = Filter::all_of(words.iter().map(|w| contains("companyName", w)));
        let contacts = match words {
            [one] => Filter::any_of([contains("firstName", one), contains("lastName", one)]),
            [first, .., last] => Filter::all_of([contains("firstName", first), contains("lastName", last)]),
            [] => return Ok(Names::default()),
        };
        let limit = NAMES_MAX as u32;
        let (companies, contacts) = (Query::new(companies).max_records(limit), Query::new(contacts).max_records(limit));
        let (companies, contacts) =
            futures::try_join!(autotask.query_page::<Company>(&companies), autotask.query_page::<Contact>(&contacts),)?;
        let companies: Vec<(i64, String)> =
            companies.items.into_iter().filter_map(|c| Some((c.id?, c.company_name.unwrap_or_default()))).collect();
        let contacts: Vec<(i64, Contact)> = contacts.items.into_iter().filter_map(|c| Some((c.id?, c))).collect();
        let names = Names {
            companies: companies.iter().map(|(id, _)| *id).collect(),
            contacts: contacts.iter().map(|(id, _)| *id).collect(),
        };
        self.companies.keep(companies);
        self.contacts.keep(contacts);
        Ok(names)
    }

    /// Whether an earlier search this one begins with matched no names (and is still fresh).
    pub(super) fn matched_no_names(&self, text: &str) -> bool {
        let mut nameless = self.nameless.lock().unwrap_or_else(|e| e.into_inner());
        nameless.retain(|(_, at)| at.elapsed() < self.nameless_kept);
        nameless.iter().any(|(earlier, _)| text.starts_with(earlier.as_str()))
    }

    pub(super) fn no_names_for(&self, text: String) {
        let mut nameless = self.nameless.lock().unwrap_or_else(|e| e.into_inner());
        if nameless.len() >= 500 {
            nameless.remove(0);
        }
        nameless.push((text, std::time::Instant::now()));
    }
}
