//! What the BeyondTrust client needs, named as in the seed's plugin configuration: appliance
//! host, OAuth client, locale, Allow Invalid Certificates, Use Non-TLS Connections, and an
//! optional extra CA certificate.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::Secret;
use crate::transport_policy::is_loopback;

#[derive(Debug, Clone)]
pub struct BeyondTrustSettings {
    /// The B Series Appliance's host name (optionally `:port`), without `https://` or a path.
    pub host: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Language the appliance uses for report text, e.g. `en-us`; sent on every call.
    pub locale: Option<String>,
    /// Accept any certificate (self-signed, expired). Not for production.
    pub allow_invalid_certificates: bool,
    /// Plain HTTP. OAuth needs TLS, so this is allowed only for a stand-in on this machine.
    pub use_non_tls: bool,
    /// A PEM file with the CA that signed the appliance's certificate, trusted in addition to the system's.
    pub ca_certificate_file: Option<PathBuf>,
    pub request_timeout: Duration,
}

impl BeyondTrustSettings {
    pub fn new(host: impl Into<String>, client_id: impl Into<String>, client_secret: Secret) -> BeyondTrustSettings {
        BeyondTrustSettings {
            host: host.into(),
            client_id: client_id.into(),
            client_secret,
            locale: None,
            allow_invalid_certificates: false,
            use_non_tls: false,
            ca_certificate_file: None,
            request_timeout: Duration::from_secs(60),
        }
    }

    /// Every problem with the settings, each saying what to change; empty when usable.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match self.base_url() {
            Ok(url) if self.use_non_tls && !is_loopback(url.host()) => problems.push(format!(
                "Use Non-TLS Connections cannot be used with '{}': OAuth requires TLS, so plain HTTP is allowed only \
                 for a stand-in on this machine; turn the setting off",
                self.host
            )),
            Ok(_) => {}
            Err(e) => problems.push(e),
        }
        if self.client_id.trim().is_empty() {
            problems.push(
                "the BeyondTrust OAuth Client ID is empty; copy it from /login › Management › API Configuration".into(),
            );
        }
        if self.client_secret.is_empty() {
            problems.push("the BeyondTrust OAuth Client Secret is empty; store the API account's secret".into());
        }
        if let Some(path) = &self.ca_certificate_file
            && !path.is_file()
        {
            problems.push(format!(
                "the CA certificate file {} does not exist; give the path of a PEM file",
                path.display()
            ));
        }
        problems
    }

    /// `https://<host>/` (or `http://` for a loopback stand-in with Use Non-TLS Connections).
    pub fn base_url(&self) -> Result<Url, String> {
        let host = self.host.trim();
        if host.is_empty() {
            return Err("the BeyondTrust appliance host name is empty; enter it like support.example.com".into());
        }
        if host.contains("://") || host.contains('/') || host.contains('?') {
            return Err(format!(
                "the BeyondTrust appliance host name '{host}' looks like a URL; enter only the host name, like \
                 support.example.com, without https:// or a path"
            ));
        }
        let scheme = if self.use_non_tls { "http" } else { "https" };
        let url = Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| format!("the BeyondTrust appliance host name '{host}' is not valid ({e})"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("the BeyondTrust appliance host name '{host}' is not valid"));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(host: &str) -> BeyondTrustSettings {
        BeyondTrustSettings::new(host, "id", Secret::new("secret"))
    }

    #[test]
    fn a_url_is_refused_with_what_to_type_instead() {
        for host in ["https://support.example.com", "support.example.com/login", "http://x"] {
            let problems = settings(host).problems();
            assert!(problems[0].contains("without https:// or a path"), "{host}: {problems:?}");
        }
        assert!(settings("support.example.com").problems().is_empty());
        assert!(settings("support.example.com:8443").problems().is_empty());
    }

    #[test]
    fn non_tls_only_for_loopback_and_says_why() {
        let mut s = settings("support.example.com");
        s.use_non_tls = true;
        assert!(s.problems()[0].contains("OAuth requires TLS"));
        let mut local = settings("127.0.0.1:9000");
        local.use_non_tls = true;
        assert!(local.problems().is_empty());
        assert_eq!(local.base_url().unwrap().as_str(), "http://127.0.0.1:9000/");
    }
}
