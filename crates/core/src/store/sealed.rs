//! Secrets the workers on a store share and must read back whole (the ticket webhook's secret,
//! which signs Autotask's callouts): sealed with ChaCha20-Poly1305 under a key derived from the
//! token key — a file every worker reads, never in the database — so the database and its
//! backups hold nothing that lets anyone sign a callout. Each sealing names what it is for, so a
//! sealed value is never taken for another.

use hmac::{Hmac, Mac};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::Sha256;

use super::{Store, StoreError};
use crate::Secret;

impl Store {
    /// The key that seals values for `purpose`.
    fn sealing_key(&self, purpose: &str) -> Result<LessSafeKey, StoreError> {
        let key = self.token_key()?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).map_err(|e| StoreError::Task(e.to_string()))?;
        mac.update(b"bt-autotask sealing key: ");
        mac.update(purpose.as_bytes());
        let derived = mac.finalize().into_bytes();
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &derived)
            .map_err(|_| StoreError::Sealed(format!("no sealing key for the {purpose}")))?;
        Ok(LessSafeKey::new(unbound))
    }

    /// `secret` sealed for `purpose`: a random nonce, then the sealed text and its tag.
    pub(crate) fn seal(&self, purpose: &str, secret: &Secret) -> Result<Vec<u8>, StoreError> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut sealed = secret.expose().as_bytes().to_vec();
        self.sealing_key(purpose)?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(purpose.as_bytes()), &mut sealed)
            .map_err(|_| StoreError::Sealed(format!("the {purpose} could not be sealed")))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// What [`Store::seal`] sealed for `purpose`; an error when it was sealed under another token
    /// key or for another purpose, or was changed.
    pub(crate) fn unseal(&self, purpose: &str, sealed: &[u8]) -> Result<Secret, StoreError> {
        let refused = || {
            StoreError::Sealed(format!("the {purpose} kept in the store cannot be opened with this worker's token key"))
        };
        let (nonce, text) = sealed.split_at_checked(NONCE_LEN).ok_or_else(refused)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
        let mut text = text.to_vec();
        let opened = self
            .sealing_key(purpose)?
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut text)
            .map_err(|_| refused())?;
        Ok(Secret::new(String::from_utf8(opened.to_vec()).map_err(|_| refused())?))
    }
}
