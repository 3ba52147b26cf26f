//! Where a profile's secrets come from. They never live in the configuration file: by default
//! in the OS keyring under the profile and setting; for servers and tests an environment
//! variable named in the file (`client_secret_env = "BT_CLIENT_SECRET"`).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::Secret;

/// The keyring service name every secret is stored under.
pub const KEYRING_SERVICE: &str = "bt-autotask";

/// How to find one secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// In the secret store, under `<profile>/<setting>`.
    Stored { profile: String, setting: &'static str },
    /// In an environment variable.
    Env(String),
}

impl SecretRef {
    /// The key a secret store files it under.
    pub fn store_key(profile: &str, setting: &str) -> String {
        format!("{profile}/{setting}")
    }

    /// What a person should do to provide this secret.
    pub fn how_to_set(&self) -> String {
        match self {
            SecretRef::Stored { profile, setting } => {
                format!("store it with: bt-autotask-worker secret set '{profile}' {setting}")
            }
            SecretRef::Env(var) => format!("set the environment variable {var}"),
        }
    }

    /// Looks the secret up; the error says which one is missing and how to provide it.
    pub fn resolve(&self, store: &dyn SecretStore) -> Result<Secret, String> {
        let found = match self {
            SecretRef::Env(var) => std::env::var(var).ok().filter(|v| !v.is_empty()).map(Secret::new),
            SecretRef::Stored { profile, setting } => store.get(&SecretRef::store_key(profile, setting))?,
        };
        found.ok_or_else(|| format!("the secret is not available; {}", self.how_to_set()))
    }
}

/// A place secrets are kept (the OS keyring in the product).
pub trait SecretStore {
    fn get(&self, key: &str) -> Result<Option<Secret>, String>;
    fn set(&self, key: &str, secret: &Secret) -> Result<(), String>;
    /// Forgets a secret (a profile left); nothing to do when there is none.
    fn delete(&self, key: &str) -> Result<(), String> {
        let _ = key;
        Err("secrets are not kept here".into())
    }
    /// Whether loading should look secrets up at all.
    fn resolves(&self) -> bool {
        true
    }
}

/// For commands that only read the store (`jobs`, `retry`): secrets are not looked up.
#[derive(Debug, Default, Clone, Copy)]
pub struct SkipSecrets;

impl SecretStore for SkipSecrets {
    fn get(&self, _key: &str) -> Result<Option<Secret>, String> {
        Ok(None)
    }
    fn set(&self, _key: &str, _secret: &Secret) -> Result<(), String> {
        Err("secrets are not handled here".into())
    }
    fn resolves(&self) -> bool {
        false
    }
}

/// For configurations that name every secret by environment variable: nothing is stored.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoStore;

impl SecretStore for NoStore {
    fn get(&self, _key: &str) -> Result<Option<Secret>, String> {
        Ok(None)
    }
    fn set(&self, _key: &str, _secret: &Secret) -> Result<(), String> {
        Err("no secret store is available here; name an environment variable instead".into())
    }
}

/// Secrets held in memory for this process only: the demo's stand-in credentials, and tests.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<HashMap<String, Secret>>);

impl SecretStore for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Secret>, String> {
        Ok(self.0.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned())
    }
    fn set(&self, key: &str, secret: &Secret) -> Result<(), String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_owned(), secret.clone());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<(), String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        Ok(())
    }
}
