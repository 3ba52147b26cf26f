//! The API secret and integration code never appear in Debug output, error messages or logs,
//! whatever happens on the way.

#![allow(clippy::unwrap_used)]

mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bta_core::Secret;
use bta_core::autotask::{AutotaskClient, Query, Ticket, TicketNote};
use helpers::Autotask;

const SECRET: &str = "S3cr3t-Value-XYZ";
const CODE: &str = "INTEG-CODE-789";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the secret: {text}");
    assert!(!text.contains(CODE), "{what} shows the integration code: {text}");
}

#[tokio::test(flavor = "current_thread")]
async fn secrets_stay_out_of_debug_errors_and_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let at = Autotask::start_with(bta_sim::autotask::Config {
        secret: SECRET.into(),
        integration_code: CODE.into(),
        ..bta_sim::autotask::Config::default()
    })
    .await;
    let mut settings = at.settings();
    settings.secret = Secret::new(SECRET);
    settings.integration_code = Secret::new(CODE);
    assert_clean("settings", &format!("{settings:?}"));
    let client = AutotaskClient::new(settings.clone()).unwrap();
    assert_clean("client", &format!("{client:?}"));

    client.query_all::<Ticket>(Query::all().max_records(3)).await.unwrap();
    let rejected = client.create_child(7201, &TicketNote::default()).await.unwrap_err();
    assert_clean("a rejection", &format!("{rejected} {rejected:?}"));
    at.fail("GET", "Tickets/7201", 500, 10).await;
    let server = client.get::<Ticket>(7201).await.unwrap_err();
    assert_clean("a server error", &format!("{server} {server:?}"));

    let mut wrong = settings.clone();
    wrong.integration_code = Secret::new("not-the-code");
    let denied = AutotaskClient::new(wrong).unwrap().get::<Ticket>(7202).await.unwrap_err();
    assert_clean("a 401", &format!("{denied} {denied:?}"));
    assert!(!denied.to_string().contains("not-the-code"));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("Autotask call failed"), "the logs were captured: {logs}");
    assert_clean("the logs", &logs);
}
