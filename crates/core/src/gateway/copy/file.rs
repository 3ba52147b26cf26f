//! The desk's copy on a SQLite file of its own beside the worker's store, with SQLite's FTS5 for
//! its words. It is written with `synchronous = NORMAL` (it holds nothing that is not in
//! Autotask, and a damaged file is only made again), apart from the jobs' store, so that filling
//! it never waits on a session's write or the other way round.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::{Assignment, Copied, CopyError, Kept, Names, ROWS, Unnamed};
use crate::autotask::TICKET_COMPLETE;
use crate::autotask::Ticket;
use crate::desk_api::TicketRow;
use crate::ticket_search::Search;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS tickets (
        id INTEGER PRIMARY KEY,
        number TEXT NOT NULL COLLATE NOCASE,
        title TEXT NOT NULL,
        status INTEGER,
        company_id INTEGER,
        contact_id INTEGER,
        device_id INTEGER,
        assigned INTEGER,
        last_activity INTEGER,
        assigned_role INTEGER
    );
    CREATE INDEX IF NOT EXISTS tickets_number ON tickets (number);
    CREATE INDEX IF NOT EXISTS tickets_assigned ON tickets (assigned, status);
    CREATE INDEX IF NOT EXISTS tickets_activity ON tickets (last_activity);
    CREATE TABLE IF NOT EXISTS names (
        kind TEXT NOT NULL,
        id INTEGER NOT NULL,
        name TEXT NOT NULL,
        email TEXT,
        PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;
    CREATE VIRTUAL TABLE IF NOT EXISTS words USING fts5(
        number, title, company, contact, device,
        content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
    );
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);";

/// The copy on its SQLite file: one connection writes, a few read (WAL lets searches run side by
/// side, and while a look writes).
#[derive(Debug)]
pub struct FileCopy {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    /// The reader to wait for when all are busy.
    next_reader: std::sync::atomic::AtomicUsize,
}

