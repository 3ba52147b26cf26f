//! Where the store meets its database engine: one SQLite file, or a PostgreSQL database shared by
//! several workers. The store's queries are written once, in the SQL both engines speak, with
//! PostgreSQL's numbered parameters (`$1`); for SQLite they become `?1` before preparing (SQLite
//! would otherwise bind `$1`-style names in order of first appearance, not by number). Values
//! cross as a handful of plain kinds — integer, real, text, bytes, null — read by the column's
//! type on each engine, so a query's Rust code does not depend on where it runs. The few places
//! the engines differ in SQL (row claims, physical row ids) ask [`Engine`].

use std::fmt;

use futures::executor::block_on;
use rusqlite::types::{ToSqlOutput, ValueRef};
use tokio_postgres::types::{IsNull, Type, to_sql_checked};

/// Which engine a connection is to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// As `/healthz` says it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgresql",
        }
    }

    /// The column that names a row physically, for deleting in batches from tables whose key has
    /// several columns.
    pub(super) fn row_id(self) -> &'static str {
        match self {
            Engine::Sqlite => "rowid",
            Engine::Postgres => "ctid",
        }
    }

    /// What a `SELECT` of rows the transaction then changes ends with: PostgreSQL locks them
    /// against another worker's change meanwhile; SQLite's write lock is already held.
    pub(super) fn lock_rows(self) -> &'static str {
        match self {
            Engine::Sqlite => "",
            Engine::Postgres => " FOR UPDATE",
        }
    }

    /// What a `SELECT … FROM jobs j` that claims rows ends with: PostgreSQL locks the rows it
    /// hands out and passes over those another worker's transaction holds; SQLite's write lock,
    /// taken at the transaction's start, already keeps every other writer out.
    pub(super) fn claim_rows(self, alias: &str) -> String {
        match self {
            Engine::Sqlite => String::new(),
            Engine::Postgres => format!(" FOR UPDATE OF {alias} SKIP LOCKED"),
        }
    }
}

/// A database error, as the engine said it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("column {column} holds {found}, where {wanted} was expected — the store's schema is not this version's")]
    Type { column: usize, found: &'static str, wanted: &'static str },
    #[error("a query that returns one row returned none")]
    NoRow,
}

/// PostgreSQL's own message with its detail: `tokio_postgres::Error`'s display says only "db error".
fn postgres_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.code().code(), db.message()),
            None => format!("{}: {}", db.code().code(), db.message()),
        },
        None => e.to_string(),
    }
}

/// A value as it crosses to or from either engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl Value<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
        }
    }
}

/// A value read without knowing its kind beforehand (copying a table), and sent back as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Owned {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Cell for Owned {
    const WANTED: &'static str = "any value";
    fn from_value(value: Value<'_>) -> Option<Self> {
        Some(match value {
            Value::Null => Owned::Null,
            Value::Int(i) => Owned::Int(i),
            Value::Real(r) => Owned::Real(r),
            Value::Text(t) => Owned::Text(t.to_owned()),
            Value::Bytes(b) => Owned::Bytes(b.to_vec()),
        })
    }
}

impl Arg for Owned {
    fn value(&self) -> Value<'_> {
        match self {
            Owned::Null => Value::Null,
            Owned::Int(i) => Value::Int(*i),
            Owned::Real(r) => Value::Real(*r),
            Owned::Text(t) => Value::Text(t),
            Owned::Bytes(b) => Value::Bytes(b),
        }
    }
}

/// What a query takes as a parameter.
pub trait Arg: fmt::Debug {
    fn value(&self) -> Value<'_>;
}

impl Arg for i64 {
    fn value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}
