//! The desk's copy in the store's PostgreSQL database, one for every worker on it: a ticket a
//! look, a webhook's callout or a worker's own write brings in at one worker is found at every
//! other at once. Its words are a `tsvector` of the number, the title and the names (accents
//! taken off), matched as word starts (`outl` finds Outlook) through a GIN index — PostgreSQL's
//! counterpart of the file's FTS5 — and ranked as the file ranks them.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};

use super::{Assignment, Copied, CopyError, Kept, Names, ROWS, Unnamed};
use crate::autotask::TICKET_COMPLETE;
use crate::autotask::Ticket;
use crate::desk_api::TicketRow;
use crate::store::db::{Arg, DbError, Owned, Row, Sql, args};
use crate::store::{AsyncStore, Store, StoreError, StoreUrl};
use crate::ticket_search::Search;

/// A profile's copy in the store's database.
#[derive(Debug)]
pub struct SharedCopy {
    store: AsyncStore,
    profile: String,
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn time(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// A ticket's words, made again from its row and the names it has now.
const WORDS: &str = "to_tsvector('simple', unaccent(concat_ws(' ', t.number, t.title,
    (SELECT n.name FROM copy_names n WHERE n.profile = t.profile AND n.kind = 'company' AND n.id = t.company_id),
    (SELECT n.name FROM copy_names n WHERE n.profile = t.profile AND n.kind = 'contact' AND n.id = t.contact_id),
    (SELECT n.name FROM copy_names n WHERE n.profile = t.profile AND n.kind = 'device' AND n.id = t.device_id))))";

/// Keeps one ticket in one round trip: its row, with its words made from it and the names it has
/// now, written only where something changed (a look reaches back past the last one, and what it
/// finds unchanged is not written again); answers whether the copy held it, and its primary
/// resource before.
const KEEP: &str = "WITH old AS (
        SELECT assigned FROM copy_tickets WHERE profile = $1 AND id = $2 FOR UPDATE
    ), kept AS (
        INSERT INTO copy_tickets (profile, id, number, title, status, company_id, contact_id, device_id, assigned,
                                  last_activity, assigned_role, words)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, to_tsvector('simple', unaccent(concat_ws(' ', CAST($3 AS TEXT), CAST($4 AS TEXT),
            (SELECT n.name FROM copy_names n WHERE n.profile = $1 AND n.kind = 'company' AND n.id = $6),
            (SELECT n.name FROM copy_names n WHERE n.profile = $1 AND n.kind = 'contact' AND n.id = $7),
            (SELECT n.name FROM copy_names n WHERE n.profile = $1 AND n.kind = 'device' AND n.id = $8)))))
        ON CONFLICT (profile, id) DO UPDATE SET number = excluded.number, title = excluded.title,
            status = excluded.status, company_id = excluded.company_id, contact_id = excluded.contact_id,
            device_id = excluded.device_id, assigned = excluded.assigned, last_activity = excluded.last_activity,
            assigned_role = excluded.assigned_role, words = excluded.words
        WHERE (copy_tickets.number, copy_tickets.title, copy_tickets.status, copy_tickets.company_id,
               copy_tickets.contact_id, copy_tickets.device_id, copy_tickets.assigned, copy_tickets.last_activity,
               copy_tickets.assigned_role)
            IS DISTINCT FROM (excluded.number, excluded.title, excluded.status, excluded.company_id,
               excluded.contact_id, excluded.device_id, excluded.assigned, excluded.last_activity,
               excluded.assigned_role)
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM old), (SELECT assigned FROM old)";

const SELECT: &str = "SELECT t.id, t.number, t.title, t.status, t.last_activity, co.name, ct.name, ct.email, dv.name";
const JOIN: &str = "LEFT JOIN copy_names co ON co.profile = t.profile AND co.kind = 'company' AND co.id = t.company_id \
    LEFT JOIN copy_names ct ON ct.profile = t.profile AND ct.kind = 'contact' AND ct.id = t.contact_id \
    LEFT JOIN copy_names dv ON dv.profile = t.profile AND dv.kind = 'device' AND dv.id = t.device_id";