/// Connections that read.
const READERS: usize = 3;

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn time(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

impl FileCopy {
    /// Opens the copy, making it (empty) when there is none; one that cannot be read is made
    /// again, since everything in it comes from Autotask.
    pub fn open(path: &Path) -> Result<FileCopy, CopyError> {
        match Self::open_file(path) {
            Ok(copy) => Ok(copy),
            Err(e) => {
                tracing::warn!("{e}; it is made again from Autotask");
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.as_os_str().to_owned();
                    file.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(file));
                }
                Self::open_file(path)
            }
        }
    }

    fn open_file(path: &Path) -> Result<FileCopy, CopyError> {
        let failed = |e: rusqlite::Error| CopyError::at(path.display(), e.to_string());
        // The customers' tickets and contacts' e-mail addresses: readable by the worker's user
        // only (SQLite gives its WAL and shared-memory files the same permissions).
        #[cfg(unix)]
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            let made = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
            if let Err(e) = made {
                return Err(CopyError::at(path.display(), e.to_string()));
            }
        }
        let connect = || -> Result<Connection, rusqlite::Error> {
            let conn = Connection::open(path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            Ok(conn)
        };
        let writer = connect().map_err(failed)?;
        writer.execute_batch(SCHEMA).map_err(failed)?;
        // A copy made before a column was added is made again (it holds nothing but Autotask's).
        writer.query_row("SELECT count(assigned_role) FROM tickets", [], |r| r.get::<_, i64>(0)).map_err(failed)?;
        let readers = (0..READERS).map(|_| connect().map(Mutex::new)).collect::<Result<_, _>>().map_err(failed)?;
        Ok(FileCopy { path: path.to_owned(), writer: Mutex::new(writer), readers, next_reader: Default::default() })
    }

    fn failed(&self, e: rusqlite::Error) -> CopyError {
        CopyError::at(self.path.display(), e.to_string())
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A free reader, else the next in turn once it is free.
    fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        for reader in &self.readers {
            match reader.try_lock() {
                Ok(free) => return free,
                Err(std::sync::TryLockError::Poisoned(e)) => return e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        let turn = self.next_reader.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.readers.len();
        self.readers[turn].lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn meta(&self, key: &str) -> Result<Option<DateTime<Utc>>, CopyError> {
        let conn = self.reader();
        let at: Option<i64> = conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.failed(e))?;
        Ok(at.and_then(time))
    }

    pub(super) fn set_meta(&self, key: &str, at: DateTime<Utc>) -> Result<(), CopyError> {
        let conn = self.writer();
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", params![key, millis(at)])
            .map_err(|e| self.failed(e))?;
        Ok(())
    }

    /// How many tickets the copy holds.
    pub fn tickets(&self) -> Result<u64, CopyError> {
        let tickets: i64 =
            self.reader().query_row("SELECT count(*) FROM tickets", [], |r| r.get(0)).map_err(|e| self.failed(e))?;
        Ok(tickets.max(0) as u64)
    }

    /// Of the companies, contacts and devices these tickets name, those the copy has no name for.
    pub fn unnamed(&self, tickets: &[Ticket]) -> Result<Unnamed, CopyError> {
        let conn = self.reader();
        let mut known =
            conn.prepare_cached("SELECT 1 FROM names WHERE kind = ?1 AND id = ?2").map_err(|e| self.failed(e))?;
        let mut missing = |kind: &str, ids: &mut dyn Iterator<Item = i64>| -> Result<Vec<i64>, CopyError> {
            let mut out = Vec::new();
            let mut asked = HashSet::new();
            for id in ids {
                if asked.insert(id) && !known.exists(params![kind, id]).map_err(|e| self.failed(e))? {
                    out.push(id);
                }
            }
            Ok(out)
        };
        Ok(Unnamed {
            companies: missing("company", &mut tickets.iter().filter_map(|t| t.company_id))?,
            contacts: missing("contact", &mut tickets.iter().filter_map(|t| t.contact_id))?,
            devices: missing("device", &mut tickets.iter().filter_map(|t| t.configuration_item_id))?,
        })
    }

    /// Keeps tickets (whole, or as a look or a webhook brought them) with the names they need,
    /// in one transaction; returns the primary resource each ticket the copy already held had
    /// before.
    pub fn keep(&self, tickets: &[Ticket], names: &Names) -> Result<HashMap<i64, Option<i64>>, CopyError> {
        let mut conn = self.writer();
        let tx = conn.transaction().map_err(|e| self.failed(e))?;
        let before = keep_in(&tx, tickets, names).map_err(|e| self.failed(e))?;
        tx.commit().map_err(|e| self.failed(e))?;
        Ok(before)
    }

    /// Takes new names of companies, contacts and devices the copy names already (a renamed
    /// customer is found by its new name); returns how many tickets were indexed anew.
    pub fn rename(&self, names: &Names) -> Result<usize, CopyError> {
        let mut conn = self.writer();
        let tx = conn.transaction().map_err(|e| self.failed(e))?;
        let mut indexed = 0;
        let renamed = names
            .companies
            .iter()
            .map(|(id, n)| ("company", *id, n.as_str(), None))
            .chain(names.contacts.iter().map(|(id, n, e)| ("contact", *id, n.as_str(), e.as_deref())))
            .chain(names.devices.iter().map(|(id, n)| ("device", *id, n.as_str(), None)));
        for (kind, id, name, email) in renamed {
            indexed += rename_in(&tx, kind, id, name, email).map_err(|e| self.failed(e))?;
        }
        tx.commit().map_err(|e| self.failed(e))?;
        Ok(indexed)
    }

    /// Forgets tickets: deleted in Autotask.
    pub fn forget(&self, ids: &[i64]) -> Result<(), CopyError> {
        let mut conn = self.writer();
        let tx = conn.transaction().map_err(|e| self.failed(e))?;
        for id in ids {
            tx.execute("DELETE FROM tickets WHERE id = ?1", [id]).map_err(|e| self.failed(e))?;
            tx.execute("DELETE FROM words WHERE rowid = ?1", [id]).map_err(|e| self.failed(e))?;
        }
        tx.commit().map_err(|e| self.failed(e))
    }

    /// Forgets completed tickets whose last activity is before `before` (outside the copy's days);
    /// how many.
    pub fn prune(&self, before: DateTime<Utc>) -> Result<usize, CopyError> {
        let old: Vec<i64> = {
            let conn = self.reader();
            let mut stmt = conn
                .prepare("SELECT id FROM tickets WHERE status = ?1 AND last_activity < ?2")
                .map_err(|e| self.failed(e))?;
            let ids =
                stmt.query_map(params![TICKET_COMPLETE, millis(before)], |r| r.get(0)).map_err(|e| self.failed(e))?;
            ids.collect::<Result<_, _>>().map_err(|e| self.failed(e))?
        };
        self.forget(&old)?;
        Ok(old.len())
    }

    /// What `search` finds in the copy, ranked: an exact number or id first, then my last
    /// tickets, then mine, then by last activity. "Mine" is my open tickets and my last ones.
    /// The matches are ranked by id alone; only the rows shown are read whole.
    pub fn search(&self, search: &Search, me: Option<i64>, recent: &[i64]) -> Result<Vec<Copied>, CopyError> {
        let mut args = Args::default();
        let me = args.bind(me.unwrap_or(-1));
        let (from, matching, exact) = match search {
            Search::Mine => {
                let ids = recent.iter().map(|id| args.bind(*id)).collect::<Vec<_>>().join(",");
                (
                    "tickets t",
                    format!("(t.assigned = {me} AND t.status IS NOT {TICKET_COMPLETE}) OR t.id IN ({ids})"),
                    "0".to_owned(),
                )
            }
            Search::Number(number) => {
                let start = args.bind(format!("{}%", number.replace(['%', '_'], "")));
                let whole = args.bind(number.to_uppercase());
                ("tickets t", format!("t.number LIKE {start}"), format!("t.number = {whole}"))
            }
            Search::Digits(digits) => {
                let id = args.bind(digits.parse::<i64>().unwrap_or(-1));
                let end = args.bind(format!("%{digits}"));
                ("tickets t", format!("t.id = {id} OR t.number LIKE {end}"), format!("t.id = {id}"))
            }
            Search::Words(words) => {
                let Some(expression) = match_expression(words) else { return Ok(Vec::new()) };
                let expression = args.bind(expression);
                ("words JOIN tickets t ON t.id = words.rowid", format!("words MATCH {expression}"), "0".to_owned())
            }
        };
        let recent_rank = match recent {
            [] => "0".to_owned(),
            _ => {
                let whens: String =
                    recent.iter().enumerate().map(|(i, id)| format!(" WHEN {} THEN {i}", args.bind(*id))).collect();
                format!("CASE t.id{whens} ELSE {} END", recent.len())
            }
        };
        let sql = format!(
            "{SELECT} FROM (SELECT t.id AS id, {exact} AS exact, {recent_rank} AS rank, (t.assigned IS {me}) AS mine,
                    t.last_activity AS active
                 FROM {from} WHERE {matching}
                 ORDER BY exact DESC, rank, mine DESC, active DESC LIMIT {ROWS}) AS pick
             JOIN tickets t ON t.id = pick.id {JOIN}
             ORDER BY pick.exact DESC, pick.rank, pick.mine DESC, pick.active DESC"
        );
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(&sql).map_err(|e| self.failed(e))?;
        let rows = stmt.query_map(params_from_iter(args.0), copied).map_err(|e| self.failed(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.failed(e))
    }

    /// A ticket's primary resource and their role on it, when the copy holds the ticket.
    pub fn assignment(&self, id: i64) -> Result<Option<Assignment>, CopyError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached("SELECT assigned, assigned_role FROM tickets WHERE id = ?1")
            .map_err(|e| self.failed(e))?;
        let read = |r: &rusqlite::Row<'_>| Ok(Assignment { resource: r.get(0)?, role: r.get(1)? });
        stmt.query_row([id], read).optional().map_err(|e| self.failed(e))
    }

    /// A ticket's last activity moved on to `at` (the worker wrote a note to it), where the copy
    /// holds the ticket with an older one: its row shows it, and sorts by it, before the look.
    pub fn touched(&self, id: i64, at: DateTime<Utc>) -> Result<(), CopyError> {
        let conn = self.writer();
        conn.execute(
            "UPDATE tickets SET last_activity = ?2 WHERE id = ?1 AND (last_activity IS NULL OR last_activity < ?2)",
            params![id, millis(at)],
        )
        .map_err(|e| self.failed(e))?;
        Ok(())
    }

    /// One ticket, by id.
    pub fn get(&self, id: i64) -> Result<Option<Copied>, CopyError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!("{SELECT} FROM tickets t {JOIN} WHERE t.id = ?1"))
            .map_err(|e| self.failed(e))?;
        stmt.query_row([id], copied).optional().map_err(|e| self.failed(e))
    }
}

