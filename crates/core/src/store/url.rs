//! Where a store on PostgreSQL is: `postgres://user@host:port/database`, with its password kept
//! apart (the keyring or an environment variable, never the URL or the settings file) and TLS as
//! the URL's `sslmode` says. Off loopback the database is reached over TLS only (`sslmode=require`,
//! the server's certificate checked against the roots this machine trusts, or the desk's own CA);
//! `prefer` — TLS when offered, plain otherwise — is refused there, since whoever sits between
//! the worker and the database could simply not offer it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use tokio_postgres::config::{Host, SslMode};

use crate::Secret;

/// A parsed store URL, with its password.
#[derive(Debug, Clone)]
pub struct StoreUrl {
    config: tokio_postgres::Config,
    /// The URL as given, which holds no password.
    shown: String,
    /// A CA certificate (PEM) to trust for the database's certificate besides the system's.
    ca_file: Option<PathBuf>,
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl StoreUrl {
    /// Reads `url`; `password` is the database user's, from wherever the settings keep it.
    pub fn parse(url: &str, password: Option<&Secret>) -> Result<StoreUrl, String> {
        if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err(format!("store_url '{url}' is not a PostgreSQL URL: it starts with postgres://"));
        }
        let parsed = url::Url::parse(url).map_err(|e| format!("store_url is not a URL ({e})"))?;
        if parsed.password().is_some() {
            return Err("store_url holds a password: take it out of the URL and give it as the store's password \
                 (`bt-autotask-worker secret set store-password`, or store_password_env) — the settings file is \
                 no place for a secret"
                .to_owned());
        }
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| format!("store_url '{url}' could not be read: {e}"))?;
        if let Some(password) = password {
            config.password(password.expose());
        }
        config.application_name("bt-autotask-worker");
        config.connect_timeout(std::time::Duration::from_secs(10));
        let store = StoreUrl { config, shown: url.to_owned(), ca_file: None };
        store.check_transport()?;
        Ok(store)
    }

    /// Trusts the CA in `path` (PEM) for the database's certificate, besides the system's roots.
    pub fn with_ca_file(mut self, path: &Path) -> StoreUrl {
        self.ca_file = Some(path.to_owned());
        self
    }

    fn on_loopback(&self) -> bool {
        self.config.get_hosts().iter().all(|host| match host {
            Host::Tcp(name) => name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()),
            #[cfg(unix)]
            Host::Unix(_) => true,
        })
    }

    fn check_transport(&self) -> Result<(), String> {
        if self.on_loopback() || self.config.get_ssl_mode() == SslMode::Require {
            return Ok(());
        }
        Err(format!(
            "store_url '{}' reaches a database off this machine without requiring TLS: add ?sslmode=require \
             (the database's password and every session would otherwise cross the network readable)",
            self.shown
        ))
    }

    /// Connects: over TLS, the server's certificate verified, when the URL requires it; in plain
    /// text otherwise, which [`StoreUrl::parse`] allows on loopback only (there TLS protects
    /// nothing, and a server's self-signed certificate would only stop the connection).
    pub(super) fn connect(&self) -> Result<tokio_postgres::Client, String> {
        let failed = |e: String| format!("could not connect to {}: {e}", self.shown);
        if self.config.get_ssl_mode() != SslMode::Require {
            return super::db::connect_postgres(self.config.clone(), tokio_postgres::NoTls).map_err(failed);
        }
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(self.tls_config()?);
        super::db::connect_postgres(self.config.clone(), tls).map_err(failed)
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for certificate in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(certificate);
        }
        if let Some(path) = &self.ca_file {
            let pem = std::fs::read(path).map_err(|e| format!("store_ca_file {}: {e}", path.display()))?;
            let certificates = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("store_ca_file {} is not PEM certificates: {e}", path.display()))?;
            for certificate in certificates {
                roots.add(certificate).map_err(|e| format!("store_ca_file {}: {e}", path.display()))?;
            }
        }
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_with_a_password_or_plain_text_off_loopback_is_refused_with_what_to_do() {
        let with_password = StoreUrl::parse("postgres://bta:hunter2@db.example.com/bta", None).unwrap_err();
        assert!(with_password.contains("holds a password") && !with_password.contains("hunter2"), "{with_password}");
        let plain = StoreUrl::parse("postgres://bta@db.example.com/bta", None).unwrap_err();
        assert!(plain.contains("sslmode=require"), "{plain}");
        let preferred = StoreUrl::parse("postgres://bta@db.example.com/bta?sslmode=prefer", None).unwrap_err();
        assert!(preferred.contains("sslmode=require"), "{preferred}");
        StoreUrl::parse("postgres://bta@db.example.com/bta?sslmode=require", None).unwrap();
        StoreUrl::parse("postgres://bta@127.0.0.1:5432/bta", None).unwrap();
        assert!(StoreUrl::parse("mysql://bta@127.0.0.1/bta", None).unwrap_err().contains("postgres://"));
    }
}
