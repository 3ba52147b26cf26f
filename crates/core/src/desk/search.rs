//! Finding tickets as a rep types: what was typed understood ([`Search`]), one Autotask query for
//! it (words also match company and contact names), and the rows filled in from what the desk
//! has looked up already ([`Lookups`]), so most searches take one round trip.

use std::collections::HashMap;
use std::sync::Mutex;

use super::error::{COMPLETE, DeskError, RECENT, SEARCH_LIMIT};
use crate::autotask::{self, AutotaskClient, Company, ConfigurationItem, Contact, Filter, Query, Resource, Ticket};
use crate::desk_api::TicketRow;

/// What the rep typed, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// Nothing: my open tickets.
    Mine,
    /// A ticket number, whole or its beginning (`T20261124.0042`, `T20261124`).
    Number(String),
    /// Digits: a ticket id, or the end of a number.
    Digits(String),
    /// Words of the title, or of a company's or contact's name.
    Words(Vec<String>),
}

impl Search {
    pub fn parse(text: &str) -> Search {
        let text = text.trim();
        if text.is_empty() {
            return Search::Mine;
        }
        if text.chars().all(|c| c.is_ascii_digit()) {
            return Search::Digits(text.to_owned());
        }
        let looks_numbered = text.len() >= 2
            && text.starts_with(['T', 't'])
            && text[1..].chars().all(|c| c.is_ascii_digit() || c == '.')
            && text[1..].chars().next().is_some_and(|c| c.is_ascii_digit());
        if looks_numbered {
            return Search::Number(format!("T{}", &text[1..]));
        }
        Search::Words(text.split_whitespace().map(str::to_owned).collect())
    }

    /// The query for this search; "mine" also fetches the `recent` tickets, in the same request.
    fn query(&self, me: Option<i64>, recent: &[i64]) -> Option<Query> {
        let filter = match self {
            Search::Mine => {
                let open = Filter::all_of([Filter::eq("assignedResourceID", me?), Filter::noteq("status", COMPLETE)]);
                if recent.is_empty() { open } else { Filter::any_of([open, Filter::is_in("id", recent.to_vec())]) }
            }
            Search::Number(n) => Filter::begins_with("ticketNumber", n.clone()),
            Search::Digits(d) => {
                let mut any = vec![Filter::ends_with("ticketNumber", d.clone())];
                if let Ok(id) = d.parse::<i64>() {
                    any.push(Filter::eq("id", id));
                }
                Filter::any_of(any)
            }
            Search::Words(words) => Filter::all_of(words.iter().map(|w| Filter::contains("title", w.clone()))),
        };
        Some(Query::new(filter).max_records(SEARCH_LIMIT))
    }
}

impl Search {
    /// The same search with its words in lower case: Autotask's matching and the copy's ignore
    /// case, so "VPN" and "vpn" are one search.
    pub fn lowercase(&self) -> Search {
        match self {
            Search::Words(words) => Search::Words(words.iter().map(|w| w.to_lowercase()).collect()),
            other => other.clone(),
        }
    }

    /// Whether every ticket this search finds is among those `earlier` finds, this being typed
    /// on from it: more letters or more words ("dyna" → "dynamo", "pat" → "pat lee"), or more
    /// of a number.
    pub fn narrows(&self, earlier: &Search) -> bool {
        match (self, earlier) {
            (Search::Number(now), Search::Number(was)) => {
                now.len() > was.len() && now.to_uppercase().starts_with(&was.to_uppercase())
            }
            (Search::Words(words), Search::Words(was_words)) => {
                let (now, was) = (words.join(" ").to_lowercase(), was_words.join(" ").to_lowercase());
                let names_alike = was.chars().count() >= NAME_MIN_CHARS || now.chars().count() < NAME_MIN_CHARS;
                // A contact is matched by its first name and the last word, so a third word
                // matches last names the earlier search did not ask for.
                let contacts_alike = was_words.len() < 2 || words.len() == was_words.len();
                now.len() > was.len() && now.starts_with(&was) && names_alike && contacts_alike
            }
            _ => false,
        }
    }
}

/// The rep's own Autotask resource, by e-mail.
pub async fn my_resource_id(autotask: &AutotaskClient, email: &str) -> Result<i64, DeskError> {
    let query = Query::new(Filter::eq("email", email)).include_fields(["id"]).max_records(1);
    let page = autotask.query_page::<Resource>(&query).await?;
    page.items.into_iter().find_map(|r| r.id).ok_or_else(|| DeskError::UnknownRep(email.to_owned()))
}