impl Arg for u32 {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}
impl Arg for bool {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}
impl Arg for str {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl Arg for String {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl Arg for [u8] {
    fn value(&self) -> Value<'_> {
        Value::Bytes(self)
    }
}
impl Arg for Vec<u8> {
    fn value(&self) -> Value<'_> {
        Value::Bytes(self)
    }
}
impl<const N: usize> Arg for [u8; N] {
    fn value(&self) -> Value<'_> {
        Value::Bytes(self)
    }
}
impl<T: Arg + ?Sized> Arg for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}
impl<T: Arg> Arg for Option<T> {
    fn value(&self) -> Value<'_> {
        self.as_ref().map_or(Value::Null, Arg::value)
    }
}

/// A query's parameters: `args![a, b]`.
macro_rules! args {
    () => { &[] as &[&dyn $crate::store::db::Arg] };
    ($($arg:expr),+ $(,)?) => { &[$(&$arg as &dyn $crate::store::db::Arg),+] as &[&dyn $crate::store::db::Arg] };
}
pub(crate) use args;

/// What a column is read as.
pub trait Cell: Sized {
    const WANTED: &'static str;
    fn from_value(value: Value<'_>) -> Option<Self>;
}

impl Cell for i64 {
    const WANTED: &'static str = "an integer";
    fn from_value(value: Value<'_>) -> Option<Self> {
        match value {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }
}
impl Cell for u32 {
    const WANTED: &'static str = "a count";
    fn from_value(value: Value<'_>) -> Option<Self> {
        i64::from_value(value).and_then(|i| u32::try_from(i).ok())
    }
}
impl Cell for bool {
    const WANTED: &'static str = "a yes or no";
    fn from_value(value: Value<'_>) -> Option<Self> {
        i64::from_value(value).map(|i| i != 0)
    }
}
impl Cell for String {
    const WANTED: &'static str = "text";
    fn from_value(value: Value<'_>) -> Option<Self> {
        match value {
            Value::Text(t) => Some(t.to_owned()),
            _ => None,
        }
    }
}
impl Cell for Vec<u8> {
    const WANTED: &'static str = "bytes";
    fn from_value(value: Value<'_>) -> Option<Self> {
        match value {
            Value::Bytes(b) => Some(b.to_vec()),
            _ => None,
        }
    }
}
impl<T: Cell> Cell for Option<T> {
    const WANTED: &'static str = T::WANTED;
    fn from_value(value: Value<'_>) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One row of a result, on either engine.
pub enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r tokio_postgres::Row),
}

impl Row<'_> {
    /// Column `i` (from 0) as a `T`.
    pub fn get<T: Cell>(&self, i: usize) -> Result<T, DbError> {
        let wrong = |found: Value<'_>| DbError::Type { column: i, found: found.kind(), wanted: T::WANTED };
        match self {
            Row::Sqlite(row) => {
                let value = match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::Int(i),
                    ValueRef::Real(r) => Value::Real(r),
                    ValueRef::Text(t) => Value::Text(std::str::from_utf8(t).map_err(|_| DbError::Type {
                        column: i,
                        found: "text that is not UTF-8",
                        wanted: T::WANTED,
                    })?),
                    ValueRef::Blob(b) => Value::Bytes(b),
                };
                T::from_value(value).ok_or_else(|| wrong(value))
            }
            Row::Postgres(row) => {
                let cell: PgCell<'_> = row.try_get(i)?;
                T::from_value(cell.0).ok_or_else(|| wrong(cell.0))
            }
        }
    }
}

/// A PostgreSQL column read by its type into a [`Value`].
struct PgCell<'a>(Value<'a>);

impl<'a> tokio_postgres::types::FromSql<'a> for PgCell<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let value = match *ty {
            Type::BOOL => Value::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::BYTEA => Value::Bytes(raw),
            // Text, and the text-like types (`citext` among them) whose binary form is UTF-8.
            _ => Value::Text(std::str::from_utf8(raw)?),
        };
        Ok(PgCell(value))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgCell(Value::Null))
    }

    fn accepts(ty: &Type) -> bool {
        !matches!(*ty, Type::NUMERIC | Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::DATE | Type::UUID | Type::JSONB)
    }
}

/// A parameter sent to PostgreSQL as the type the server inferred for it.
#[derive(Debug)]
struct PgArg<'a>(Value<'a>);

