//! The worker's front door in the configuration: how its listeners serve whoever reaches them
//! (timeouts, the connection cap, body limits), the console's public address, who may read the
//! worker's details and metrics, and how much one rep may ask of Autotask.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;

use super::reader::Section;
use crate::serve::ServeSettings;

/// What the front door settings say.
#[derive(Debug, Clone)]
pub struct Front {
    pub serving: ServeSettings,
    pub console_url: Option<url::Url>,
    pub monitoring_allowlist: Vec<IpNet>,
    pub rep_autotask_searches_per_hour: u32,
}

/// A rep's searches that reach Autotask, an hour, unless the configuration says otherwise: each
/// costs one to three requests, so at most about 6 % of Autotask's 10,000-request hourly threshold.
pub const DEFAULT_REP_AUTOTASK_SEARCHES_PER_HOUR: u32 = 200;

/// Who may read `/metrics` and `/healthz`'s details unless the configuration says otherwise: this
/// machine only.
pub fn default_monitoring_allowlist() -> Vec<IpNet> {
    [IpAddr::from([127, 0, 0, 1]), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)].into_iter().map(IpNet::from).collect()
}

pub(super) fn read_front(top: &mut Section<'_>, tls: bool, console_listen: Option<SocketAddr>) -> Front {
    let defaults = ServeSettings::default();
    let mut seconds = |key: &'static str, default: Duration, most: i64| {
        top.integer(key, 1..=most).map_or(default, |n| Duration::from_secs(n as u64))
    };
    let request_read_timeout = seconds("request_read_timeout_seconds", defaults.request_read_timeout, 300);
    let tls_handshake_timeout = seconds("tls_handshake_timeout_seconds", defaults.tls_handshake_timeout, 300);
    let idle_timeout = seconds("idle_timeout_seconds", defaults.idle_timeout, 3600);
    let max_connections =
        top.integer("max_connections", 16..=1_000_000).map_or(defaults.max_connections, |n| n as usize);
    let mut kib =
        |key: &'static str, default: usize| top.integer(key, 1..=1_048_576).map_or(default, |n| n as usize * 1024);
    let request_body_limit = kib("request_body_limit_kib", defaults.request_body_limit);
    let event_body_limit = kib("event_body_limit_kib", defaults.event_body_limit);
    let serving = ServeSettings {
        request_read_timeout,
        tls_handshake_timeout,
        idle_timeout,
        max_connections,
        request_body_limit,
        event_body_limit,
        trusted_proxies: top
            .strings("trusted_proxies")
            .unwrap_or_default()
            .iter()
            .filter_map(|e| read_network(top, "trusted_proxies", e))
            .collect(),
    };
    let console_url = match top.string("console_url") {
        Some(text) => read_console_url(top, &text, tls),
        None => console_listen.and_then(|address| implied_console_url(address, tls)),
    };
    let monitoring_allowlist = match top.strings("monitoring_allowlist") {
        None => default_monitoring_allowlist(),
        Some(entries) => entries.iter().filter_map(|e| read_network(top, "monitoring_allowlist", e)).collect(),
    };
    let rep_autotask_searches_per_hour = top
        .integer("rep_autotask_searches_per_hour", 1..=100_000)
        .map_or(DEFAULT_REP_AUTOTASK_SEARCHES_PER_HOUR, |n| n as u32);
    Front { serving, console_url, monitoring_allowlist, rep_autotask_searches_per_hour }
}

/// The console's address as its listener implies it, where that is one address a browser uses.
fn implied_console_url(address: SocketAddr, tls: bool) -> Option<url::Url> {
    if address.ip().is_unspecified() {
        return None;
    }
    let scheme = if tls { "https" } else { "http" };
    url::Url::parse(&format!("{scheme}://{address}/")).ok()
}

fn read_console_url(top: &mut Section<'_>, text: &str, tls: bool) -> Option<url::Url> {
    let url = match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => url,
        _ => {
            top.problem("console_url", format!("'{text}' is not an address like https://desk-server:53231"));
            return None;
        }
    };
    if tls && url.scheme() == "http" {
        top.problem("console_url", format!("'{text}' says http, but the console is served over HTTPS; write https://"));
        return None;
    }
    Some(url)
}

fn read_network(top: &mut Section<'_>, key: &'static str, entry: &str) -> Option<IpNet> {
    let parsed = entry.parse::<IpNet>().or_else(|_| entry.parse::<IpAddr>().map(IpNet::from));
    match parsed {
        Ok(network) => Some(network),
        Err(_) => {
            top.problem(key, format!("'{entry}' is not an address or network like 10.0.0.0/8"));
            None
        }
    }
}
