//! Who may use the console: admins with an Argon2-hashed password, and the sessions they log in
//! to — a random token in an HttpOnly, SameSite=Strict cookie (Secure over HTTPS), kept in the
//! store only as its keyed hash (so a restarted worker logs no one out), ending as [`ENDS`] says
//! and when the admin's password changes or the admin is removed — each with a CSRF token, made
//! from the session's token with the store's key, that its pages send back on every change.
//! Logins are limited before any password is checked ([`LoginLimits`]): Argon2 costs memory and
//! time, so guessing must not cost the worker more than the guesser.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::store::{AsyncStore, ConsoleAdmin, ConsoleSession, SessionEnds, StoreError};

/// A console session ends after 30 minutes without a request, and 12 hours after its login, used
/// or not.
pub const ENDS: SessionEnds =
    SessionEnds { idle: chrono::Duration::minutes(30), lifetime: chrono::Duration::hours(12) };
/// Logins from one address for one name: this many at once, then one more every [`LOGIN_EVERY`].
pub const LOGINS_AT_ONCE: u32 = 5;
pub const LOGIN_EVERY: Duration = Duration::from_secs(60);
/// The shortest password `console add-admin` takes.
pub const SHORTEST_PASSWORD: usize = 12;
/// The session cookie's name.
pub const COOKIE: &str = "bta_console";

/// An Argon2id hash of `password` with a fresh salt, in the PHC string form.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `password` is the one `hash` was made from (Argon2 compares in constant time).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash no password matches, verified against when the name is unknown so that a wrong name
/// takes as long to refuse as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// 32 random bytes, URL-safe.
fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// What a session holds of its admin's password: the hash's digest, which changes with every new
/// password (each has its own salt). A session whose admin's differs has ended.
pub fn credential(password_hash: &str) -> [u8; 32] {
    digest(password_hash)
}

/// A logged-in admin.
#[derive(Debug, Clone)]
pub struct Session {
    pub admin: String,
    pub csrf: String,
}

/// Opens a session for `admin`: its cookie token and the session.
pub async fn open_session(store: &AsyncStore, admin: &ConsoleAdmin) -> Result<(String, Session), StoreError> {
    let token = random_token();
    let (t, id, credential) = (token.clone(), admin.id, credential(&admin.password_hash));
    let csrf = store.run(move |s| s.open_console_session(&t, id, &credential, ENDS, Utc::now())).await?;
    Ok((token, Session { admin: admin.name.clone(), csrf }))
}

/// The session `token` opens, if it has not ended — by time, by a new password for its admin,
/// or by the admin's removal (an id is never given again); counts as a use.
pub async fn find_session(store: &AsyncStore, token: &str) -> Result<Option<Session>, StoreError> {
    let token = token.to_owned();
    store
        .run(move |s| {
            let Some(session) = s.console_session(&token, ENDS, Utc::now())? else { return Ok(None) };
            let admin = s.console_admin_by_id(session.admin_id)?;
            match admin.filter(|a| still_for(&session, a)) {
                Some(admin) => Ok(Some(Session { admin: admin.name, csrf: session.csrf })),
                None => {
                    s.close_console_session(&token)?;
                    Ok(None)
                }
            }
        })
        .await
}

/// Ends the session `token` opens.
pub async fn close_session(store: &AsyncStore, token: &str) -> Result<(), StoreError> {
    let token = token.to_owned();
    store.run(move |s| s.close_console_session(&token)).await
}

/// Whether the admin a session was opened for still has the password it was opened with.
fn still_for(session: &ConsoleSession, admin: &ConsoleAdmin) -> bool {
    use subtle::ConstantTimeEq;
    admin.id == session.admin_id && bool::from(credential(&admin.password_hash).ct_eq(&session.credential))
}

/// Why a login was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotChecked {
    /// This address tried this name too often: wait this long.
    Slowed(crate::serve::limit::Wait),
    /// As many passwords as the machine has cores are being checked now.
    Busy,
}