impl tokio_postgres::types::ToSql for PgArg<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self.0, ty) {
            (Value::Null, _) => return Ok(IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out)?,
            (Value::Int(i), &Type::INT4) => i32::try_from(i)?.to_sql(ty, out)?,
            (Value::Int(i), &Type::INT2) => i16::try_from(i)?.to_sql(ty, out)?,
            (Value::Int(i), &Type::BOOL) => (i != 0).to_sql(ty, out)?,
            (Value::Int(i), &Type::FLOAT8) => (i as f64).to_sql(ty, out)?,
            (Value::Real(r), &Type::FLOAT8) => r.to_sql(ty, out)?,
            (Value::Real(r), &Type::FLOAT4) => (r as f32).to_sql(ty, out)?,
            (Value::Bytes(b), &Type::BYTEA) => b.to_sql(ty, out)?,
            (Value::Text(t), _) if !matches!(*ty, Type::BYTEA | Type::INT2 | Type::INT4 | Type::INT8) => {
                out.extend_from_slice(t.as_bytes());
                IsNull::No
            }
            (Value::Int(i), _) if !matches!(*ty, Type::BYTEA) => {
                out.extend_from_slice(i.to_string().as_bytes());
                IsNull::No
            }
            (value, ty) => return Err(format!("{} cannot be sent as {}", value.kind(), ty.name()).into()),
        };
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(i),
            Value::Real(r) => ValueRef::Real(r),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Bytes(b) => ValueRef::Blob(b),
        }))
    }
}

