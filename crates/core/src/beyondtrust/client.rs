//! The BeyondTrust Remote Support client: OAuth client credentials with a shared cached token,
//! the Command API and the Reporting API, each failure turned into one [`Error`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use super::command::{self, ApiInfo, SessionKey, SessionKeyRequest};
use super::error::{Error, ErrorKind};
use super::report::{CustomAttribute, ExitSurvey, SessionSummary, SupportSession, SurveyKind};
use super::settings::BeyondTrustSettings;
use super::xml::{ReportError, read_listing, read_sessions_from_bytes, read_surveys};
use crate::Secret;

/// A typed client for one appliance and API account. Cheap to clone; clones share the token.
#[derive(Clone, Debug)]
pub struct BeyondTrustClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    settings: BeyondTrustSettings,
    base: Url,
    token: Mutex<Option<Token>>,
}

#[derive(Debug, Clone)]
struct Token {
    value: Secret,
    renew_at: Instant,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: Option<String>,
    error_description: Option<String>,
}

impl BeyondTrustClient {
    /// Checks the settings, loads the extra CA if any, and builds the client; no request yet.
    pub fn new(settings: BeyondTrustSettings) -> Result<BeyondTrustClient, Error> {
        let problems = settings.problems();
        if !problems.is_empty() {
            return Err(
                Error::new("use the BeyondTrust settings", ErrorKind::Settings).with_detail(problems.join("; "))
            );
        }
        let base = settings
            .base_url()
            .map_err(|e| Error::new("use the BeyondTrust settings", ErrorKind::Settings).with_detail(e))?;
        let mut builder = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("bt-autotask/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(settings.allow_invalid_certificates);
        if let Some(path) = &settings.ca_certificate_file {
            let settings_error =
                |detail: String| Error::new("use the BeyondTrust settings", ErrorKind::Settings).with_detail(detail);
            let pem = std::fs::read(path).map_err(|e| {
                settings_error(format!("the CA certificate file {} cannot be read: {e}", path.display()))
            })?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                settings_error(format!("the CA certificate file {} is not a PEM certificate: {e}", path.display()))
            })?;
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder
            .build()
            .map_err(|e| Error::new("start the HTTP client", ErrorKind::Settings).with_detail(e.to_string()))?;
        Ok(BeyondTrustClient { inner: Arc::new(Inner { http, settings, base, token: Mutex::new(None) }) })
    }

    pub fn settings(&self) -> &BeyondTrustSettings {
        &self.inner.settings
    }

    /// The appliance's root URL (`https://support.example.com/`).
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// A valid access token: the cached one, or a new one. Concurrent callers share one request
    /// because the lock is held while it is fetched. `stale` is a token the caller saw refused.
    async fn token(&self, stale: Option<&Secret>) -> Result<Secret, Error> {
        let mut cached = self.inner.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
            && stale.is_none_or(|s| s != &token.value)
        {
            return Ok(token.value.clone());
        }
        let fresh = self.request_token().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    async fn request_token(&self) -> Result<Token, Error> {
        const OP: &str = "get an OAuth token";
        let url = self.endpoint("oauth2/token", OP)?;
        let settings = &self.inner.settings;
        let response = self
            .inner
            .http
            .post(url)
            .basic_auth(&settings.client_id, Some(settings.client_secret.expose()))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| transport_error(OP, &e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| transport_error(OP, &e))?;
        if !status.is_success() {
            let said = serde_json::from_slice::<OAuthError>(&body)
                .ok()
                .and_then(|e| e.error_description.or(e.error))
                .unwrap_or_default();
            let kind = match status.as_u16() {
                400 | 401 | 403 => ErrorKind::Credentials,
                500..=599 => ErrorKind::Server,
                _ => ErrorKind::UnexpectedResponse,
            };
            let error = Error::new(OP, kind).with_status(status.as_u16());
            return Err(if said.is_empty() { error } else { error.with_message(said) });
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            Error::new(OP, ErrorKind::UnexpectedResponse)
                .with_detail(format!("the token answer could not be read: {e}"))
        })?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        // Renew a little early (a tenth of the lifetime, at most a minute) so no call carries a dying token.
        let margin = (lifetime / 10).min(Duration::from_secs(60));
        Ok(Token { value: Secret::new(answer.access_token), renew_at: Instant::now() + lifetime - margin })
    }

    fn endpoint(&self, path: &str, operation: &'static str) -> Result<Url, Error> {
        self.inner
            .base
            .join(path)
            .map_err(|e| Error::new(operation, ErrorKind::Settings).with_detail(format!("bad path {path}: {e}")))
    }