/// Finds tickets; `me` is the rep's resource id (needed for "my open tickets").
pub async fn search(autotask: &AutotaskClient, text: &str, me: Option<i64>) -> Result<Vec<TicketRow>, DeskError> {
    search_with(autotask, text, me, &[], &Lookups::default()).await
}

/// Finds tickets, taking companies, contacts and devices already known from `lookups` (the
/// app's own, or the desk's at its worker).
pub(crate) async fn search_with(
    autotask: &AutotaskClient,
    text: &str,
    me: Option<i64>,
    recent: &[i64],
    lookups: &Lookups,
) -> Result<Vec<TicketRow>, DeskError> {
    let search = Search::parse(text);
    let recent = if search == Search::Mine { recent } else { &[] };
    if let Some(tickets) = lookups.narrowed(me, &search) {
        return listed(autotask, tickets, recent, lookups).await;
    }
    let found = match &search {
        Search::Words(words) => by_words(autotask, words, lookups).await?,
        _ => match search.query(me, recent) {
            Some(query) => Found::from(autotask.query_page::<Ticket>(&query).await?.items),
            None => return Ok(Vec::new()),
        },
    };
    lookups.answered(me, &search, &found);
    listed(autotask, found.tickets, recent, lookups).await
}

/// The tickets an Autotask search found, and whether that was all of them (no query of it
/// reached its limit), so that a search typed on from it can be answered from them.
#[derive(Debug)]
struct Found {
    tickets: Vec<Ticket>,
    complete: bool,
}

impl From<Vec<Ticket>> for Found {
    fn from(tickets: Vec<Ticket>) -> Found {
        let complete = tickets.len() < SEARCH_LIMIT as usize;
        Found { tickets, complete }
    }
}

/// Tickets as the list shows them: my last tickets first, the latest first; then by last
/// activity; at most [`SEARCH_LIMIT`], each with its company, contact and device.
pub(crate) async fn listed(
    autotask: &AutotaskClient,
    mut tickets: Vec<Ticket>,
    recent: &[i64],
    lookups: &Lookups,
) -> Result<Vec<TicketRow>, DeskError> {
    let rank = |t: &Ticket| t.id.and_then(|id| recent.iter().position(|&r| r == id)).unwrap_or(RECENT);
    tickets.sort_by_key(|t| (rank(t), std::cmp::Reverse(t.last_activity_date)));
    tickets.truncate(SEARCH_LIMIT as usize);
    let mut rows = rows(autotask, tickets, lookups).await?;
    for row in &mut rows {
        row.recent = recent.contains(&row.id);
    }
    Ok(rows)
}

/// Fewest characters a search needs before it is also matched against company and contact
/// names (one or two letters would name half the customers).
const NAME_MIN_CHARS: usize = 3;
/// Most companies and contacts a search takes the tickets of.
const NAMES_MAX: usize = 20;

/// Words: tickets whose title has them all, and the open tickets of the companies and contacts
/// whose name has them all ("dynamo", "pat lee"). Names the desk already knows cost nothing —
/// one request in all; otherwise companies and contacts are looked up beside the title search,
/// and their open tickets asked next (then known, so the next search takes one request).
async fn by_words(autotask: &AutotaskClient, words: &[String], lookups: &Lookups) -> Result<Found, DeskError> {
    let titled = Filter::all_of(words.iter().map(|w| Filter::contains("title", w.clone())));
    let tickets = |filter: Filter| async move {
        let query = Query::new(filter).max_records(SEARCH_LIMIT);
        Ok::<_, DeskError>(Found::from(autotask.query_page::<Ticket>(&query).await?.items))
    };
    let text = words.join(" ").to_lowercase();
    if text.chars().count() < NAME_MIN_CHARS {
        return tickets(titled).await;
    }
    let known = lookups.known_names(words);
    if let Some(theirs) = known.open_tickets() {
        let mut found = tickets(Filter::any_of([titled, theirs])).await?;
        found.complete &= !known.capped();
        return Ok(found);
    }
    if lookups.matched_no_names(&text) {
        return tickets(titled).await;
    }
    let (mut found, names) = futures::try_join!(tickets(titled), lookups.find_names(autotask, words))?;
    let Some(theirs) = names.open_tickets() else {
        lookups.no_names_for(text);
        return Ok(found);
    };
    let theirs = tickets(theirs).await?;
    found.complete &= theirs.complete && !names.capped();
    for ticket in theirs.tickets {
        if !found.tickets.iter().any(|t| t.id == ticket.id) {
            found.tickets.push(ticket);
        }
    }
    Ok(found)
}

