//! Finding tickets as a rep types, wherever the search runs — in the tray app against Autotask,
//! or at the desk's worker for every rep: what was typed understood ([`Search`]), one Autotask
//! query for it (words also match company and contact names), and the rows filled in from what
//! has been looked up already ([`Lookups`]), so most searches take one round trip. The desk's
//! copy of the tickets answers the same [`Search`] from its own index
//! ([`crate::gateway::copy`]).

mod lookups;

use crate::autotask::{
    self, AutotaskClient, Company, ConfigurationItem, Contact, Filter, Query, TICKET_COMPLETE, Ticket,
};
use crate::desk_api::TicketRow;
pub use lookups::{LOOKUP_TTL, Lookups};

/// Most rows a search shows.
pub const SEARCH_LIMIT: u32 = 50;
/// How many of my last tickets an empty search offers first.
pub const RECENT: usize = 5;

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
                let open =
                    Filter::all_of([Filter::eq("assignedResourceID", me?), Filter::noteq("status", TICKET_COMPLETE)]);
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

/// Finds tickets for what the rep typed; `me` is their resource id (needed for "my open
/// tickets"), `recent` their last tickets (offered first by an empty search). Companies,
/// contacts and devices already known are taken from `lookups` (the app's own, or the desk's
/// at its worker).
pub async fn find(
    autotask: &AutotaskClient,
    text: &str,
    me: Option<i64>,
    recent: &[i64],
    lookups: &Lookups,
) -> Result<Vec<TicketRow>, autotask::Error> {
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
pub async fn listed(
    autotask: &AutotaskClient,
    mut tickets: Vec<Ticket>,
    recent: &[i64],
    lookups: &Lookups,
) -> Result<Vec<TicketRow>, autotask::Error> {
    let rank = |t: &Ticket| t.id.and_then(|id| recent.iter().position(|&r| r == id)).unwrap_or(RECENT);
    tickets.sort_by_key(|t| (rank(t), std::cmp::Reverse(t.last_activity_date)));
    tickets.truncate(SEARCH_LIMIT as usize);
    let mut rows = rows(autotask, tickets, lookups).await?;
    for row in &mut rows {
        row.recent = recent.contains(&row.id);
    }
    Ok(rows)
}

/// Words: tickets whose title has them all, and the open tickets of the companies and contacts
/// whose name has them all ("dynamo", "pat lee"). Names the desk already knows cost nothing —
/// one request in all; otherwise companies and contacts are looked up beside the title search,
/// and their open tickets asked next (then known, so the next search takes one request).
async fn by_words(autotask: &AutotaskClient, words: &[String], lookups: &Lookups) -> Result<Found, autotask::Error> {
    let titled = Filter::all_of(words.iter().map(|w| Filter::contains("title", w.clone())));
    let tickets = |filter: Filter| async move {
        let query = Query::new(filter).max_records(SEARCH_LIMIT);
        Ok::<_, autotask::Error>(Found::from(autotask.query_page::<Ticket>(&query).await?.items))
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
        (!whose.is_empty()).then(|| Filter::all_of([Filter::noteq("status", TICKET_COMPLETE), Filter::any_of(whose)]))
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

/// Fewest characters a search needs before it is also matched against company and contact
/// names (one or two letters would name half the customers).
const NAME_MIN_CHARS: usize = 3;
/// Most companies and contacts a search takes the tickets of.
const NAMES_MAX: usize = 20;

/// Fills in each ticket's company, contact, status label and device.
async fn rows(
    autotask: &AutotaskClient,
    tickets: Vec<Ticket>,
    lookups: &Lookups,
) -> Result<Vec<TicketRow>, autotask::Error> {
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
        autotask.fields::<Ticket>(),
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