fn copied(r: &Row<'_>) -> Result<Copied, DbError> {
    Ok(Copied {
        row: TicketRow {
            id: r.get(0)?,
            number: r.get(1)?,
            title: r.get(2)?,
            status: String::new(),
            company: r.get::<Option<String>>(5)?.unwrap_or_default(),
            contact: r.get::<Option<String>>(6)?.unwrap_or_default(),
            contact_email: r.get(7)?,
            device: r.get::<Option<String>>(8)?.filter(|d| !d.is_empty()),
            last_activity: r.get::<Option<i64>>(4)?.and_then(time),
            recent: false,
            asked_autotask: false,
        },
        status: r.get(3)?,
    })
}

/// PostgreSQL's query for what the rep typed: each word a prefix, all of them needed; each is
/// quoted, so what was typed is never read as the query's own syntax.
fn ts_query(words: &[String]) -> Option<String> {
    let terms: Vec<String> = words
        .iter()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("'{}':*", w.replace('\\', "\\\\").replace('\'', "''")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" & "))
}

/// A statement's values, each bound as `$<n>` in the order they are added.
#[derive(Default)]
struct Args(Vec<Owned>);

impl Args {
    fn bind(&mut self, value: Owned) -> String {
        self.0.push(value);
        format!("${}", self.0.len())
    }

    fn int(&mut self, value: i64) -> String {
        self.bind(Owned::Int(value))
    }

    fn text(&mut self, value: String) -> String {
        self.bind(Owned::Text(value))
    }

    fn all(&self) -> Vec<&dyn Arg> {
        self.0.iter().map(|v| v as &dyn Arg).collect()
    }
}

impl SharedCopy {
    pub fn new(store: AsyncStore, profile: &str) -> SharedCopy {
        SharedCopy { store, profile: profile.to_owned() }
    }

    fn failed(&self, e: impl Into<StoreError>) -> CopyError {
        CopyError::at(format!("{} (profile {})", self.store.blocking().place(), self.profile), e.into().to_string())
    }

    /// Runs `f` on one of the store's connections.
    fn run<T>(&self, f: impl FnOnce(&mut crate::store::db::Conn) -> Result<T, DbError>) -> Result<T, CopyError> {
        f(&mut self.store.blocking().conn()).map_err(|e| self.failed(e))
    }

    pub(super) fn meta(&self, key: &str) -> Result<Option<DateTime<Utc>>, CopyError> {
        let at: Option<i64> = self.run(|c| {
            c.query_opt("SELECT value FROM copy_meta WHERE profile = $1 AND key = $2", args![self.profile, key], |r| {
                r.get(0)
            })
        })?;
        Ok(at.and_then(time))
    }

    pub(super) fn set_meta(&self, key: &str, at: DateTime<Utc>) -> Result<(), CopyError> {
        self.run(|c| {
            c.execute(
                "INSERT INTO copy_meta (profile, key, value) VALUES ($1, $2, $3)
                 ON CONFLICT (profile, key) DO UPDATE SET value = excluded.value",
                args![self.profile, key, millis(at)],
            )
        })?;
        Ok(())
    }

    /// How many tickets the copy holds.
    pub fn tickets(&self) -> Result<u64, CopyError> {
        let tickets: i64 = self.run(|c| {
            c.query_one("SELECT count(*) FROM copy_tickets WHERE profile = $1", args![self.profile], |r| r.get(0))
        })?;
        Ok(tickets.max(0) as u64)
    }

    pub fn unnamed(&self, tickets: &[Ticket]) -> Result<Unnamed, CopyError> {
        let missing = |kind: &str, ids: Vec<i64>| -> Result<Vec<i64>, CopyError> {
            let mut ids: Vec<i64> = ids;
            ids.sort_unstable();
            ids.dedup();
            let mut out = Vec::new();
            self.run(|c| {
                for id in ids {
                    let known = c.query_opt(
                        "SELECT 1 FROM copy_names WHERE profile = $1 AND kind = $2 AND id = $3",
                        args![self.profile, kind, id],
                        |r| r.get::<i64>(0),
                    )?;
                    if known.is_none() {
                        out.push(id);
                    }
                }
                Ok(())
            })?;
            Ok(out)
        };
        Ok(Unnamed {
            companies: missing("company", tickets.iter().filter_map(|t| t.company_id).collect())?,
            contacts: missing("contact", tickets.iter().filter_map(|t| t.contact_id).collect())?,
            devices: missing("device", tickets.iter().filter_map(|t| t.configuration_item_id).collect())?,
        })
    }

