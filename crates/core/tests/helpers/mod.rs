//! Test set-up shared by the integration tests: a stand-in on a random loopback port, a
//! client pointed at it, and a handle on the stand-in's `/_sim/` controls.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bta_core::Secret;
use bta_core::autotask::{AutotaskClient, AutotaskSettings, Limits};
use bta_sim::autotask::{self as sim, Running};
use serde_json::{Value, json};

pub struct Autotask {
    pub sim: Running,
    http: reqwest::Client,
}

/// Limits that keep tests quick: short backoffs, the real cap of 3 in flight.
pub fn fast_limits() -> Limits {
    Limits {
        retry_base_delay: Duration::from_millis(5),
        retry_max_delay: Duration::from_millis(50),
        max_retries: 3,
        ..Limits::default()
    }
}

impl Autotask {
    pub async fn start() -> Autotask {
        Autotask::start_with(sim::Config { threshold_delay: Duration::from_millis(0), ..sim::Config::default() }).await
    }

    pub async fn start_empty() -> Autotask {
        Autotask::start_with(sim::Config { demo: false, threshold_delay: Duration::ZERO, ..sim::Config::default() })
            .await
    }

    pub async fn start_with(config: sim::Config) -> Autotask {
        let sim = sim::spawn(config, 0).await.expect("the stand-in starts");
        Autotask { sim, http: reqwest::Client::new() }
    }

    /// Settings with the stand-in's default credentials, discovering the zone from it.
    pub fn settings(&self) -> AutotaskSettings {
        let mut s = AutotaskSettings::new(
            sim::DEFAULT_USERNAME,
            Secret::new(sim::DEFAULT_SECRET),
            Secret::new(sim::DEFAULT_INTEGRATION_CODE),
        );
        s.discovery_url = self.sim.discovery_url();
        s.limits = fast_limits();
        s
    }

    pub fn client(&self) -> AutotaskClient {
        AutotaskClient::new(self.settings()).expect("valid settings")
    }

    pub fn client_with(&self, limits: Limits) -> AutotaskClient {
        let mut s = self.settings();
        s.limits = limits;
        AutotaskClient::new(s).expect("valid settings")
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/_sim/{path}", self.sim.base_url);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("control request");
        assert!(response.status().is_success(), "control {path}: {}", response.status());
        response.json().await.expect("control answer")
    }

    /// Fails the next `count` requests whose path starts with `path` (after `/atservicesrest/v1.0/`).
    pub async fn fail(&self, method: &str, path: &str, status: u16, count: u32) {
        self.fault(
            json!({"method": method, "path": format!("/atservicesrest/v1.0/{path}"), "status": status, "count": count}),
        )
        .await;
    }

    pub async fn fault(&self, fault: Value) {
        self.control(reqwest::Method::POST, "faults", Some(fault)).await;
    }

    pub async fn set_latency(&self, ms: u64) {
        self.control(reqwest::Method::POST, "latency", Some(json!({"ms": ms}))).await;
    }

    pub async fn set_usage(&self, count: u64) {
        self.control(reqwest::Method::POST, "usage", Some(json!({"count": count}))).await;
    }

    pub async fn highest_concurrency(&self, endpoint: &str) -> u64 {
        let c = self.control(reqwest::Method::GET, "concurrency", None).await;
        c["highest"][endpoint].as_u64().unwrap_or(0)
    }

    /// The request log: `[{method, path, endpoint, status, started_ms, finished_ms}]`.
    pub async fn requests(&self) -> Vec<Value> {
        self.control(reqwest::Method::GET, "requests", None).await.as_array().cloned().unwrap_or_default()
    }

    /// Requests whose path contains `part` (case-insensitive).
    pub async fn requests_to(&self, part: &str) -> Vec<Value> {
        let part = part.to_ascii_lowercase();
        self.requests()
            .await
            .into_iter()
            .filter(|r| r["path"].as_str().unwrap_or("").to_ascii_lowercase().contains(&part))
            .collect()
    }

    pub async fn insert(&self, entity: &str, records: Value) {
        self.control(reqwest::Method::POST, &format!("records/{entity}"), Some(records)).await;
    }

    pub async fn records(&self, entity: &str) -> Vec<Value> {
        self.control(reqwest::Method::GET, "records", None).await[entity].as_array().cloned().unwrap_or_default()
    }
}

/// A BeyondTrust appliance stand-in and a handle on its `/_sim/` controls.
pub struct Appliance {
    pub sim: bta_sim::beyondtrust::Running,
    http: reqwest::Client,
}

impl Appliance {
    pub async fn start() -> Appliance {
        Appliance::start_with(bta_sim::beyondtrust::Config::default()).await
    }

    pub async fn start_with(config: bta_sim::beyondtrust::Config) -> Appliance {
        let sim = bta_sim::beyondtrust::spawn(config, 0).await.expect("the appliance stand-in starts");
        Appliance { sim, http: reqwest::Client::new() }
    }

    /// Settings for the stand-in's default API account over plain HTTP on loopback.
    pub fn settings(&self) -> bta_core::beyondtrust::BeyondTrustSettings {
        let mut s = bta_core::beyondtrust::BeyondTrustSettings::new(
            self.sim.host(),
            bta_sim::beyondtrust::DEFAULT_CLIENT_ID,
            Secret::new(bta_sim::beyondtrust::DEFAULT_CLIENT_SECRET),
        );
        s.use_non_tls = !self.sim.base_url.starts_with("https");
        s
    }

    pub fn client(&self) -> bta_core::beyondtrust::BeyondTrustClient {
        bta_core::beyondtrust::BeyondTrustClient::new(self.settings()).expect("valid settings")
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = self.http.get(format!("{}/_sim/{path}", self.sim.base_url)).send().await.expect("control");
        response.json().await.expect("control answer")
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response =
            self.http.post(format!("{}/_sim/{path}", self.sim.base_url)).json(&body).send().await.expect("control");
        assert!(response.status().is_success(), "control {path}: {}", response.status());
        response.json().await.expect("control answer")
    }

    /// Posts a SupportSession document to be replayed verbatim.
    pub async fn replay(&self, xml: &str) -> Value {
        let response = self
            .http
            .post(format!("{}/_sim/reports", self.sim.base_url))
            .body(xml.to_owned())
            .send()
            .await
            .expect("control");
        assert!(response.status().is_success(), "replay: {}", response.status());
        response.json().await.expect("control answer")
    }

    pub async fn token_requests(&self) -> u64 {
        self.get("oauth").await["token_requests"].as_u64().unwrap_or(0)
    }
}
