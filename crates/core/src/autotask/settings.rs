//! What the Autotask client needs to know: credentials, where the zone is (or where to
//! discover it), and the limits it keeps to. Validated before the first request.

use std::time::Duration;

use url::Url;

use crate::Secret;
use crate::transport_policy::secure_url;

/// Autotask's public zone discovery root.
pub const DEFAULT_DISCOVERY_URL: &str = "https://webservices.autotask.net/atservicesrest/";

#[derive(Debug, Clone)]
pub struct AutotaskSettings {
    /// The API user's username (usually an e-mail address).
    pub username: String,
    pub secret: Secret,
    /// The API integration code, which Autotask calls the tracking identifier.
    pub integration_code: Secret,
    /// Make every write as this resource (`ImpersonationResourceId`; never on a read, which
    /// Autotask refuses with it), overriding the resource a caller writes as.
    pub impersonation_resource_id: Option<i64>,
    /// The seed's "Autotask Services URL", e.g. `https://webservices5.autotask.net/ATServicesRest`.
    /// Without it the zone is discovered from the username.
    pub services_url: Option<String>,
    /// Where zone discovery asks; tests point it at the stand-in.
    pub discovery_url: String,
    pub limits: Limits,
}

/// How hard the client may push Autotask; the defaults suit a shared production database.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Requests in flight at once per endpoint (Autotask allows about 3 per integration code).
    pub max_in_flight_per_endpoint: usize,
    /// Retries after a 429, a 5xx or a network error, before giving up.
    pub max_retries: u32,
    /// First backoff delay; doubled each retry, with jitter.
    pub retry_base_delay: Duration,
    /// Longest backoff between retries.
    pub retry_max_delay: Duration,
    /// Longest `Retry-After` honoured inside one call; a longer one ends the call with a
    /// transient error, so the caller can schedule the work instead of holding it.
    pub retry_after_max: Duration,
    /// Re-read `ThresholdInformation` after this long...
    pub threshold_check_interval: Duration,
    /// ...or after this many requests, whichever comes first.
    pub threshold_check_requests: u64,
    /// Least time between two requests once more than half the hourly threshold is used.
    pub spacing_above_half: Duration,
    /// Least time between two requests once more than three quarters are used.
    pub spacing_above_three_quarters: Duration,
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_in_flight_per_endpoint: 3,
            max_retries: 4,
            retry_base_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(60),
            retry_after_max: Duration::from_secs(120),
            threshold_check_interval: Duration::from_secs(300),
            threshold_check_requests: 500,
            spacing_above_half: Duration::from_millis(250),
            spacing_above_three_quarters: Duration::from_secs(1),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl AutotaskSettings {
    pub fn new(username: impl Into<String>, secret: Secret, integration_code: Secret) -> AutotaskSettings {
        AutotaskSettings {
            username: username.into(),
            secret,
            integration_code,
            impersonation_resource_id: None,
            services_url: None,
            discovery_url: DEFAULT_DISCOVERY_URL.to_owned(),
            limits: Limits::default(),
        }
    }

    /// Every problem with the settings, each saying what to change; empty when usable.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.username.trim().is_empty() {
            problems.push("the Autotask API username is empty; enter the API user's username".to_owned());
        }
        if self.secret.is_empty() {
            problems.push("the Autotask API secret is empty; store the API user's secret".to_owned());
        }
        if self.integration_code.is_empty() {
            problems.push(
                "the Autotask API integration code is empty; enter the API user's tracking identifier".to_owned(),
            );
        }
        if let Some(url) = &self.services_url
            && let Err(e) = services_root(url)
        {
            problems.push(e);
        }
        if let Err(e) = secure_url(&self.discovery_url, "the zone discovery URL") {
            problems.push(e);
        }
        if self.limits.max_in_flight_per_endpoint == 0 {
            problems.push("max_in_flight_per_endpoint must be at least 1".to_owned());
        }
        problems
    }
}

/// Turns a Services URL as an admin writes it (`https://webservices5.autotask.net/ATServicesRest`,
/// with or without a trailing slash or `/v1.0`) into the REST root ending in `/`.
pub fn services_root(text: &str) -> Result<Url, String> {
    let mut url = secure_url(text, "the Autotask Services URL")?;
    let trimmed = url.path().trim_end_matches('/').to_owned();
    let without_version = match trimmed.rsplit_once('/') {
        Some((head, last)) if last.eq_ignore_ascii_case("v1.0") => head.to_owned(),
        _ => trimmed,
    };
    url.set_path(&format!("{without_version}/"));
    url.set_query(None);
    Ok(url)
}

/// The web UI root for a REST root: `webservices<N>.autotask.net` pairs with `ww<N>.autotask.net`;
/// any other host (a stand-in) serves its web UI at its own root.
pub fn web_root_for(services: &Url) -> Url {
    let mut web = services.clone();
    web.set_path("/");
    if let Some(host) = services.host_str()
        && let Some(rest) = host.strip_prefix("webservices")
        && let Some((zone, domain)) = rest.split_once('.')
        && zone.chars().all(|c| c.is_ascii_digit())
    {
        let _ = web.set_host(Some(&format!("ww{zone}.{domain}")));
    }
    web
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_url_forms_normalise_to_one_root() {
        for text in [
            "https://webservices5.autotask.net/ATServicesRest",
            "https://webservices5.autotask.net/ATServicesRest/",
            "https://webservices5.autotask.net/ATServicesRest/V1.0",
            "https://webservices5.autotask.net/ATServicesRest/v1.0/",
        ] {
            let root = services_root(text).unwrap();
            assert_eq!(root.as_str(), "https://webservices5.autotask.net/ATServicesRest/", "{text}");
        }
    }

    #[test]
    fn web_root_shares_the_zone_number() {
        let root = services_root("https://webservices14.autotask.net/ATServicesRest").unwrap();
        assert_eq!(web_root_for(&root).as_str(), "https://ww14.autotask.net/");
        let sim = services_root("http://127.0.0.1:9000/atservicesrest/").unwrap();
        assert_eq!(web_root_for(&sim).as_str(), "http://127.0.0.1:9000/");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut s = AutotaskSettings::new(" ", Secret::new(""), Secret::new(""));
        s.services_url = Some("http://webservices5.autotask.net/ATServicesRest".into());
        let problems = s.problems();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems.iter().any(|p| p.contains("plain http")));
    }
}