    /// In one transaction, in the order of the tickets' ids, so that two workers keeping the
    /// same tickets at once wait for each other rather than deadlock.
    pub fn keep(&self, tickets: &[Ticket], names: &Names) -> Result<HashMap<i64, Option<i64>>, CopyError> {
        let mut sorted: Vec<&Ticket> = tickets.iter().filter(|t| t.id.is_some()).collect();
        sorted.sort_by_key(|t| t.id);
        let profile = self.profile.as_str();
        self.run(|c| {
            let mut tx = c.transaction()?;
            keep_names(&mut tx, profile, names)?;
            let mut before = HashMap::new();
            for t in sorted {
                let Some(id) = t.id else { continue };
                let now = Kept::of(t);
                let (held, assigned): (bool, Option<i64>) = tx.query_one(
                    KEEP,
                    args![
                        profile,
                        id,
                        now.number,
                        now.title,
                        now.status,
                        now.company,
                        now.contact,
                        now.device,
                        now.assigned,
                        now.active,
                        now.role
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                if held {
                    before.insert(id, assigned);
                }
            }
            tx.commit()?;
            Ok(before)
        })
    }

    pub fn rename(&self, names: &Names) -> Result<usize, CopyError> {
        let profile = self.profile.as_str();
        let renamed = names
            .companies
            .iter()
            .map(|(id, n)| ("company", "company_id", *id, n.as_str(), None))
            .chain(names.contacts.iter().map(|(id, n, e)| ("contact", "contact_id", *id, n.as_str(), e.as_deref())))
            .chain(names.devices.iter().map(|(id, n)| ("device", "device_id", *id, n.as_str(), None)));
        self.run(|c| {
            let mut tx = c.transaction()?;
            let mut indexed = 0;
            for (kind, column, id, name, email) in renamed {
                let changed = tx.execute(
                    "UPDATE copy_names SET name = $4, email = $5 WHERE profile = $1 AND kind = $2 AND id = $3
                         AND (name IS DISTINCT FROM $4 OR email IS DISTINCT FROM $5)",
                    args![profile, kind, id, name, email],
                )?;
                if changed > 0 {
                    indexed += tx.execute(
                        &format!("UPDATE copy_tickets t SET words = {WORDS} WHERE t.profile = $1 AND t.{column} = $2"),
                        args![profile, id],
                    )?;
                }
            }
            tx.commit()?;
            Ok(indexed as usize)
        })
    }

    pub fn forget(&self, ids: &[i64]) -> Result<(), CopyError> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            for id in ids {
                tx.execute("DELETE FROM copy_tickets WHERE profile = $1 AND id = $2", args![self.profile, id])?;
            }
            tx.commit()
        })
    }

    pub fn prune(&self, before: DateTime<Utc>) -> Result<usize, CopyError> {
        let pruned = self.run(|c| {
            c.execute(
                "DELETE FROM copy_tickets WHERE profile = $1 AND status = $2 AND last_activity < $3",
                args![self.profile, TICKET_COMPLETE, millis(before)],
            )
        })?;
        Ok(pruned as usize)
    }

    /// The matches are ranked by id alone; only the rows shown are read whole.
    pub fn search(&self, search: &Search, me: Option<i64>, recent: &[i64]) -> Result<Vec<Copied>, CopyError> {
        let mut args = Args::default();
        let profile = args.text(self.profile.clone());
        let me = args.int(me.unwrap_or(-1));
        let (matching, exact) = match search {
            Search::Mine => {
                let ids = recent.iter().map(|id| args.int(*id)).collect::<Vec<_>>();
                let recent = if ids.is_empty() { String::new() } else { format!(" OR t.id IN ({})", ids.join(",")) };
                (
                    format!("((t.assigned = {me} AND t.status IS DISTINCT FROM {TICKET_COMPLETE}){recent})"),
                    "false".to_owned(),
                )
            }
            Search::Number(number) => {
                let start = args.text(format!("{}%", number.replace(['%', '_', '\\'], "").to_uppercase()));
                let whole = args.text(number.to_uppercase());
                (format!("t.number LIKE {start}"), format!("t.number = {whole}"))
            }
            Search::Digits(digits) => {
                let id = args.int(digits.parse::<i64>().unwrap_or(-1));
                let end = args.text(format!("%{digits}"));
                (format!("(t.id = {id} OR t.number LIKE {end})"), format!("t.id = {id}"))
            }
            Search::Words(words) => {
                let Some(query) = ts_query(words) else { return Ok(Vec::new()) };
                let query = args.text(query);
                (format!("t.words @@ to_tsquery('simple', unaccent({query}))"), "false".to_owned())
            }
        };
        let recent_rank = match recent {
            [] => "0".to_owned(),
            _ => {
                let whens: String =
                    recent.iter().enumerate().map(|(i, id)| format!(" WHEN {} THEN {i}", args.int(*id))).collect();
                format!("CASE t.id{whens} ELSE {} END", recent.len())
            }
        };
        let sql = format!(
            "{SELECT} FROM (SELECT t.id AS id, {exact} AS exact, {recent_rank} AS rank,
                    (t.assigned IS NOT DISTINCT FROM {me}) AS mine, t.last_activity AS active
                 FROM copy_tickets t WHERE t.profile = {profile} AND {matching}
                 ORDER BY exact DESC, rank, mine DESC, active DESC NULLS LAST LIMIT {ROWS}) AS pick
             JOIN copy_tickets t ON t.profile = {profile} AND t.id = pick.id {JOIN}
             ORDER BY pick.exact DESC, pick.rank, pick.mine DESC, pick.active DESC NULLS LAST"
        );
        self.run(|c| c.query(&sql, &args.all(), copied))
    }

    pub fn assignment(&self, id: i64) -> Result<Option<Assignment>, CopyError> {
        self.run(|c| {
            c.query_opt(
                "SELECT assigned, assigned_role FROM copy_tickets WHERE profile = $1 AND id = $2",
                args![self.profile, id],
                |r| Ok(Assignment { resource: r.get(0)?, role: r.get(1)? }),
            )
        })
    }

    pub fn touched(&self, id: i64, at: DateTime<Utc>) -> Result<(), CopyError> {
        self.run(|c| {
            c.execute(
                "UPDATE copy_tickets SET last_activity = $3
                 WHERE profile = $1 AND id = $2 AND (last_activity IS NULL OR last_activity < $3)",
                args![self.profile, id, millis(at)],
            )
        })?;
        Ok(())
    }

    pub fn get(&self, id: i64) -> Result<Option<Copied>, CopyError> {
        self.run(|c| {
            c.query_opt(
                &format!("{SELECT} FROM copy_tickets t {JOIN} WHERE t.profile = $1 AND t.id = $2"),
                args![self.profile, id],
                copied,
            )
        })
    }
}

