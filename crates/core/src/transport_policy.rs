//! Which URLs we are willing to send credentials to: HTTPS anywhere, plain HTTP only to this
//! machine (the stand-ins and the demo), never across a network.

use std::net::IpAddr;

use url::{Host, Url};

/// Whether a host is this machine: `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Parses `text` as an absolute URL we may send credentials to; the error says what to change.
/// `setting` names the setting the URL came from, for that message.
pub fn secure_url(text: &str, setting: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim())
        .map_err(|e| format!("{setting} '{text}' is not a URL ({e}); write it like https://host/path"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(url.host()) => Ok(url),
        "http" => Err(format!(
            "{setting} '{text}' uses plain http to another machine, which would send credentials unencrypted; use https"
        )),
        other => Err(format!("{setting} '{text}' has scheme '{other}'; use https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        assert!(secure_url("https://webservices5.autotask.net/ATServicesRest", "x").is_ok());
        assert!(secure_url("http://127.0.0.1:8080/x", "x").is_ok());
        assert!(secure_url("http://127.5.0.1:8080/x", "x").is_ok());
        assert!(secure_url("http://localhost/x", "x").is_ok());
        assert!(secure_url("http://[::1]:9/x", "x").is_ok());
        let err = secure_url("http://webservices5.autotask.net/", "Services URL").unwrap_err();
        assert!(err.contains("Services URL") && err.contains("https"), "{err}");
        assert!(secure_url("ftp://x/", "x").is_err());
        assert!(secure_url("webservices5.autotask.net", "x").is_err());
    }
}