    /// POSTs form parameters to an API endpoint with the token, counting the outcome.
    async fn call(&self, path: &str, params: Vec<(String, String)>, operation: &'static str) -> Result<Bytes, Error> {
        // The API's own name for what is asked: the report, or the command's action.
        let command = params
            .iter()
            .find(|(k, _)| k == "generate_report" || k == "action")
            .map_or_else(|| path.to_owned(), |(_, v)| v.clone());
        let result = self.send(path, params, operation).await;
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("{:?}", e.kind).to_ascii_lowercase(),
        };
        crate::metrics::global().beyondtrust_call(&command, &outcome);
        result
    }

    /// A 401 renews the token once and retries once; connection failures before anything was
    /// sent are retried twice.
    async fn send(
        &self,
        path: &str,
        mut params: Vec<(String, String)>,
        operation: &'static str,
    ) -> Result<Bytes, Error> {
        if let Some(locale) = &self.inner.settings.locale {
            params.push(("locale".to_owned(), locale.clone()));
        }
        let url = self.endpoint(path, operation)?;
        let mut stale: Option<Secret> = None;
        let mut connect_retries = 2;
        loop {
            let token = self.token(stale.as_ref()).await?;
            let sent = self.inner.http.post(url.clone()).bearer_auth(token.expose()).form(&params).send().await;
            let response = match sent {
                Ok(r) => r,
                Err(e) if e.is_connect() && connect_retries > 0 => {
                    connect_retries -= 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                Err(e) => return Err(transport_error(operation, &e)),
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && stale.is_none() {
                stale = Some(token);
                continue;
            }
            let body = response.bytes().await.map_err(|e| transport_error(operation, &e))?;
            return match status.as_u16() {
                200..=299 => Ok(body),
                401 => Err(Error::new(operation, ErrorKind::Credentials).with_status(401)),
                403 => Err(with_body(Error::new(operation, ErrorKind::Permission).with_status(403), &body)),
                500..=599 => {
                    Err(with_body(Error::new(operation, ErrorKind::Server).with_status(status.as_u16()), &body))
                }
                other => Err(with_body(Error::new(operation, ErrorKind::UnexpectedResponse).with_status(other), &body)),
            };
        }
    }

    async fn command(
        &self,
        params: Vec<(String, String)>,
        operation: &'static str,
    ) -> Result<Vec<command::Element>, Error> {
        let body = self.call("api/command", params, operation).await?;
        let elements =
            command::flatten(&body).map_err(|e| Error::new(operation, ErrorKind::UnexpectedResponse).with_detail(e))?;
        match command::error_message(&elements) {
            Some(message) => Err(appliance_error(operation, message)),
            None => Ok(elements),
        }
    }

    /// Generates a session key (Command API, full access needed).
    pub async fn generate_session_key(&self, request: &SessionKeyRequest) -> Result<SessionKey, Error> {
        const OP: &str = "generate a session key";
        let elements = self.command(request.params(), OP).await?;
        command::session_key(&elements).ok_or_else(|| {
            Error::new(OP, ErrorKind::UnexpectedResponse).with_detail("the answer has no short_key or key_url")
        })
    }

    /// API version and the account's permissions; what "Test connection" shows.
    pub async fn get_api_info(&self) -> Result<ApiInfo, Error> {
        let elements = self.command(vec![("action".into(), "get_api_info".into())], "read the API information").await?;
        Ok(command::api_info(&elements))
    }

    /// The appliance's health report, as (field, value) pairs.
    pub async fn check_health(&self) -> Result<Vec<(String, String)>, Error> {
        let elements =
            self.command(vec![("action".into(), "check_health".into())], "check the appliance's health").await?;
        Ok(command::leaves(&elements))
    }

    /// Sets the external key and custom attributes of a live session.
    pub async fn set_session_attributes(
        &self,
        lsid: &str,
        external_key: Option<&str>,
        custom: &[(String, String)],
    ) -> Result<(), Error> {
        let mut params =
            vec![("action".to_owned(), "set_session_attributes".to_owned()), ("lsid".to_owned(), lsid.to_owned())];
        if let Some(key) = external_key {
            params.push(("session.custom.external_key".to_owned(), key.to_owned()));
        }
        for (code, value) in custom {
            params.push((format!("session.custom.{code}"), value.clone()));
        }
        self.command(params, "set the session's attributes").await.map(|_| ())
    }

    /// The external key and custom attributes of a live session.
    pub async fn get_session_attributes(&self, lsid: &str) -> Result<Vec<CustomAttribute>, Error> {
        let params =
            vec![("action".to_owned(), "get_session_attributes".to_owned()), ("lsid".to_owned(), lsid.to_owned())];
        let elements = self.command(params, "read the session's attributes").await?;
        Ok(command::custom_attributes(&elements))
    }

    async fn report<T: Send + 'static>(
        &self,
        params: Vec<(String, String)>,
        operation: &'static str,
        read: fn(&[u8]) -> Result<Vec<T>, ReportError>,
    ) -> Result<Vec<T>, Error> {
        let body = self.call("api/reporting", params, operation).await?;
        // Parsing a large report is CPU work: keep it off the async threads.
        let parsed = tokio::task::spawn_blocking(move || read(&body))
            .await
            .map_err(|e| Error::new(operation, ErrorKind::UnexpectedResponse).with_detail(e.to_string()))?;
        parsed.map_err(|e| match e {
            ReportError::Appliance(message) => appliance_error(operation, message),
            other => Error::new(operation, ErrorKind::UnexpectedResponse).with_detail(other.to_string()),
        })
    }

    /// One support session by lsid; `None` when the appliance has no such session.
    pub async fn support_session(&self, lsid: &str) -> Result<Option<SupportSession>, Error> {
        let params = vec![("generate_report".into(), "SupportSession".into()), ("lsid".into(), lsid.into())];
        let sessions =
            self.report(params, "read the session report", |b| read_sessions_from_bytes(b).collect()).await?;
        Ok(sessions.into_iter().find(|s| s.lsid == lsid))
    }

    /// Support sessions in a time window (`duration` zero means "until now").
    pub async fn support_sessions(
        &self,
        start: DateTime<Utc>,
        duration: Duration,
    ) -> Result<Vec<SupportSession>, Error> {
        let params = window("SupportSession", start, duration);
        self.report(params, "read the session reports", |b| read_sessions_from_bytes(b).collect()).await
    }

    /// Summaries of the sessions in a time window.
    pub async fn session_listing(
        &self,
        start: DateTime<Utc>,
        duration: Duration,
    ) -> Result<Vec<SessionSummary>, Error> {
        let params = window("SupportSessionListing", start, duration);
        self.report(params, "list sessions", |b| read_listing(b).collect()).await
    }

    /// Customer or representative exit surveys submitted in a time window.
    pub async fn exit_surveys(
        &self,
        kind: SurveyKind,
        start: DateTime<Utc>,
        duration: Duration,
    ) -> Result<Vec<ExitSurvey>, Error> {
        let name = match kind {
            SurveyKind::Customer => "SupportCustExitSurvey",
            SurveyKind::Representative => "SupportRepExitSurvey",
        };
        let mut params = window(name, start, duration);
        params.push(("report_type".into(), "rep".into()));
        params.push(("id".into(), "all".into()));
        self.report(params, "read exit surveys", |b| read_surveys(b).collect()).await
    }
}