fn keep_names(tx: &mut impl Sql, profile: &str, names: &Names) -> Result<(), DbError> {
    let all = names
        .companies
        .iter()
        .map(|(id, n)| ("company", *id, n.as_str(), None))
        .chain(names.contacts.iter().map(|(id, n, e)| ("contact", *id, n.as_str(), e.as_deref())))
        .chain(names.devices.iter().map(|(id, n)| ("device", *id, n.as_str(), None)));
    for (kind, id, name, email) in all {
        tx.execute(
            "INSERT INTO copy_names (profile, kind, id, name, email) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (profile, kind, id) DO UPDATE SET name = excluded.name, email = excluded.email",
            args![profile, kind, id, name, email],
        )?;
    }
    Ok(())
}

/// How current a profile's copy in the database at `url` is, as `check` says it: read without
/// making or changing anything.
pub fn describe(url: &StoreUrl, profile: &str) -> String {
    let read = Store::peek(url, |c| {
        if !c.query_one("SELECT to_regclass('copy_meta') IS NOT NULL", args![], |r| r.get::<bool>(0))? {
            return Ok(None);
        }
        let meta = |c: &mut crate::store::db::Conn, key: &str| {
            c.query_opt("SELECT value FROM copy_meta WHERE profile = $1 AND key = $2", args![profile, key], |r| {
                r.get::<i64>(0)
            })
        };
        let tickets: i64 =
            c.query_one("SELECT count(*) FROM copy_tickets WHERE profile = $1", args![profile], |r| r.get(0))?;
        Ok(Some((tickets, meta(c, "filled_at")?, meta(c, "current_as_of")?)))
    });
    match read {
        Ok(None) | Ok(Some((_, None, _))) => {
            "the desk's copy of the tickets (in the database, one for every worker) is not filled yet: \
             the worker that looks for the desk fills it"
                .to_owned()
        }
        Ok(Some((tickets, Some(_), current))) => super::file::said_current(tickets, current.and_then(time))
            .replace("the desk's copy holds", "the desk's copy (in the database, one for every worker) holds"),
        Err(e) => format!("the desk's copy of the tickets in the database cannot be read: {e}"),
    }
}
