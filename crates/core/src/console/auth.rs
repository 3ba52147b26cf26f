//! Who may use the console: admins with an Argon2-hashed password, and the sessions they log in
//! to — a random token in an HttpOnly, SameSite=Strict cookie (Secure over HTTPS), kept here only
//! as its SHA-256, ending after [`IDLE`] without use and [`LIFETIME`] after the login whatever
//! happens, and when the admin's password changes or the admin is removed — each with a CSRF
//! token its pages send back on every change. Logins are limited before any password is checked
//! ([`LoginLimits`]): Argon2 costs memory and time, so guessing must not cost the worker more
//! than the guesser.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use sha2::{Digest, Sha256};

/// A console session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// A console session ends this long after its login, used or not.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);
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
    pub admin_id: i64,
    pub credential: [u8; 32],
    pub csrf: String,
    opened: Instant,
    used: Instant,
}

impl Session {
    fn ended(&self) -> bool {
        self.used.elapsed() >= IDLE || self.opened.elapsed() >= LIFETIME
    }

    /// Whether the admin it was opened for still has the password it was opened with.
    pub fn still_for(&self, admin: &crate::store::ConsoleAdmin) -> bool {
        use subtle::ConstantTimeEq;
        admin.id == self.admin_id && bool::from(credential(&admin.password_hash).ct_eq(&self.credential))
    }
}

/// The open sessions, by the SHA-256 of their token (a lookup by hash shows nothing of the token
/// through its timing).
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashMap<[u8; 32], Session>>);

impl Sessions {
    /// Opens a session for `admin`: its cookie token and the session.
    pub fn open(&self, admin: &crate::store::ConsoleAdmin) -> (String, Session) {
        let token = random_token();
        let now = Instant::now();
        let session = Session {
            admin: admin.name.clone(),
            admin_id: admin.id,
            credential: credential(&admin.password_hash),
            csrf: random_token(),
            opened: now,
            used: now,
        };
        let mut open = self.lock();
        open.retain(|_, s| !s.ended());
        open.insert(digest(&token), session.clone());
        (token, session)
    }

    /// The session of `token`, if it is open, was used within [`IDLE`] and is younger than
    /// [`LIFETIME`]; counts as a use.
    pub fn find(&self, token: &str) -> Option<Session> {
        let mut open = self.lock();
        let key = digest(token);
        let session = open.get_mut(&key)?;
        if session.ended() {
            open.remove(&key);
            return None;
        }
        session.used = Instant::now();
        Some(session.clone())
    }

    pub fn close(&self, token: &str) {
        self.lock().remove(&digest(token));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
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

    #[test]
    fn a_session_is_found_by_its_token_until_closed() {
        let sessions = Sessions::default();
        let dana = crate::store::ConsoleAdmin { id: 7, name: "dana".into(), password_hash: "$argon2id$a".into() };
        let (token, session) = sessions.open(&dana);
        assert_eq!(sessions.find(&token).map(|s| s.admin), Some("dana".to_owned()));
        assert_eq!(sessions.find(&token).map(|s| s.csrf), Some(session.csrf.clone()));
        assert!(sessions.find("another token").is_none());
        assert!(session.still_for(&dana));
        let new_password = crate::store::ConsoleAdmin { password_hash: "$argon2id$b".into(), ..dana.clone() };
        assert!(!session.still_for(&new_password), "a new password ends it");
        let added_again = crate::store::ConsoleAdmin { id: 8, ..dana.clone() };
        assert!(!session.still_for(&added_again), "a name added anew is another admin");
        sessions.close(&token);
        assert!(sessions.find(&token).is_none());
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "abcd"));
    }
}