/// `$1`, `$2`… as SQLite's `?1`, `?2`…, outside quoted text.
fn for_sqlite(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '$') if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('?');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// What a query runs on: SQLite's connection (a transaction derefs to one), or a PostgreSQL client
/// or transaction, with the connection's prepared statements.
pub enum Target<'a> {
    Sqlite(&'a rusqlite::Connection),
    Client(&'a tokio_postgres::Client, &'a mut Statements),
    Transaction(&'a tokio_postgres::Transaction<'a>, &'a mut Statements),
}

/// What both a connection and a transaction on it do.
pub trait Sql {
    fn engine(&self) -> Engine;

    /// Where the queries run.
    fn target(&mut self) -> Target<'_>;

    /// Runs a statement; how many rows it changed.
    fn execute(&mut self, sql: &str, args: &[&dyn Arg]) -> Result<u64, DbError> {
        match self.target() {
            Target::Sqlite(conn) => sqlite_execute(conn, sql, args),
            Target::Client(client, statements) => pg_execute(client, statements, sql, args),
            Target::Transaction(tx, statements) => pg_execute(tx, statements, sql, args),
        }
    }

    /// Runs a query, reading each row with `read`.
    fn query<T>(
        &mut self,
        sql: &str,
        args: &[&dyn Arg],
        read: impl FnMut(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        match self.target() {
            Target::Sqlite(conn) => sqlite_query(conn, sql, args, read),
            Target::Client(client, statements) => pg_query(client, statements, sql, args, read),
            Target::Transaction(tx, statements) => pg_query(tx, statements, sql, args, read),
        }
    }

    /// The first row of a query, if any.
    fn query_opt<T>(
        &mut self,
        sql: &str,
        args: &[&dyn Arg],
        read: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        match self.target() {
            Target::Sqlite(conn) => sqlite_first(conn, sql, args, read),
            Target::Client(client, statements) => pg_first(client, statements, sql, args, read),
            Target::Transaction(tx, statements) => pg_first(tx, statements, sql, args, read),
        }
    }

    /// The first row of a query that always returns one (an aggregate).
    fn query_one<T>(
        &mut self,
        sql: &str,
        args: &[&dyn Arg],
        read: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.query_opt(sql, args, read)?.ok_or(DbError::NoRow)
    }
}

fn sqlite_args<'a>(args: &'a [&'a dyn Arg]) -> Vec<Value<'a>> {
    args.iter().map(|a| a.value()).collect()
}

fn pg_args<'a>(args: &'a [&'a dyn Arg]) -> Vec<PgArg<'a>> {
    args.iter().map(|a| PgArg(a.value())).collect()
}

fn pg_refs<'a>(args: &'a [PgArg<'a>]) -> Vec<&'a (dyn tokio_postgres::types::ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn tokio_postgres::types::ToSql + Sync)).collect()
}

fn sqlite_execute(conn: &rusqlite::Connection, sql: &str, args: &[&dyn Arg]) -> Result<u64, DbError> {
    let mut statement = conn.prepare_cached(&for_sqlite(sql))?;
    let changed = statement.execute(rusqlite::params_from_iter(sqlite_args(args)))?;
    Ok(changed as u64)
}

fn sqlite_query<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    args: &[&dyn Arg],
    mut read: impl FnMut(&Row<'_>) -> Result<T, DbError>,
) -> Result<Vec<T>, DbError> {
    let mut statement = conn.prepare_cached(&for_sqlite(sql))?;
    let mut rows = statement.query(rusqlite::params_from_iter(sqlite_args(args)))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read(&Row::Sqlite(row))?);
    }
    Ok(out)
}

// The futures of `tokio_postgres`'s client only talk to its connection's task (which runs on
// [`background`]'s runtime) over channels, so they are waited for with a plain executor: the
// store's callers may be on any thread, inside a Tokio runtime or not.
fn pg_query<T>(
    client: &impl tokio_postgres::GenericClient,
    statements: &mut Statements,
    sql: &str,
    args: &[&dyn Arg],
    mut read: impl FnMut(&Row<'_>) -> Result<T, DbError>,
) -> Result<Vec<T>, DbError> {
    let statement = prepared(client, statements, sql)?;
    let values = pg_args(args);
    let rows = block_on(client.query(&statement, &pg_refs(&values)))?;
    rows.iter().map(|row| read(&Row::Postgres(row))).collect()
}

fn pg_execute(
    client: &impl tokio_postgres::GenericClient,
    statements: &mut Statements,
    sql: &str,
    args: &[&dyn Arg],
) -> Result<u64, DbError> {
    let statement = prepared(client, statements, sql)?;
    let values = pg_args(args);
    Ok(block_on(client.execute(&statement, &pg_refs(&values)))?)
}

/// A connection's prepared statements by their SQL: a query prepared once is then sent in one
/// round trip instead of two. The store's queries are a fixed set, so this stays small.
pub type Statements = std::collections::HashMap<String, tokio_postgres::Statement>;

fn prepared(
    client: &impl tokio_postgres::GenericClient,
    statements: &mut Statements,
    sql: &str,
) -> Result<tokio_postgres::Statement, DbError> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    let statement = block_on(client.prepare(sql))?;
    statements.insert(sql.to_owned(), statement.clone());
    Ok(statement)
}

/// A connection to PostgreSQL, with its prepared statements.
pub struct PgConn {
    pub(super) client: tokio_postgres::Client,
    statements: Statements,
}

impl PgConn {
    pub(super) fn new(client: tokio_postgres::Client) -> PgConn {
        PgConn { client, statements: Statements::new() }
    }
}

/// The runtime that drives every PostgreSQL connection's socket, on a thread of its own.
fn background() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("store-postgres")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("no thread for the store's PostgreSQL connections: {e}"))
    })
}

/// Connects with `config` over `tls`, the connection's task running on [`background`].
pub(super) fn connect_postgres<T>(config: tokio_postgres::Config, tls: T) -> Result<tokio_postgres::Client, String>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket> + Send + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as tokio_postgres::tls::TlsConnect<tokio_postgres::Socket>>::Future: Send,
{
    let (sender, receiver) = futures::channel::oneshot::channel();
    background().spawn(async move {
        match config.connect(tls).await {
            Ok((client, connection)) => {
                let _ = sender.send(Ok(client));
                // Ends when the client is dropped or the server goes; the client then says it is closed.
                let _ = connection.await;
            }
            Err(e) => {
                let _ = sender.send(Err(describe(&e)));
            }
        }
    });
    // The task always sends before it ends; a runtime shutting down is the only way it would not.
    block_on(receiver).unwrap_or_else(|_| Err("the process is stopping".to_owned()))
}