/// The copy's file for a profile: its name kept to what every file system takes, with a short
/// hash of the whole name so that two names alike there never share a file.
pub fn file_of(dir: &Path, profile: &str) -> PathBuf {
    use sha2::Digest;
    let plain: String = profile.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).take(40).collect();
    let hash = sha2::Sha256::digest(profile.as_bytes());
    dir.join(format!("ticket-copy-{plain}-{:02x}{:02x}{:02x}{:02x}.sqlite3", hash[0], hash[1], hash[2], hash[3]))
}

/// How current a profile's copy is, as `check` says it: read from its file without making or
/// changing it (`check` may run as another user than the worker).
pub fn describe(dir: &Path, profile: &str) -> String {
    let path = file_of(dir, profile);
    if !path.exists() {
        return "the desk's copy of the tickets is not made yet: the worker fills it at its first look".to_owned();
    }
    let read = || -> rusqlite::Result<(i64, Option<i64>, Option<i64>)> {
        let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let meta = |key: &str| conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional();
        let tickets = conn.query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))?;
        Ok((tickets, meta("filled_at")?, meta("current_as_of")?))
    };
    match read() {
        Ok((_, None, _)) => "the desk's copy of the tickets is being filled".to_owned(),
        Ok((tickets, Some(_), current)) => said_current(tickets, current.and_then(time)),
        Err(e) => format!(
            "the desk's copy of the tickets at {} cannot be read ({e}); the worker makes it again",
            path.display()
        ),
    }
}

