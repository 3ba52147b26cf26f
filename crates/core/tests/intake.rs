//! The outbound event listener: every event stored before its 200, duplicates made once,
//! profiles chosen by `?appliance=`, and each refusal with its status and reason.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bta_core::Secret;
use bta_core::config::{MemoryStore, SecretRef, SecretStore, WorkerConfig};
use bta_core::intake::Intake;
use bta_core::store::{AsyncStore, Store};
use serde_json::{Value, json};

fn profile(name: &str, appliance: &str, extra: &str) -> String {
    format!(
        "[[profile]]\nname = \"{name}\"\nappliance_id = \"{appliance}\"\nappliance_host = \"support.example.com\"\n\
         client_id = \"id\"\nautotask_username = \"api@example.com\"\n{extra}\n"
    )
}

struct Listener {
    url: String,
    store: AsyncStore,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Listener {
    async fn start(config_text: &str) -> Listener {
        let secrets = MemoryStore::default();
        for name in ["Desk", "Branch", "Old"] {
            for setting in ["client_secret", "autotask_password", "autotask_integration_code"] {
                secrets.set(&SecretRef::store_key(name, setting), &Secret::new("x")).unwrap();
            }
        }
        let config = WorkerConfig::parse(config_text, Path::new("."), &secrets).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = AsyncStore::new(Store::open(&dir.path().join("store.sqlite3")).unwrap());
        let intake = Intake::new(Arc::new(config), store.clone(), Arc::new(tokio::sync::Notify::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(intake.serve(listener, std::future::pending()));
        Listener { url, store, http: reqwest::Client::new(), _dir: dir }
    }

    async fn post(&self, query: &str, body: &str) -> (u16, String) {
        let response = self
            .http
            .post(format!("{}/ERSPost{query}", self.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn jobs(&self) -> Vec<(String, String)> {
        let jobs = self.store.run(|s| s.recent_jobs(1000)).await.unwrap();
        jobs.into_iter().rev().map(|j| (j.profile, j.event)).collect()
    }
}

const END: &str = "event=support_conference_end&version=3&timestamp=1795515302&lsid=c69a8e10bea9428f816cfababe9815fe&external_key=7201";

#[tokio::test]
async fn an_event_is_stored_then_answered_and_a_retry_makes_no_second_job() {
    let listener = Listener::start(&profile("Desk", "default", "")).await;
    assert_eq!(listener.post("", END).await, (200, "stored".to_owned()));
    assert_eq!(listener.post("", END).await, (200, "already stored".to_owned()));
    assert_eq!(listener.jobs().await, [("Desk".to_owned(), "support_conference_end".to_owned())]);
    let health: Value =
        listener.http.get(format!("{}/healthz", listener.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["store"], "ok");
    assert_eq!(health["queue"]["pending"], 1);
    assert!(health["store_bytes"].as_u64().is_some_and(|b| b > 0), "{health}");
}

#[tokio::test]
async fn the_appliance_id_chooses_the_profile() {
    let config = profile("Desk", "default", "") + &profile("Branch", "branch.eu", "");
    let listener = Listener::start(&config).await;
    assert_eq!(listener.post("?appliance=branch.eu", END).await.0, 200);
    assert_eq!(listener.post("", END).await.0, 200);
    let (status, message) = listener.post("?appliance=elsewhere", END).await;
    assert_eq!(status, 404);
    assert!(message.contains("no profile has appliance_id 'elsewhere'"), "{message}");
    assert_eq!(listener.jobs().await.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["Branch", "Desk"]);
}

#[tokio::test]
async fn disabled_profiles_and_types_not_enabled_are_answered_200_and_ignored() {
    let config = profile("Old", "old", "disabled = true")
        + &profile("Desk", "default", "outbound_event_types = [\"customer_exit_survey_is_completed\"]");
    let listener = Listener::start(&config).await;
    assert_eq!(listener.post("?appliance=old", END).await, (200, "ignored: the profile is disabled".to_owned()));
    assert_eq!(listener.post("", END).await, (200, "ignored: its type is not enabled".to_owned()));
    let survey = END.replace("support_conference_end", "support_conference_customer_exit_survey_completed");
    assert_eq!(listener.post("", &survey).await.0, 200);
    assert_eq!(listener.jobs().await.len(), 1);
}

#[tokio::test]
async fn bad_bodies_oversized_bodies_and_strangers_are_refused() {
    let listener = Listener::start(&profile("Desk", "default", "")).await;
    let (status, message) = listener.post("", "lsid=abc").await;
    assert_eq!((status, message.contains("no 'event' field")), (400, true), "{message}");
    assert_eq!(listener.post("", &format!("{END}&pad={}", "x".repeat(70_000))).await.0, 413);
    let guarded = Listener::start(&profile("Desk", "default", "source_allowlist = [\"10.9.8.7\"]")).await;
    let (status, message) = guarded.post("", END).await;
    assert_eq!(status, 403);
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(listener.jobs().await.is_empty() && guarded.jobs().await.is_empty());
}

#[tokio::test]
async fn a_real_appliance_delivery_lands_as_jobs_for_the_enabled_events() {
    let listener = Listener::start(&profile("Desk", "default", "")).await;
    let appliance = bta_sim::beyondtrust::spawn(bta_sim::beyondtrust::Config { demo: false, ..Default::default() }, 0)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let control = |path: &str| format!("{}/_sim/{path}", appliance.base_url);
    http.post(control("recipients")).json(&json!({"url": format!("{}/ERSPost", listener.url)})).send().await.unwrap();
    let session = json!({"reps": [{"username": "alex.morgan"}], "external_key": "7201",
                         "surveys": {"customer": [{"label": "Happy?", "answer": "Yes"}], "rep": [{"label": "Done?", "answer": "Yes"}]}});
    http.post(control("sessions")).json(&session).send().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let report: Value = http.get(control("deliveries")).send().await.unwrap().json().await.unwrap();
        if report[0]["pending"] == 0 && report[0]["delivered"] == 8 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not delivered: {report}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events: Vec<String> = listener.jobs().await.into_iter().map(|(_, e)| e).collect();
    assert_eq!(
        events,
        [
            "support_conference_end",
            "support_conference_customer_exit_survey_completed",
            "support_conference_rep_exit_survey_completed"
        ]
    );
}

#[tokio::test]
async fn each_event_type_is_ignored_when_switched_off_and_kept_when_on() {
    let types = [
        ("support_session_end", "support_conference_end", ""),
        ("customer_exit_survey_is_completed", "support_conference_customer_exit_survey_completed", ""),
        ("representative_survey_is_completed", "support_conference_rep_exit_survey_completed", ""),
        (
            "someone_joins_a_support_session",
            "support_conference_member_added",
            "&type=representative&username=alex.morgan",
        ),
    ];
    for (setting, event, extra) in types {
        let others: Vec<String> =
            types.iter().filter(|(s, ..)| *s != setting).map(|(s, ..)| format!("\"{s}\"")).collect();
        let off =
            Listener::start(&profile("Desk", "default", &format!("outbound_event_types = [{}]", others.join(", "))))
                .await;
        let on = Listener::start(&profile("Desk", "default", &format!("outbound_event_types = [\"{setting}\"]"))).await;
        let body = format!("event={event}&timestamp=1795515302&lsid=abc{extra}");
        assert_eq!(off.post("", &body).await, (200, "ignored: its type is not enabled".to_owned()), "{setting} off");
        assert_eq!(on.post("", &body).await, (200, "stored".to_owned()), "{setting} on");
        assert!(off.jobs().await.is_empty() && on.jobs().await.len() == 1);
    }
}
