//! Who may use the console: admins with an Argon2-hashed password, and the sessions they log in
//! to — a random token in an HttpOnly, SameSite=Strict cookie (Secure over HTTPS), kept here only
//! as its SHA-256, ending after [`IDLE`] without use — each with a CSRF token its pages send back
//! on every change.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use sha2::{Digest, Sha256};

/// A console session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
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

/// A logged-in admin.
#[derive(Debug, Clone)]
pub struct Session {
    pub admin: String,
    pub csrf: String,
    used: Instant,
}

/// The open sessions, by the SHA-256 of their token (a lookup by hash shows nothing of the token
/// through its timing).
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashMap<[u8; 32], Session>>);

impl Sessions {
    /// Opens a session for `admin`: its cookie token and the session.
    pub fn open(&self, admin: &str) -> (String, Session) {
        let token = random_token();
        let session = Session { admin: admin.to_owned(), csrf: random_token(), used: Instant::now() };
        let mut open = self.lock();
        open.retain(|_, s| s.used.elapsed() < IDLE);
        open.insert(digest(&token), session.clone());
        (token, session)
    }

    /// The session of `token`, if it is open and was used within [`IDLE`]; counts as a use.
    pub fn find(&self, token: &str) -> Option<Session> {
        let mut open = self.lock();
        let key = digest(token);
        let session = open.get_mut(&key)?;
        if session.used.elapsed() >= IDLE {
            open.remove(&key);
            return None;
        }
        session.used = Instant::now();
        Some(session.clone())
    }

    pub fn close(&self, token: &str) {
        self.lock().remove(&digest(token));
    }

    /// Ends every session of an admin (removed from the console).
    pub fn close_all_of(&self, admin: &str) {
        self.lock().retain(|_, s| !s.admin.eq_ignore_ascii_case(admin));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
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
        let (token, session) = sessions.open("dana");
        assert_eq!(sessions.find(&token).map(|s| s.admin), Some("dana".to_owned()));
        assert_eq!(sessions.find(&token).map(|s| s.csrf), Some(session.csrf));
        assert!(sessions.find("another token").is_none());
        sessions.close_all_of("DANA");
        assert!(sessions.find(&token).is_none());
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "abcd"));
    }
}
