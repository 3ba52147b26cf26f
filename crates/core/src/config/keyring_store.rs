//! The OS keyring as the secret store: the Secret Service on Linux, the Keychain on macOS, the
//! Credential Manager on Windows. Each secret is an entry of service `bt-autotask`, named
//! `<profile>/<setting>`.

use super::secrets::{KEYRING_SERVICE, SecretStore};
use crate::Secret;

#[derive(Debug, Default, Clone, Copy)]
pub struct KeyringStore;

fn entry(key: &str) -> Result<keyring::Entry, String> {
    keyring::Entry::new(KEYRING_SERVICE, key).map_err(|e| format!("the OS keyring cannot be used: {e}"))
}

impl SecretStore for KeyringStore {
    fn get(&self, key: &str) -> Result<Option<Secret>, String> {
        match entry(key)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => {
                Err(format!("the OS keyring could not be read ({e}); is a keyring service running and unlocked?"))
            }
        }
    }

    fn set(&self, key: &str, secret: &Secret) -> Result<(), String> {
        entry(key)?.set_password(secret.expose()).map_err(|e| {
            format!("the OS keyring could not store the secret ({e}); is a keyring service running and unlocked?")
        })
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        match entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(format!("the OS keyring could not forget the secret ({e})")),
        }
    }
}