/// Companies and contacts a search matched by name.
#[derive(Debug, Default)]
struct Names {
    companies: Vec<i64>,
    contacts: Vec<i64>,
}

impl Names {
    /// Their open tickets; none when nothing matched.
    fn open_tickets(&self) -> Option<Filter> {
        let mut whose = Vec::new();
        if !self.companies.is_empty() {
            whose.push(Filter::is_in("companyID", self.companies.clone()));
        }
        if !self.contacts.is_empty() {
            whose.push(Filter::is_in("contactID", self.contacts.clone()));
        }
        (!whose.is_empty()).then(|| Filter::all_of([Filter::noteq("status", COMPLETE), Filter::any_of(whose)]))
    }

    /// Whether as many matched as are taken: more may have.
    fn capped(&self) -> bool {
        self.companies.len() >= NAMES_MAX || self.contacts.len() >= NAMES_MAX
    }
}

/// Whether a name has every word of a search in it, in any case.
fn name_has(name: &str, words: &[String]) -> bool {
    let name = name.to_lowercase();
    words.iter().all(|w| name.contains(&w.to_lowercase()))
}

fn full_name(c: &Contact) -> String {
    format!("{} {}", c.first_name.as_deref().unwrap_or(""), c.last_name.as_deref().unwrap_or("")).trim().to_owned()
}

/// How long a looked-up company, contact or device is taken as current: names and devices
/// seldom change, and each rep's desk looking them up again every few minutes would cost a
/// 200-rep desk a fifth of Autotask's hourly threshold by itself (the desk benchmark).
pub(crate) const LOOKUP_TTL: std::time::Duration = std::time::Duration::from_secs(4 * 3600);
/// How long a search that matched no company or contact by name is remembered (a customer
/// added meanwhile is found by name after this long).
const NAMELESS_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// How long a rep's search that Autotask answered in full answers the searches they type on
/// from it ("dyna" → "dynamo"): time to finish typing; a ticket made meanwhile is found by
/// the rep's next search anew.
const NARROWING_TTL: std::time::Duration = std::time::Duration::from_secs(15);

/// Records looked up by id, kept for [`LOOKUP_TTL`].
#[derive(Debug)]
struct Cache<V>(Mutex<HashMap<i64, (V, std::time::Instant)>>);

impl<V> Default for Cache<V> {
    fn default() -> Self {
        Cache(Mutex::new(HashMap::new()))
    }
}

