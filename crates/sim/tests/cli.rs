//! The command-line contract other tools rely on: `bta-sim autotask --port 0` prints its base
//! URL as the first line of stdout and serves until killed; flags set the credentials.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Sim {
    child: Child,
    base_url: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Sim {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bta-sim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bta-sim starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    Sim { child, base_url: line.trim().to_owned() }
}

#[tokio::test]
async fn first_line_is_the_base_url_and_credentials_come_from_flags() {
    let sim = start(&[
        "autotask",
        "--port",
        "0",
        "--username",
        "api@msp.example",
        "--secret",
        "s",
        "--integration-code",
        "c",
    ]);
    let port = sim.base_url.strip_prefix("http://127.0.0.1:").expect("http://127.0.0.1:<port>");
    assert!(port.parse::<u16>().unwrap() > 0);

    let http = reqwest::Client::new();
    let zone: serde_json::Value = http
        .get(format!("{}/atservicesrest/v1.0/zoneInformation?user=api%40msp.example", sim.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(zone["url"], format!("{}/atservicesrest/", sim.base_url));
    assert_eq!(zone["webUrl"], format!("{}/", sim.base_url));

    let ticket = |secret: &'static str| {
        http.get(format!("{}/atservicesrest/v1.0/Tickets/7201", sim.base_url))
            .header("UserName", "api@msp.example")
            .header("Secret", secret)
            .header("ApiIntegrationCode", "c")
            .send()
    };
    assert_eq!(ticket("s").await.unwrap().status(), 200);
    let denied = ticket("wrong").await.unwrap();
    assert_eq!(denied.status(), 401);
    let body: serde_json::Value = denied.json().await.unwrap();
    assert!(body["errors"][0].as_str().unwrap().contains("Authentication failed"));
}

#[tokio::test]
async fn empty_starts_without_demo_records() {
    let sim = start(&["autotask", "--empty"]);
    let records: serde_json::Value =
        reqwest::get(format!("{}/_sim/records", sim.base_url)).await.unwrap().json().await.unwrap();
    assert_eq!(records["Tickets"], serde_json::json!([]));
}

#[tokio::test]
async fn the_appliance_prints_its_url_and_writes_its_ca_for_tls() {
    let plain = start(&["beyondtrust", "--port", "0", "--empty"]);
    assert!(plain.base_url.starts_with("http://127.0.0.1:"), "{}", plain.base_url);

    let ca = std::env::temp_dir().join(format!("bta-cli-ca-{}.pem", std::process::id()));
    let tls = start(&["beyondtrust", "--tls", "--cert-out", ca.to_str().unwrap()]);
    assert!(tls.base_url.starts_with("https://127.0.0.1:"), "{}", tls.base_url);
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.contains("BEGIN CERTIFICATE"));
    let certificate = reqwest::Certificate::from_pem(pem.as_bytes()).unwrap();
    let http = reqwest::Client::builder().add_root_certificate(certificate).build().unwrap();
    let token = http
        .post(format!("{}/oauth2/token", tls.base_url))
        .basic_auth(bta_sim::beyondtrust::DEFAULT_CLIENT_ID, Some(bta_sim::beyondtrust::DEFAULT_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200, "the written CA is what signed the served certificate");
    std::fs::remove_file(ca).ok();
}