/// PostgreSQL's own words for why a connection failed (`tokio_postgres::Error` says only "db error").
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

/// An open connection to the store's database.
pub enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<PgConn>),
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Conn({:?})", self.engine())
    }
}

impl Conn {
    /// Begins a transaction; on SQLite it takes the write lock at once (IMMEDIATE), so one that
    /// reads before it writes waits its turn rather than failing to upgrade.
    pub fn transaction(&mut self) -> Result<Tx<'_>, DbError> {
        Ok(match self {
            Conn::Sqlite(conn) => Tx::Sqlite(conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?),
            Conn::Postgres(pg) => {
                let PgConn { client, statements } = &mut **pg;
                Tx::Postgres(block_on(client.transaction())?, statements)
            }
        })
    }

    /// Runs several statements with no parameters (a migration).
    pub fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(conn) => conn.execute_batch(sql)?,
            Conn::Postgres(pg) => block_on(pg.client.batch_execute(sql))?,
        }
        Ok(())
    }
}

impl Sql for Conn {
    fn engine(&self) -> Engine {
        match self {
            Conn::Sqlite(_) => Engine::Sqlite,
            Conn::Postgres(_) => Engine::Postgres,
        }
    }

    fn target(&mut self) -> Target<'_> {
        match self {
            Conn::Sqlite(conn) => Target::Sqlite(conn),
            Conn::Postgres(pg) => Target::Client(&pg.client, &mut pg.statements),
        }
    }
}

fn sqlite_first<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    args: &[&dyn Arg],
    read: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
) -> Result<Option<T>, DbError> {
    let mut statement = conn.prepare_cached(&for_sqlite(sql))?;
    let mut rows = statement.query(rusqlite::params_from_iter(sqlite_args(args)))?;
    rows.next()?.map(|row| read(&Row::Sqlite(row))).transpose()
}

fn pg_first<T>(
    client: &impl tokio_postgres::GenericClient,
    statements: &mut Statements,
    sql: &str,
    args: &[&dyn Arg],
    read: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
) -> Result<Option<T>, DbError> {
    let statement = prepared(client, statements, sql)?;
    let values = pg_args(args);
    let rows = block_on(client.query(&statement, &pg_refs(&values)))?;
    rows.first().map(|row| read(&Row::Postgres(row))).transpose()
}

/// A transaction: committed by [`Tx::commit`], rolled back when dropped without it.
pub enum Tx<'c> {
    Sqlite(rusqlite::Transaction<'c>),
    Postgres(tokio_postgres::Transaction<'c>, &'c mut Statements),
}

impl Tx<'_> {
    pub fn commit(self) -> Result<(), DbError> {
        match self {
            Tx::Sqlite(tx) => tx.commit()?,
            Tx::Postgres(tx, _) => block_on(tx.commit())?,
        }
        Ok(())
    }
}

impl Sql for Tx<'_> {
    fn engine(&self) -> Engine {
        match self {
            Tx::Sqlite(_) => Engine::Sqlite,
            Tx::Postgres(..) => Engine::Postgres,
        }
    }

    fn target(&mut self) -> Target<'_> {
        match self {
            Tx::Sqlite(tx) => Target::Sqlite(tx),
            Tx::Postgres(tx, statements) => Target::Transaction(tx, statements),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_sqlites_outside_quoted_text() {
        assert_eq!(for_sqlite("SELECT $1, '$2', \"$3\" WHERE a = $10"), "SELECT ?1, '$2', \"$3\" WHERE a = ?10");
        assert_eq!(for_sqlite("SELECT 'it''s $1' || $2"), "SELECT 'it''s $1' || ?2");
    }
}