/// How many tickets a filled copy holds and how current it is, as `check` says it.
pub(super) fn said_current(tickets: i64, current: Option<DateTime<Utc>>) -> String {
    match current {
        Some(at) => format!(
            "the desk's copy holds {tickets} ticket(s), current as of {} ({} s ago)",
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            (Utc::now() - at).num_seconds().max(0)
        ),
        None => format!("the desk's copy holds {tickets} ticket(s)"),
    }
}

/// A statement's values, each bound as `?<n>` in the order they are added.
#[derive(Default)]
struct Args(Vec<rusqlite::types::Value>);

impl Args {
    fn bind(&mut self, value: impl Into<rusqlite::types::Value>) -> String {
        self.0.push(value.into());
        format!("?{}", self.0.len())
    }
}

const SELECT: &str = "SELECT t.id, t.number, t.title, t.status, t.last_activity, \
    co.name, ct.name, ct.email, dv.name";
const JOIN: &str = "LEFT JOIN names co ON co.kind = 'company' AND co.id = t.company_id \
    LEFT JOIN names ct ON ct.kind = 'contact' AND ct.id = t.contact_id \
    LEFT JOIN names dv ON dv.kind = 'device' AND dv.id = t.device_id";

fn copied(r: &rusqlite::Row<'_>) -> rusqlite::Result<Copied> {
    Ok(Copied {
        row: TicketRow {
            id: r.get(0)?,
            number: r.get(1)?,
            title: r.get(2)?,
            status: String::new(),
            company: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
            contact: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
            contact_email: r.get(7)?,
            device: r.get::<_, Option<String>>(8)?.filter(|d| !d.is_empty()),
            last_activity: r.get::<_, Option<i64>>(4)?.and_then(time),
            recent: false,
            asked_autotask: false,
        },
        status: r.get(3)?,
    })
}