fn window(report: &str, start: DateTime<Utc>, duration: Duration) -> Vec<(String, String)> {
    vec![
        ("generate_report".into(), report.into()),
        ("start_time".into(), start.timestamp().to_string()),
        ("duration".into(), duration.as_secs().to_string()),
    ]
}

fn appliance_error(operation: &'static str, message: String) -> Error {
    let lower = message.to_ascii_lowercase();
    let kind = if lower.contains("permission") || lower.contains("not allowed") || lower.contains("access denied") {
        ErrorKind::Permission
    } else {
        ErrorKind::Appliance
    };
    Error::new(operation, kind).with_message(message)
}

fn with_body(error: Error, body: &[u8]) -> Error {
    let text = command::flatten(body)
        .ok()
        .and_then(|elements| command::error_message(&elements))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().chars().take(300).collect());
    if text.is_empty() { error } else { error.with_message(text) }
}

/// A request that did not complete: a certificate problem says so, everything else is network.
fn transport_error(operation: &'static str, error: &reqwest::Error) -> Error {
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        chain.push(e.to_string());
        source = e.source();
    }
    let text = chain.join(": ");
    let lower = text.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("invalid peer") {
        let detail = chain.last().cloned().unwrap_or_default();
        return Error::new(operation, ErrorKind::Certificate).with_detail(detail);
    }
    let what = if error.is_timeout() {
        "the request timed out"
    } else if error.is_connect() {
        "the connection failed"
    } else {
        "the connection broke"
    };
    let host = error.url().and_then(|u| u.host_str()).map(|h| format!(" to {h}")).unwrap_or_default();
    Error::new(operation, ErrorKind::Network).with_detail(format!("{what}{host}"))
}
