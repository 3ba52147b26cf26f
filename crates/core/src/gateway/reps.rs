//! Who is asking: the worker knows each `/desk/*` request's rep by its rep token alone, never by
//! anything the request says about itself. The enrolled reps are held in memory by the keyed
//! hash of their tokens and reloaded whenever the store's reps change — looked at twice a second,
//! so a revocation from the console or the command line takes effect, open long polls included,
//! within a second; when each rep's app was last seen is written back in batches, so the apps'
//! requests cost the store no write each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::Utc;
use subtle::ConstantTimeEq;
use tokio::sync::watch;

use crate::store::{AsyncStore, KeyedHash, Rep, RepSeen, StoreError};

/// How often the worker looks whether the store's reps changed.
const LOOK_EVERY: Duration = Duration::from_millis(500);
/// Least time between two reloads a token no rep holds asks for: a token enrolled at another
/// worker a moment ago is known here at once, and a flood of wrong ones costs the store a read
/// every so often, not one each.
const CATCH_UP_EVERY: Duration = Duration::from_millis(100);
/// How often when each app was last seen is written to the store.
const SEEN_WRITTEN_EVERY: Duration = Duration::from_secs(60);

/// The enrolled reps, known by their tokens' keyed hashes.
#[derive(Debug)]
pub struct RepDirectory {
    store: AsyncStore,
    known: RwLock<Known>,
    seen: Mutex<HashMap<(String, String), RepSeen>>,
    /// The reps' version, told to the requests that wait while it changes.
    version: watch::Sender<i64>,
    /// When a token no rep held last made the reps be read again.
    caught_up: Mutex<Option<std::time::Instant>>,
}

#[derive(Debug, Default)]
struct Known {
    version: i64,
    /// By the first 8 bytes of the hash; the whole hash is then compared in constant time.
    by_prefix: HashMap<[u8; 8], Vec<(KeyedHash, Arc<Rep>)>>,
}

impl Known {
    fn new(version: i64, reps: Vec<(KeyedHash, Rep)>) -> Known {
        let mut by_prefix: HashMap<[u8; 8], Vec<(KeyedHash, Arc<Rep>)>> = HashMap::new();
        for (hash, rep) in reps {
            by_prefix.entry(prefix(&hash)).or_default().push((hash, Arc::new(rep)));
        }
        Known { version, by_prefix }
    }
}

fn prefix(hash: &KeyedHash) -> [u8; 8] {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    first
}

impl RepDirectory {
    /// The reps enrolled in `store` now (read as the worker starts: a blocking read).
    pub fn load(store: AsyncStore) -> Result<RepDirectory, StoreError> {
        let s = store.blocking();
        // The key is read here rather than at the first request, on an async thread.
        s.keyed_hash("")?;
        let known = Known::new(s.reps_version()?, s.enrolled_reps()?);
        let version = watch::Sender::new(known.version);
        Ok(RepDirectory {
            store,
            known: RwLock::new(known),
            seen: Mutex::default(),
            version,
            caught_up: Mutex::default(),
        })
    }

    /// The keyed hash a token is known by.
    pub fn hash(&self, token: &str) -> Result<KeyedHash, StoreError> {
        self.store.blocking().keyed_hash(token)
    }

    /// The rep whose token has this keyed hash, if any enrolled rep's has.
    pub fn who(&self, hash: &KeyedHash) -> Option<Arc<Rep>> {
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        let candidates = known.by_prefix.get(&prefix(hash)).map(Vec::as_slice).unwrap_or_default();
        candidates.iter().find(|(kept, _)| bool::from(kept.ct_eq(hash))).map(|(_, rep)| rep.clone())
    }

    /// The rep whose token has this keyed hash — after reading the store's reps again, when no rep
    /// known here holds it (enrolled at another worker of the desk a moment ago) and they were not
    /// read again within [`CATCH_UP_EVERY`].
    pub async fn who_now(&self, hash: &KeyedHash) -> Option<Arc<Rep>> {
        if let Some(rep) = self.who(hash) {
            return Some(rep);
        }
        let due = {
            let mut caught_up = self.caught_up.lock().unwrap_or_else(|e| e.into_inner());
            let due = caught_up.is_none_or(|at| at.elapsed() >= CATCH_UP_EVERY);
            if due {
                *caught_up = Some(std::time::Instant::now());
            }
            due
        };
        if due && let Err(e) = self.refresh().await {
            tracing::warn!("the desk's reps could not be read: {e}");
        }
        self.who(hash)
    }

    /// Completes once no enrolled rep holds the token of this keyed hash any more (revoked, or
    /// replaced by a new enrolment).
    pub async fn until_gone(&self, hash: &KeyedHash) {
        let mut version = self.version.subscribe();
        while self.who(hash).is_some() {
            if version.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Notes that a rep's app was seen now, with the version it says it is.
    pub fn seen(&self, rep: &Rep, app_version: Option<String>) {
        let seen =
            RepSeen { profile: rep.profile.clone(), username: rep.username.clone(), at: Utc::now(), app_version };
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).insert((rep.profile.clone(), rep.username.clone()), seen);
    }

    /// Reloads the reps when the store's changed; whether they did.
    pub async fn refresh(&self) -> Result<bool, StoreError> {
        let version = self.store.run(|s| s.reps_version()).await?;
        if version == self.known.read().unwrap_or_else(|e| e.into_inner()).version {
            return Ok(false);
        }
        let known = self.store.run(move |s| Ok(Known::new(version, s.enrolled_reps()?))).await?;
        let enrolled: usize = known.by_prefix.values().map(Vec::len).sum();
        tracing::info!(enrolled, "the desk's reps changed (an enrolment, a new link or a revocation)");
        *self.known.write().unwrap_or_else(|e| e.into_inner()) = known;
        self.version.send_replace(version);
        Ok(true)
    }

    /// Writes when each app was last seen.
    async fn write_seen(&self) -> Result<(), StoreError> {
        let seen: Vec<RepSeen> =
            std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner())).into_values().collect();
        if seen.is_empty() {
            return Ok(());
        }
        self.store.run(move |s| s.reps_seen(&seen)).await
    }

    /// Keeps the reps current until `stopped`, then writes what was seen last.
    pub async fn keep_current(self: Arc<Self>, stopped: impl std::future::Future<Output = ()>) {
        tokio::pin!(stopped);
        let mut looks = tokio::time::interval(LOOK_EVERY);
        let mut writes = tokio::time::interval(SEEN_WRITTEN_EVERY);
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = looks.tick() => {
                    if let Err(e) = self.refresh().await {
                        tracing::warn!("the desk's reps could not be read: {e}");
                    }
                }
                _ = writes.tick() => {
                    if let Err(e) = self.write_seen().await {
                        tracing::warn!("when the reps' apps were last seen could not be written: {e}");
                    }
                }
            }
        }
        if let Err(e) = self.write_seen().await {
            tracing::warn!("when the reps' apps were last seen could not be written: {e}");
        }
    }
}