/// FTS5's words for what the rep typed: each word a prefix ("outl" finds Outlook), all of them
/// needed. Quotes keep what was typed from being read as FTS5's own syntax.
fn match_expression(words: &[String]) -> Option<String> {
    let terms: Vec<String> = words
        .iter()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

fn keep_in(
    tx: &rusqlite::Transaction<'_>,
    tickets: &[Ticket],
    names: &Names,
) -> rusqlite::Result<HashMap<i64, Option<i64>>> {
    let mut name = tx.prepare_cached("INSERT OR REPLACE INTO names (kind, id, name, email) VALUES (?1, ?2, ?3, ?4)")?;
    for (id, n) in &names.companies {
        name.execute(params!["company", id, n, None::<String>])?;
    }
    for (id, n, email) in &names.contacts {
        name.execute(params!["contact", id, n, email])?;
    }
    for (id, n) in &names.devices {
        name.execute(params!["device", id, n, None::<String>])?;
    }
    let mut was = tx.prepare_cached(
        "SELECT number, title, status, company_id, contact_id, device_id, assigned, last_activity, assigned_role \
         FROM tickets WHERE id = ?1",
    )?;
    let mut ticket = tx.prepare_cached(
        "INSERT OR REPLACE INTO tickets (id, number, title, status, company_id, contact_id, device_id, assigned, last_activity, assigned_role)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut before = HashMap::new();
    for t in tickets {
        let Some(id) = t.id else { continue };
        let now = Kept::of(t);
        let then = was.query_row([id], Kept::read).optional()?;
        if let Some(then) = &then {
            before.insert(id, then.assigned);
        }
        // A look reaches back past the last one: what it finds unchanged is not written again.
        if then.as_ref() == Some(&now) {
            continue;
        }
        ticket.execute(params![
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
        ])?;
        index(tx, id)?;
    }
    Ok(before)
}

impl Kept {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Kept> {
        Ok(Kept {
            number: r.get(0)?,
            title: r.get(1)?,
            status: r.get(2)?,
            company: r.get(3)?,
            contact: r.get(4)?,
            device: r.get(5)?,
            assigned: r.get(6)?,
            active: r.get(7)?,
            role: r.get(8)?,
        })
    }
}

/// Indexes a copied ticket's words anew: its number, title and the names it has now.
fn index(tx: &rusqlite::Transaction<'_>, id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM words WHERE rowid = ?1")?.execute([id])?;
    let sql = format!(
        "INSERT INTO words (rowid, number, title, company, contact, device)
         SELECT t.id, t.number, t.title, co.name, ct.name, dv.name FROM tickets t {JOIN} WHERE t.id = ?1"
    );
    tx.prepare_cached(&sql)?.execute([id])?;
    Ok(())
}

/// Renames what the copy names already, and indexes the tickets that name it anew; how many.
fn rename_in(
    tx: &rusqlite::Transaction<'_>,
    kind: &str,
    id: i64,
    name: &str,
    email: Option<&str>,
) -> rusqlite::Result<usize> {
    let column = match kind {
        "company" => "company_id",
        "contact" => "contact_id",
        _ => "device_id",
    };
    let changed = tx
        .prepare_cached("UPDATE names SET name = ?3, email = ?4 WHERE kind = ?1 AND id = ?2 AND (name IS NOT ?3 OR email IS NOT ?4)")?
        .execute(params![kind, id, name, email])?;
    if changed == 0 {
        return Ok(0);
    }
    let tickets: Vec<i64> = tx
        .prepare_cached(&format!("SELECT id FROM tickets WHERE {column} = ?1"))?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for ticket in &tickets {
        index(tx, *ticket)?;
    }
    Ok(tickets.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::copy::tests::{names, ticket};

    #[cfg(unix)]
    #[test]
    fn only_the_workers_user_may_read_the_copy() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy.sqlite3");
        let copy = super::super::TicketCopy::File(FileCopy::open(&path).unwrap());
        copy.keep(&[ticket(1, "T20261124.0001", "VPN drops", None, 1, 1)], &names()).unwrap();
        for suffix in ["", "-wal"] {
            let file = dir.path().join(format!("copy.sqlite3{suffix}"));
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }

    #[test]
    fn check_says_how_current_the_copy_is_without_making_one() {
        let dir = tempfile::tempdir().unwrap();
        assert!(describe(dir.path(), "Desk").contains("not made yet"));
        assert!(!file_of(dir.path(), "Desk").exists(), "check makes no copy");
        let copy = super::super::TicketCopy::File(FileCopy::open(&file_of(dir.path(), "Desk")).unwrap());
        assert!(describe(dir.path(), "Desk").contains("being filled"));
        copy.keep(&[ticket(1, "T20261124.0001", "VPN drops", None, 1, 1)], &names()).unwrap();
        copy.current_as_of(Utc::now() - chrono::Duration::seconds(30)).unwrap();
        copy.filled(Utc::now()).unwrap();
        let said = describe(dir.path(), "Desk");
        assert!(
            said.starts_with("the desk's copy holds 1 ticket(s), current as of ") && said.ends_with(" s ago)"),
            "{said}"
        );
        assert_ne!(file_of(dir.path(), "Desk"), file_of(dir.path(), "Desk 2"));
        assert_ne!(
            file_of(dir.path(), "a/b"),
            file_of(dir.path(), "a_b"),
            "names alike on disk get files of their own"
        );
    }

    #[test]
    fn a_damaged_file_is_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy.sqlite3");
        std::fs::write(&path, b"not a database at all, only some bytes that are no SQLite header").unwrap();
        let copy = super::super::TicketCopy::File(FileCopy::open(&path).unwrap());
        assert_eq!(copy.freshness().unwrap().tickets, 0);
        assert_eq!(copy.filled_at().unwrap(), None);
    }

    #[test]
    fn a_copy_from_before_the_role_was_kept_is_made_again_and_then_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy.sqlite3");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(&SCHEMA.replace(",\n        assigned_role INTEGER", "")).unwrap();
        old.execute("INSERT INTO meta (key, value) VALUES ('filled_at', 1)", []).unwrap();
        drop(old);
        let copy = super::super::TicketCopy::File(FileCopy::open(&path).unwrap());
        assert_eq!(copy.filled_at().unwrap(), None, "to be filled again");
        let mut t = ticket(7, "T20261203.0001", "New laptop", Some(4), 1, 5);
        t.assigned_resource_role_id = Some(29683462);
        copy.keep(&[t], &Names::default()).unwrap();
        assert_eq!(copy.assignment(7).unwrap(), Some(Assignment { resource: Some(4), role: Some(29683462) }));
        assert_eq!(copy.assignment(8).unwrap(), None);
    }
}