impl<V: Clone> Cache<V> {
    /// The records of `ids`: those known from the cache, the rest in one query.
    async fn fetch<E: autotask::Entity>(
        &self,
        autotask: &AutotaskClient,
        kept: std::time::Duration,
        ids: impl Iterator<Item = i64>,
        keep: impl Fn(E) -> Option<(i64, V)>,
    ) -> Result<HashMap<i64, V>, DeskError> {
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
        let query = Query::new(Filter::is_in("id", missing)).max_records(SEARCH_LIMIT);
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
    fn get(&self, id: i64) -> Option<V> {
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
    kept: std::time::Duration,
    /// How long a search that matched no name is remembered ([`NAMELESS_TTL`]).
    nameless_kept: std::time::Duration,
    companies: Cache<String>,
    contacts: Cache<Contact>,
    devices: Cache<Option<String>>,
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
    pub(crate) fn kept_for(kept: std::time::Duration) -> Lookups {
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
    fn answered(&self, me: Option<i64>, search: &Search, found: &Found) {
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
    fn narrowed(&self, me: Option<i64>, search: &Search) -> Option<Vec<Ticket>> {
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
        if words.join(" ").chars().count() < NAME_MIN_CHARS || ticket.status == Some(COMPLETE) {
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
    fn known_names(&self, words: &[String]) -> Names {
        Names {
            companies: self.companies.ids_where(|name| name_has(name, words)),
            contacts: self.contacts.ids_where(|c| name_has(&full_name(c), words)),
        }
    }

    /// Companies and contacts whose name has the words, asked of Autotask side by side, and kept.
    async fn find_names(&self, autotask: &AutotaskClient, words: &[String]) -> Result<Names, DeskError> {
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
    fn matched_no_names(&self, text: &str) -> bool {
        let mut nameless = self.nameless.lock().unwrap_or_else(|e| e.into_inner());
        nameless.retain(|(_, at)| at.elapsed() < self.nameless_kept);
        nameless.iter().any(|(earlier, _)| text.starts_with(earlier.as_str()))
    }

    fn no_names_for(&self, text: String) {
        let mut nameless = self.nameless.lock().unwrap_or_else(|e| e.into_inner());
        if nameless.len() >= 500 {
            nameless.remove(0);
        }
        nameless.push((text, std::time::Instant::now()));
    }
}

/// Fills in each ticket's company, contact, status label and device.
async fn rows(autotask: &AutotaskClient, tickets: Vec<Ticket>, lookups: &Lookups) -> Result<Vec<TicketRow>, DeskError> {
    let (companies, contacts, devices, fields) = futures::try_join!(
        lookups.companies.fetch(autotask, lookups.kept, tickets.iter().filter_map(|t| t.company_id), |c: Company| {
            Some((c.id?, c.company_name.unwrap_or_default()))
        }),
        lookups
            .contacts
            .fetch(autotask, lookups.kept, tickets.iter().filter_map(|t| t.contact_id), |c: Contact| Some((c.id?, c))),
        lookups.devices.fetch(
            autotask,
            lookups.kept,
            tickets.iter().filter_map(|t| t.configuration_item_id),
            |ci: ConfigurationItem| { Some((ci.id?, ci.device_name())) }
        ),
        async { autotask.fields::<Ticket>().await.map_err(DeskError::from) },
    )?;
    let statuses = fields.picklist("status");
    Ok(tickets
        .into_iter()
        .filter_map(|t| {
            let contact = t.contact_id.and_then(|id| contacts.get(&id));
            Some(TicketRow {
                id: t.id?,
                number: t.ticket_number.clone().unwrap_or_default(),
                title: t.title.clone().unwrap_or_default(),
                status: t
                    .status
                    .and_then(|s| statuses.and_then(|p| p.label_of(s).map(str::to_owned)))
                    .unwrap_or_default(),
                company: t.company_id.and_then(|id| companies.get(&id).cloned()).unwrap_or_default(),
                contact: contact
                    .map(|c| {
                        format!("{} {}", c.first_name.as_deref().unwrap_or(""), c.last_name.as_deref().unwrap_or(""))
                    })
                    .map(|n| n.trim().to_owned())
                    .unwrap_or_default(),
                contact_email: contact.and_then(|c| c.email_address.clone()),
                device: t.configuration_item_id.and_then(|id| devices.get(&id).cloned().flatten()),
                last_activity: t.last_activity_date,
                recent: false,
                asked_autotask: false,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_rep_typed_is_understood() {
        assert_eq!(Search::parse("  "), Search::Mine);
        assert_eq!(Search::parse("T20261124.0042"), Search::Number("T20261124.0042".into()));
        assert_eq!(Search::parse("t2026112"), Search::Number("T2026112".into()));
        assert_eq!(Search::parse("7201"), Search::Digits("7201".into()));
        assert_eq!(Search::parse("vpn  drops"), Search::Words(vec!["vpn".into(), "drops".into()]));
        assert_eq!(Search::parse("Teams camera"), Search::Words(vec!["Teams".into(), "camera".into()]));
        assert!(Search::Mine.query(None, &[]).is_none(), "my tickets need to know who I am");
    }

    #[test]
    fn only_typing_on_narrows_an_earlier_search() {
        let narrows = |now: &str, was: &str| Search::parse(now).narrows(&Search::parse(was));
        assert!(narrows("dynamo", "dyna") && narrows("Dynamo", "dyna") && narrows("pat lee", "pat"));
        assert!(narrows("pat lee", "pat le") && narrows("T20261124.0042", "T20261124.004"));
        assert!(!narrows("dyna", "dynamo"), "deleting letters widens");
        assert!(!narrows("dynamo", "dynamo"), "the same search again asks afresh");
        assert!(!narrows("dynamo", "dy"), "names are matched from three letters on: 'dy' did not ask for them");
        assert!(!narrows("pat lee ann", "pat lee"), "a third word moves the contact's last-name word");
        assert!(!narrows("pat lee", "lee"), "the same words in another order are another search");
        assert!(!narrows("72011", "7201"), "an id is not narrowed by more digits");
        assert!(!narrows("T2026 x", "T2026"), "a number is not narrowed by words");
    }
}
