//! The BeyondTrust client against the appliance stand-in over loopback: OAuth, TLS, the
//! Command API, the Reporting API over generated and replayed sessions, and LiveLinks.

#![allow(clippy::unwrap_used)]

mod helpers;

use std::time::Duration;

use bta_core::Secret;
use bta_core::beyondtrust::{
    BeyondTrustClient, ErrorKind, EventKind, Queue, SessionKeyRequest, SurveyKind, livelinks, read_sessions,
};
use helpers::Appliance;
use serde_json::json;

fn scenario() -> serde_json::Value {
    json!({
        "external_key": "7201", "duration": 900,
        "reps": [{"username": "alex.morgan", "display_name": "Alex Morgan"}, {"username": "sam.lee"}],
        "customer": {"name": "Dana Whitfield", "company": "Contoso Ltd", "issue": "Outlook",
                     "details": "Password prompts", "hostname": "WS-0042", "custom": {"customer_email": "dana@contoso.example"}},
        "chat": [{"from": "rep", "text": "Connecting now"}, {"from": "customer", "text": "OK <thanks> & bye"}],
        "notes": ["Fixed the credential"],
        "files": [{"name": "fix.reg", "size": 2048}],
        "surveys": {"customer": [{"label": "Satisfied?", "answer": "Yes"}], "rep": [{"label": "Resolved?", "answer": "Yes"}]}
    })
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let appliance = Appliance::start().await;
    let client = appliance.client();
    let calls = (0..20).map(|_| {
        let c = client.clone();
        tokio::spawn(async move { c.get_api_info().await })
    });
    for call in futures::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
    assert_eq!(appliance.token_requests().await, 1);
}

#[tokio::test]
async fn a_refused_token_is_renewed_once_and_the_call_retried() {
    let appliance = Appliance::start().await;
    let client = appliance.client();
    client.get_api_info().await.unwrap();
    appliance.post("oauth/revoke", json!({})).await; // as when the client secret is regenerated
    client.get_api_info().await.unwrap();
    assert_eq!(appliance.token_requests().await, 2);
    let statuses: Vec<u64> = appliance
        .get("requests")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/api/command")
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 401, 200], "one refused call, retried once");
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    let appliance = Appliance::start_with(bta_sim::beyondtrust::Config { token_ttl: 1, ..Default::default() }).await;
    let client = appliance.client();
    client.get_api_info().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await; // let the one-second token lapse
    client.get_api_info().await.unwrap();
    assert_eq!(appliance.token_requests().await, 2);
    let refused = appliance.get("requests").await.as_array().unwrap().iter().filter(|r| r["status"] == 401).count();
    assert_eq!(refused, 0, "the client renewed on its own, never sending a dead token");
}

#[tokio::test]
async fn bad_oauth_credentials_name_the_settings_and_never_the_secret() {
    let appliance = Appliance::start().await;
    let mut settings = appliance.settings();
    settings.client_secret = Secret::new("wrong-secret-123");
    let err = BeyondTrustClient::new(settings).unwrap().get_api_info().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Credentials);
    let text = format!("{err} {err:?}");
    assert!(text.contains("OAuth Client ID and Client Secret"), "{text}");
    assert!(!text.contains("wrong-secret-123"));
}

