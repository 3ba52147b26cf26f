//! HTTPS for every listener (the intake, as the seed's Middleware Engine offers on 443, the reps'
//! gateway and the console): the certificate and key are PEM
//! files, read again when they change — on SIGHUP, and by looking at their modification times
//! every few seconds (the way on Windows, which has no SIGHUP) — without dropping a connection:
//! a handshake takes whichever certificate is current; connections already open keep theirs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// How often the files' modification times are looked at.
const LOOK_EVERY: Duration = Duration::from_secs(5);

/// The certificate chain and private key files (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads both files into a key rustls can serve, or says what is wrong with which file.
    pub fn load(&self) -> Result<CertifiedKey, String> {
        let unreadable = |path: &Path, e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.certificate)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|e| unreadable(&self.certificate, &e))?;
        if chain.is_empty() {
            return Err(format!("{}: holds no PEM certificate", self.certificate.display()));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| unreadable(&self.key, &e))?;
        let provider = rustls::crypto::ring::default_provider();
        let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|e| {
            format!("{} and {} do not make a usable pair: {e}", self.certificate.display(), self.key.display())
        })?;
        Ok(certified)
    }

    fn modified(&self) -> Option<(SystemTime, SystemTime)> {
        let time = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        Some((time(&self.certificate)?, time(&self.key)?))
    }
}

/// The certificate handshakes get; replaced whole on reload.
#[derive(Debug)]
pub struct ReloadingCertificate {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    seen: RwLock<Option<(SystemTime, SystemTime)>>,
}

impl ReloadingCertificate {
    pub fn new(files: TlsFiles) -> Result<ReloadingCertificate, String> {
        let seen = files.modified();
        let current = files.load()?;
        Ok(ReloadingCertificate { files, current: RwLock::new(Arc::new(current)), seen: RwLock::new(seen) })
    }

    /// Reads the files again; on a mistake the certificate in use stays, and the error says why.
    pub fn reload(&self) -> Result<(), String> {
        let seen = self.files.modified();
        let fresh = self.files.load()?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(fresh);
        *self.seen.write().unwrap_or_else(|e| e.into_inner()) = seen;
        Ok(())
    }

    /// Reloads when either file changed since the last load; whether it did.
    pub fn reload_if_changed(&self) -> Result<bool, String> {
        let now = self.files.modified();
        if now.is_none() || now == *self.seen.read().unwrap_or_else(|e| e.into_inner()) {
            return Ok(false);
        }
        self.reload().map(|()| true)
    }
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// A TLS acceptor that serves `certificate` (whichever is current at each handshake), offering
/// HTTP/2 and HTTP/1.1 as browsers expect.
pub(super) fn acceptor(certificate: Arc<ReloadingCertificate>) -> std::io::Result<TlsAcceptor> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Reloads on SIGHUP, and whenever the files' modification times change.
pub async fn watch_for_changes(certificate: Arc<ReloadingCertificate>) {
    let reload = |why: &str, result: Result<bool, String>| match result {
        Ok(true) => tracing::info!("the HTTPS certificate was reloaded ({why})"),
        Ok(false) => {}
        Err(e) => tracing::error!("the HTTPS certificate could not be reloaded ({why}); the one in use stays: {e}"),
    };
    let mut hangups = hangup_signals();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(LOOK_EVERY) => reload("its files changed", certificate.reload_if_changed()),
            Some(()) = next_hangup(&mut hangups) => reload("SIGHUP", certificate.reload().map(|()| true)),
        }
    }
}

#[cfg(unix)]
fn hangup_signals() -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(unix)]
async fn next_hangup(signals: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signals {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
fn hangup_signals() -> Option<()> {
    None
}

#[cfg(not(unix))]
async fn next_hangup(_signals: &mut Option<()>) -> Option<()> {
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(files: &TlsFiles, name: &str) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap().self_signed(&key).unwrap();
        std::fs::write(&files.certificate, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
    }

    fn served(certificate: &ReloadingCertificate) -> Vec<u8> {
        certificate.current.read().unwrap().cert[0].to_vec()
    }

    /// The way Windows reloads (it has no SIGHUP): a change of the files' modification times.
    #[test]
    fn a_changed_file_is_reloaded_and_a_broken_one_keeps_the_certificate_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles { certificate: dir.path().join("c.pem"), key: dir.path().join("k.pem") };
        write_pair(&files, "first.example");
        let certificate = ReloadingCertificate::new(files.clone()).unwrap();
        let first = served(&certificate);
        assert_eq!(certificate.reload_if_changed(), Ok(false), "nothing changed");

        std::thread::sleep(Duration::from_millis(20));
        write_pair(&files, "second.example");
        assert_eq!(certificate.reload_if_changed(), Ok(true));
        let second = served(&certificate);
        assert_ne!(first, second);

        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&files.key, "not a key").unwrap();
        let error = certificate.reload_if_changed().unwrap_err();
        assert!(error.contains("k.pem"), "names the file: {error}");
        assert_eq!(served(&certificate), second, "the certificate in use stays");
    }
}
