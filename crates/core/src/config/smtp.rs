//! The desk's mail relay (`smtp_url`), through which the console sends each rep their own
//! enrolment link: `smtps://` (TLS from the first byte) or `smtp://` (STARTTLS, required — plain
//! only to a relay on this machine that offers no STARTTLS), its user in the URL and its password
//! never there: in the keyring (`bt-autotask-worker secret smtp-password`) or `smtp_password_env`.

use std::path::{Path, PathBuf};

use super::reader::Section;
use super::secrets::{SecretRef, SecretStore};
use crate::Secret;

/// The keyring's name for the relay's password, which belongs to no profile.
pub const SMTP_PASSWORD: SecretRef = SecretRef::Stored { profile: String::new(), setting: "smtp_password" };

/// How mail leaves for the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// TLS from the first byte (`smtps://`, port 465 by default).
    Tls,
    /// STARTTLS, refused by a relay that does not offer it (`smtp://`, port 587 by default).
    StartTls,
    /// A relay on this machine (`smtp://127.0.0.1`): STARTTLS where it offers it, else plain —
    /// what leaves the machine is the relay's to protect.
    Local,
}

/// The relay, its sender and its login.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// The login's user (the URL's), with its password; none: the relay takes mail without one.
    pub login: Option<(String, Secret)>,
    /// Who the mail is from (`smtp_from`): `IT Desk <desk@example.com>`.
    pub from: String,
    /// A CA (PEM) trusted for the relay's certificate besides the system's roots (`smtp_ca_file`).
    pub ca_file: Option<PathBuf>,
}

pub(super) fn read_smtp(top: &mut Section<'_>, base: &Path, store: &dyn SecretStore) -> Option<SmtpSettings> {
    if top.has("smtp_password") {
        top.problem(
            "smtp_password",
            "secrets never go in the file; remove it and use smtp_password_env = \"VARIABLE\" or store it with: bt-autotask-worker secret smtp-password",
        );
    }
    let password = top.string("smtp_password_env").map_or(SMTP_PASSWORD, SecretRef::Env);
    let ca_file = top.string("smtp_ca_file").map(|p| base.join(p));
    let from = top.string("smtp_from");
    let text = top.string("smtp_url")?;
    let url = match parse_url(&text) {
        Ok(url) => url,
        Err(e) => {
            top.problem("smtp_url", e);
            return None;
        }
    };
    let Some(from) = from.filter(|f| f.parse::<lettre::message::Mailbox>().is_ok()) else {
        top.problem("smtp_from", "is needed with smtp_url: who the mail is from, like \"IT Desk <desk@example.com>\"");
        return None;
    };
    let login = match url.user {
        None => None,
        Some(user) if !store.resolves() => Some((user, Secret::new(""))),
        Some(user) => match password.resolve(store) {
            Ok(secret) => Some((user, secret)),
            Err(_) => {
                let how = match &password {
                    SecretRef::Env(var) => format!("set the environment variable {var}"),
                    SecretRef::Stored { .. } => "store it with: bt-autotask-worker secret smtp-password".to_owned(),
                };
                top.problem("smtp_url", format!("the relay's password for {user} is not available; {how}"));
                return None;
            }
        },
    };
    Some(SmtpSettings { host: url.host, port: url.port, security: url.security, login, from, ca_file })
}

/// What `smtp_url` says.
#[derive(Debug, PartialEq)]
struct RelayUrl {
    host: String,
    port: u16,
    security: SmtpSecurity,
    user: Option<String>,
}

fn parse_url(text: &str) -> Result<RelayUrl, String> {
    let url = url::Url::parse(text.trim())
        .map_err(|e| format!("'{text}' is not a URL ({e}); write smtps://user@relay.example.com"))?;
    if url.password().is_some() {
        return Err("holds a password; remove it from the URL and use smtp_password_env or: bt-autotask-worker secret smtp-password".into());
    }
    let host =
        url.host_str().filter(|h| !h.is_empty()).ok_or("names no relay; write smtps://user@relay.example.com")?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let security = match url.scheme() {
        "smtps" => SmtpSecurity::Tls,
        "smtp" if loopback => SmtpSecurity::Local,
        "smtp" => SmtpSecurity::StartTls,
        other => return Err(format!("'{other}://' is not a relay's scheme; use smtps:// (TLS) or smtp:// (STARTTLS)")),
    };
    let port = url.port().unwrap_or(if security == SmtpSecurity::Tls { 465 } else { 587 });
    let user = Some(url.username())
        .filter(|u| !u.is_empty())
        .map(|u| percent_encoding::percent_decode_str(u).decode_utf8_lossy().into_owned());
    Ok(RelayUrl { host, port, security, user })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relay_off_this_machine_is_reached_over_tls_only() {
        let relay = |text: &str| parse_url(text).map(|u| (u.security, u.port));
        assert_eq!(relay("smtps://relay.example.com"), Ok((SmtpSecurity::Tls, 465)));
        assert_eq!(relay("smtp://relay.example.com"), Ok((SmtpSecurity::StartTls, 587)));
        assert_eq!(relay("smtp://127.0.0.1:2525"), Ok((SmtpSecurity::Local, 2525)));
        assert_eq!(relay("smtp://[::1]:25"), Ok((SmtpSecurity::Local, 25)));
        assert!(relay("smtp://user:hunter2@relay.example.com").unwrap_err().contains("holds a password"));
        assert!(relay("http://relay.example.com").unwrap_err().contains("not a relay's scheme"));
        let user = parse_url("smtps://desk%40example.com@relay.example.com").unwrap().user;
        assert_eq!(user.as_deref(), Some("desk@example.com"));
    }
}