#[tokio::test]
async fn self_signed_certificates_are_refused_unless_allowed_or_their_ca_given() {
    let dir = std::env::temp_dir().join(format!("bta-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let appliance =
        Appliance::start_with(bta_sim::beyondtrust::Config { tls_cert_out: Some(ca.clone()), ..Default::default() })
            .await;
    assert!(appliance.sim.base_url.starts_with("https://"));

    let err = appliance.client().get_api_info().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Certificate, "{err}");
    assert!(err.to_string().contains("Allow Invalid Certificates"), "{err}");

    let mut allowed = appliance.settings();
    allowed.allow_invalid_certificates = true;
    BeyondTrustClient::new(allowed).unwrap().get_api_info().await.unwrap();

    let mut trusted = appliance.settings();
    trusted.ca_certificate_file = Some(ca.clone());
    BeyondTrustClient::new(trusted).unwrap().get_api_info().await.unwrap();
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn session_keys_carry_the_ticket_and_every_queue_form_works() {
    let appliance = Appliance::start().await;
    let client = appliance.client();
    let mut request = SessionKeyRequest::new(Queue::RepUsername("alex.morgan".into()));
    request.external_key = Some("7201".into());
    request.priority = Some(2);
    request.skills = vec!["windows".into(), "vpn".into()];
    request.custom = vec![("ticket_number".into(), "T20261124.0042".into())];
    let key = client.generate_session_key(&request).await.unwrap();
    assert_eq!(key.short_key.len(), 7);
    assert!(key.short_key.chars().all(|c| c.is_ascii_digit()));
    assert!(key.key_url.ends_with(&key.short_key));
    assert!(key.mail_body.as_deref().unwrap().contains(&key.short_key));
    assert!(key.expires.unwrap() > chrono::Utc::now());

    for queue in [Queue::General, Queue::Rep(3), Queue::Team(2), Queue::Issue("vpn".into())] {
        client.generate_session_key(&SessionKeyRequest::new(queue)).await.unwrap();
    }
    let issued = appliance.get("session-keys").await;
    let issued = issued.as_array().unwrap();
    assert_eq!(issued.len(), 5);
    assert_eq!(issued[0]["external_key"], "7201");
    assert_eq!(issued[0]["queue_id"], "rep_username:alex.morgan");
    assert_eq!(issued[0]["custom"], json!([["ticket_number", "T20261124.0042"]]));
    let keys: std::collections::HashSet<_> = issued.iter().map(|k| k["short_key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 5, "every key is unique");

    let err =
        client.generate_session_key(&SessionKeyRequest::new(Queue::RepUsername(String::new()))).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Appliance);
    assert!(err.message.as_deref().unwrap().starts_with("Invalid queue_id"), "{err}");
}

#[tokio::test]
async fn a_read_only_account_gets_a_permission_error_and_api_info_says_so() {
    let appliance = Appliance::start().await;
    appliance.post("permissions", json!({"command": "read_only"})).await;
    let client = appliance.client();
    let err = client.generate_session_key(&SessionKeyRequest::new(Queue::General)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Permission);
    assert_eq!(err.status, Some(403));
    let info = client.get_api_info().await.unwrap();
    assert!(!info.can_generate_session_keys());
    assert!(info.can_read_support_reports());
    assert_eq!(info.api_version.as_deref(), Some("1.26.1"));
    assert!(client.check_health().await.unwrap().iter().any(|(k, v)| k == "failover_role" && v == "primary"));
}

#[tokio::test]
async fn attributes_of_a_live_session_are_read_and_written() {
    let appliance = Appliance::start().await;
    let mut live = scenario();
    live["live"] = json!(true);
    live["external_key"] = json!("");
    let lsid = appliance.post("sessions", live).await["lsid"].as_str().unwrap().to_owned();
    let client = appliance.client();
    client
        .set_session_attributes(&lsid, Some("7209"), &[("ticket_number".into(), "T20261122.0061".into())])
        .await
        .unwrap();
    let attributes = client.get_session_attributes(&lsid).await.unwrap();
    let value = |code: &str| attributes.iter().find(|a| a.code_name == code).map(|a| a.value.clone());
    assert_eq!(value("external_key").as_deref(), Some("7209"));
    assert_eq!(value("ticket_number").as_deref(), Some("T20261122.0061"));

    appliance.post(&format!("sessions/{lsid}/end"), json!({})).await;
    let report = client.support_session(&lsid).await.unwrap().unwrap();
    assert_eq!(report.external_key.as_deref(), Some("7209"), "the report carries the written key");
    let err = client.set_session_attributes(&lsid, Some("1"), &[]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Appliance);
    assert!(err.message.unwrap().contains("not active"));
}

#[tokio::test]
async fn a_generated_session_reads_back_with_everything_in_it() {
    let appliance = Appliance::start_with(bta_sim::beyondtrust::Config { demo: false, ..Default::default() }).await;
    let lsid = appliance.post("sessions", scenario()).await["lsid"].as_str().unwrap().to_owned();
    let mut settings = appliance.settings();
    settings.locale = Some("de-de".into());
    let client = BeyondTrustClient::new(settings).unwrap();
    let s = client.support_session(&lsid).await.unwrap().unwrap();
    assert_eq!(s.external_key.as_deref(), Some("7201"));
    assert_eq!(s.duration_seconds(), Some(900));
    assert_eq!(s.primary_representative().unwrap().username.as_deref(), Some("alex.morgan"));
    assert_eq!(s.reps.len(), 2);
    assert_eq!(s.customers[0].info("customer_email"), Some("dana@contoso.example"));
    let chat: Vec<_> =
        s.events.iter().filter(|e| e.kind == EventKind::ChatMessage).map(|e| e.body.clone().unwrap()).collect();
    assert_eq!(chat, ["Connecting now", "OK <thanks> & bye"]);
    assert!(s.events.iter().any(|e| e.kind == EventKind::SystemInformation && e.system_info.len() == 4));
    assert!(s.events.iter().any(|e| e.kind == EventKind::FileTransfer && e.data("Filename") == Some("fix.reg")));
    assert!(s.events.iter().any(|e| e.kind == EventKind::SessionNote));
    assert!(client.support_session("ffffffffffffffffffffffffffffffff").await.unwrap().is_none());

    let start = s.start_time.unwrap() - chrono::Duration::hours(1);
    assert_eq!(client.support_sessions(start, Duration::ZERO).await.unwrap().len(), 1);
    assert_eq!(client.session_listing(start, Duration::ZERO).await.unwrap()[0].lsid, lsid);
    let customer = client.exit_surveys(SurveyKind::Customer, start, Duration::ZERO).await.unwrap();
    assert_eq!(customer[0].kind(), Some(SurveyKind::Customer));
    assert_eq!(customer[0].questions[0].answers, ["Yes"]);
    let rep = client.exit_surveys(SurveyKind::Representative, start, Duration::ZERO).await.unwrap();
    assert_eq!(rep[0].kind(), Some(SurveyKind::Representative));

    let locales: Vec<_> = appliance
        .get("requests")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] != "/oauth2/token")
        .map(|r| r["locale"].clone())
        .collect();
    assert!(locales.iter().all(|l| l == "de-de"), "the locale goes with every call: {locales:?}");
}

#[tokio::test]
async fn a_report_that_lags_the_end_shows_its_end_time_later() {
    let appliance = Appliance::start().await;
    let client = appliance.client();
    // The token and the connection first, so the first look below comes well within the lag.
    client.support_session("no-such-session").await.unwrap();
    let mut lagging = scenario();
    lagging["report_lag_ms"] = json!(1000);
    let lsid = appliance.post("sessions", lagging).await["lsid"].as_str().unwrap().to_owned();
    assert_eq!(client.support_session(&lsid).await.unwrap().unwrap().end_time, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if client.support_session(&lsid).await.unwrap().unwrap().end_time.is_some() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the end time never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn real_documents_are_replayed_verbatim() {
    let appliance = Appliance::start().await;
    let client = appliance.client();
    for name in ["support_session_rs.xml", "support_session_pra_shape.xml", "support_session_legacy.xml"] {
        let xml = std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let direct = read_sessions(xml.as_bytes()).next().unwrap().unwrap();
        let stored = appliance.replay(&xml).await;
        assert_eq!(stored["sessions"][0], direct.lsid.as_str());
        let fetched = client.support_session(&direct.lsid).await.unwrap().unwrap();
        assert_eq!(fetched, direct, "{name} comes back exactly as it went in");
    }
}

#[tokio::test]
async fn livelinks_open_the_rep_console_with_the_ticket() {
    let appliance = Appliance::start().await;
    let base = appliance.client().base_url().clone();
    let http = reqwest::Client::new();
    for url in [livelinks::session_key_link(&base, "7201"), livelinks::jump_link(&base, "WS-0042", "7201")] {
        let response = http.get(url.clone()).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
    }
    let scripts = appliance.get("client-scripts").await;
    assert_eq!(scripts[0]["action"], "generate_session_key");
    assert_eq!(scripts[0]["session.custom.external_key"], "7201");
    assert_eq!(scripts[1]["action"], "start_pinned_client_session");
    assert_eq!(scripts[1]["search_string"], "WS-0042");
}