/// How many logins are checked: per address and name an allowance, taken before the password is
/// checked (so N guesses at once count as N), and at most one check per core at once.
#[derive(Debug)]
pub struct LoginLimits {
    attempts: crate::serve::limit::Keyed<(std::net::IpAddr, String)>,
    checks: std::sync::Arc<tokio::sync::Semaphore>,
}

/// Most (address, name) pairs remembered.
const LOGIN_KEYS: usize = 10_000;

impl Default for LoginLimits {
    fn default() -> LoginLimits {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let quota = crate::serve::limit::allowance(LOGINS_AT_ONCE, LOGIN_EVERY);
        let overflow = (std::net::IpAddr::from([0, 0, 0, 0]), String::new());
        LoginLimits {
            attempts: crate::serve::limit::Keyed::new(quota, LOGIN_KEYS, overflow),
            checks: std::sync::Arc::new(tokio::sync::Semaphore::new(cores)),
        }
    }
}

impl LoginLimits {
    /// Leave to check one password for `name` from `address`, held while it is checked.
    pub fn admit(
        &self,
        address: std::net::IpAddr,
        name: &str,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, NotChecked> {
        let name: String = name.trim().to_lowercase().chars().take(64).collect();
        self.attempts.take(&(crate::serve::limit::client_key(address), name)).map_err(NotChecked::Slowed)?;
        self.checks.clone().try_acquire_owned().map_err(|_| NotChecked::Busy)
    }
}

/// Whether two secrets are equal, compared in constant time.
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_counted_before_checking_and_limited_per_address_and_name() {
        let limits = LoginLimits::default();
        let (guesser, colleague) = ("192.0.2.7".parse().unwrap(), "192.0.2.8".parse().unwrap());
        for _ in 0..LOGINS_AT_ONCE {
            drop(limits.admit(guesser, "dana").unwrap());
        }
        assert!(matches!(limits.admit(guesser, " DANA "), Err(NotChecked::Slowed(_))), "the same name, any case");
        assert!(limits.admit(guesser, "sam").is_ok(), "another admin's login from that address");
        assert!(limits.admit(colleague, "dana").is_ok(), "dana from another address");
    }

    #[test]
    fn a_password_matches_only_its_own_hash() {
        let hash = hash_password("correct horse battery").unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
        assert!(!verify_password("anything", decoy_hash()));
        assert!(!verify_password("anything", "not a hash"));
        assert_ne!(hash, hash_password("correct horse battery").unwrap_or_default(), "salted");
    }

    #[tokio::test]
    async fn a_session_is_found_by_its_token_until_closed_or_its_admin_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = AsyncStore::new(crate::store::Store::open(&dir.path().join("store.sqlite3")).unwrap());
        let add = |name: &'static str, hash: &'static str| {
            store.run(move |s| {
                s.set_console_admin(name, hash, Utc::now())?;
                Ok(s.console_admin(name)?.unwrap())
            })
        };
        let dana = add("dana", "$argon2id$a").await.unwrap();
        let (token, session) = open_session(&store, &dana).await.unwrap();
        let found = find_session(&store, &token).await.unwrap().unwrap();
        assert_eq!((found.admin.as_str(), found.csrf.as_str()), ("dana", session.csrf.as_str()));
        assert!(!session.csrf.is_empty() && session.csrf != token);
        assert!(find_session(&store, "another token").await.unwrap().is_none());
        let (other, other_session) = open_session(&store, &dana).await.unwrap();
        assert_ne!(other_session.csrf, session.csrf, "each session its own CSRF token");
        close_session(&store, &other).await.unwrap();
        assert!(find_session(&store, &other).await.unwrap().is_none(), "closed");

        add("dana", "$argon2id$b").await.unwrap();
        assert!(find_session(&store, &token).await.unwrap().is_none(), "a new password ends it");
        let dana = add("dana", "$argon2id$b").await.unwrap();
        let (token, _) = open_session(&store, &dana).await.unwrap();
        store.run(|s| s.remove_console_admin("dana")).await.unwrap();
        add("dana", "$argon2id$b").await.unwrap();
        assert!(find_session(&store, &token).await.unwrap().is_none(), "a name added anew is another admin");
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "abcd"));
    }
}
