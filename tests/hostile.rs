//! The real `bt-autotask-worker` against whoever can reach its ports: each attack a desk's
//! security reviewer would try, and the worker's answer to it — floods of made-up appliance ids,
//! half-sent requests and silent connections (plain and TLS), the open-files limit reached,
//! guessed console passwords all at once, a console session sending the API secrets elsewhere,
//! forged events choosing a ticket, oversized bodies, a revoked rep's open long poll, a rep over
//! their Autotask budget, monitoring data asked from outside, and a desk behind one address.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bta_e2e::{Stands, Worker, add_admin, enrol_with_code, free_port, rss_kb, worker_says};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PASSWORD: &str = "a long console passphrase";
/// The read and handshake timeouts these workers run with: short, so a test waits little.
const TIMEOUTS: &str = "request_read_timeout_seconds = 2\ntls_handshake_timeout_seconds = 2\nidle_timeout_seconds = 3";

/// How long a connection the worker should close may stay open before the test fails: the
/// timeout and a loaded machine's slack.
const CLOSED_WITHIN: Duration = Duration::from_secs(12);

/// The worker's CPU time so far (user and system), in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// A metric's value from a scrape, summed over its label sets that contain `labels`.
fn metric(scrape: &str, name: &str, labels: &str) -> f64 {
    scrape
        .lines()
        .filter(|l| l.starts_with(name) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn scrape(port: u16) -> String {
    reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap()
}

/// Reads until the server closes the connection or `within` passes: whether it closed.
async fn closed_within<S: AsyncReadExt + Unpin>(stream: &mut S, within: Duration) -> bool {
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// An event the appliance would post, as a form, for `lsid` (made up unless the session is real).
fn event(name: &str, lsid: &str, external_key: &str, member: Option<&str>) -> String {
    let mut fields = vec![
        ("event", name.to_owned()),
        ("version", "3".to_owned()),
        ("timestamp", chrono::Utc::now().timestamp().to_string()),
        ("lsid", lsid.to_owned()),
        ("external_key", external_key.to_owned()),
        ("appliance_id", "default".to_owned()),
    ];
    if let Some(rep) = member {
        fields.extend([
            ("username", rep.to_owned()),
            ("user_id", "1".to_owned()),
            ("type", "representative".to_owned()),
        ]);
        fields.push(("display_name", rep.to_owned()));
    }
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()))
        .collect::<Vec<_>>()
        .join("&")
}

async fn post_event(port: u16, query: &str, body: String) -> u16 {
    let url = format!("http://127.0.0.1:{port}/ERSPost{query}");
    let sent = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    sent.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_made_up_appliance_ids_leaves_metrics_and_memory_flat_and_stores_nothing() {
    let stands = Stands::start().await;
    let port = free_port();
    let config = stands.config(port, "", "");
    let worker = Worker::start(&config, port).await;
    let flood = |from: usize, count: usize| async move {
        let http = reqwest::Client::new();
        let body = event("support_conference_end", "made-up", "7201", None);
        let posts = (from..from + count).map(|n| {
            let (http, body) = (http.clone(), body.clone());
            async move {
                let url = format!("http://127.0.0.1:{port}/ERSPost?appliance=made-up-{n}");
                http.post(url).body(body).send().await.unwrap().status().as_u16()
            }
        });
        futures::stream::iter(posts).buffer_unordered(32).collect::<Vec<u16>>().await
    };
    use futures::StreamExt;
    assert!(flood(0, 300).await.iter().all(|s| *s == 404), "refused: no profile has those ids");
    let (metrics_before, rss_before) = (scrape(port).await.len(), rss_kb(worker.pid()));
    assert!(flood(300, 3000).await.iter().all(|s| *s == 404));
    let after = scrape(port).await;
    let (grown, rss_after) = (after.len() as i64 - metrics_before as i64, rss_kb(worker.pid()));
    println!("metrics {metrics_before} → {} bytes; RSS {rss_before} → {rss_after} kB", after.len());
    assert!(grown.abs() < 64, "the scrape stays the same size (one label for every unknown id): grew {grown} bytes");
    assert_eq!(metric(&after, "bta_intake_answers_total", "(unknown appliance)"), 3300.0);
    assert!(!after.contains("made-up-"), "no label from the requests");
    assert!(rss_after < rss_before + 20 * 1024, "memory stays flat: {rss_before} → {rss_after} kB");
    assert!(worker_says(&["jobs"], &config).unwrap().lines().all(|l| !l.contains("made-up")), "nothing stored");
    assert!(worker.stop());
    let log = std::fs::read_to_string(Worker::log_of(&config)).unwrap();
    let said = log.lines().filter(|l| l.contains("appliance ids no profile has")).count();
    assert!((1..=2).contains(&said), "said once a minute, not once an event: {said} lines");
}

/// A TLS client trusting `ca`, for a connection it then leaves half-done.
async fn tls_to(port: u16, ca: &str) -> tokio_rustls::client::TlsStream<TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(certificate.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    connector.connect("localhost".try_into().unwrap(), tcp).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_and_silent_connections_are_closed_in_time_on_plain_and_tls_listeners() {
    let stands = Stands::start().await;
    let (plain, secure, console) = (free_port(), free_port(), free_port());
    let plain_config = stands.config(plain, TIMEOUTS, "");
    let plain_worker = Worker::start(&plain_config, plain).await;
    let mut half = TcpStream::connect(("127.0.0.1", plain)).await.unwrap();
    half.write_all(b"POST /ERSPost HTTP/1.1\r\nHost: desk\r\nContent-Le").await.unwrap();
    let mut silent = TcpStream::connect(("127.0.0.1", plain)).await.unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut half, CLOSED_WITHIN).await, "a half-sent head on plain HTTP");
    assert!(closed_within(&mut silent, CLOSED_WITHIN).await, "a connection that never speaks");
    println!("plain: closed after {:.1} s", started.elapsed().as_secs_f64());
    assert!(plain_worker.stop());

    let other = tempfile::tempdir().unwrap();
    let (ca, certificate, key) = bta_e2e::certificate_from_a_new_ca();
    std::fs::write(other.path().join("desk.crt"), certificate).unwrap();
    std::fs::write(other.path().join("desk.key"), key).unwrap();
    let top = format!(
        "{TIMEOUTS}\ntls_certificate_file = \"desk.crt\"\ntls_key_file = \"desk.key\"\nconsole_listen = \"127.0.0.1:{console}\""
    );
    let text = std::fs::read_to_string(stands.config(secure, &top, "")).unwrap();
    let tls_config = other.path().join("worker.toml");
    std::fs::write(
        &tls_config,
        text.replace("data_dir = \"data\"", &format!("data_dir = \"{}\"", other.path().join("data").display())),
    )
    .unwrap();
    let tls_worker = Worker::start(&tls_config, secure).await;
    for port in [secure, console] {
        let mut no_handshake = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        no_handshake.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
        let mut half = tls_to(port, &ca).await;
        half.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n").await.unwrap();
        half.flush().await.unwrap();
        let mut idle = tls_to(port, &ca).await;
        assert!(closed_within(&mut no_handshake, CLOSED_WITHIN).await, "a handshake never finished, port {port}");
        assert!(closed_within(&mut half, CLOSED_WITHIN).await, "a half-sent head after the handshake, port {port}");
        assert!(closed_within(&mut idle, CLOSED_WITHIN).await, "a TLS connection that never asks, port {port}");
    }
    assert!(tls_worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_open_files_limit_the_accept_loop_neither_spins_nor_floods_the_log() {
    let stands = Stands::start().await;
    let port = free_port();
    // Connections are held long enough to measure while the worker cannot open more files.
    let config =
        stands.config(port, "request_read_timeout_seconds = 30\nidle_timeout_seconds = 30\nconsole_listen = \"\"", "");
    let worker = Worker::start_with_open_files(&config, port, 64).await;
    let mut held = Vec::new();
    for _ in 0..120 {
        match tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(("127.0.0.1", port))).await {
            Ok(Ok(stream)) => held.push(stream),
            _ => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log_before = std::fs::read_to_string(Worker::log_of(&config)).unwrap().len();
    let cpu_before = cpu_seconds(worker.pid());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu = cpu_seconds(worker.pid()) - cpu_before;
    let log = std::fs::read_to_string(Worker::log_of(&config)).unwrap();
    println!(
        "{} connections held; {cpu:.2} s of CPU in 3 s; the log grew {} bytes",
        held.len(),
        log.len() - log_before
    );
    assert!(log.contains("connections cannot be accepted"), "the limit is said: {log}");
    assert!(cpu < 1.0, "the accept loop backs off instead of spinning: {cpu:.2} s of CPU in 3 s");
    assert!(log.len() - log_before < 2000, "said once, not once an attempt: {} bytes more", log.len() - log_before);
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_ok_and(|r| r.status() == 200);
        if up {
            break;
        }
        assert!(Instant::now() < deadline, "the worker never accepted again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(worker.stop());
    let log = std::fs::read_to_string(Worker::log_of(&config)).unwrap();
    let said = log.lines().filter(|l| l.contains("connections cannot be accepted")).count();
    assert_eq!(said, 1, "said once for the whole test, however often the limit was met: {log}");
}

/// A worker with its console on `console` and admin dana, its reps' desk served.
async fn desk_with_console(stands: &Stands, port: u16, console: u16, top: &str) -> (Worker, PathBuf) {
    let top = format!("console_listen = \"127.0.0.1:{console}\"\nretry_delay_ms = 50\nreport_lag_wait_ms = 50\n{top}");
    let config = stands.config(port, &top, "desk_watch = true");
    add_admin(&config, "dana", PASSWORD).unwrap();
    let worker = Worker::start(&config, port).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", console)).await.is_err() {
        assert!(Instant::now() < deadline, "the console never listened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (worker, config)
}

async fn login(http: &reqwest::Client, console: u16, name: &str, password: &str) -> reqwest::Response {
    let base = format!("http://127.0.0.1:{console}");
    http.post(format!("{base}/api/login"))
        .header("Origin", &base)
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessed_console_passwords_at_once_are_checked_no_more_than_the_allowance() {
    let stands = Stands::start().await;
    let (port, console) = (free_port(), free_port());
    let (worker, config) = desk_with_console(&stands, port, console, "").await;
    let http = reqwest::Client::new();
    let guesses = (0..24).map(|n| {
        let http = http.clone();
        async move { login(&http, console, "dana", &format!("guess number {n}")).await.status().as_u16() }
    });
    let statuses = futures::future::join_all(guesses).await;
    let scraped = scrape(port).await;
    let checked = metric(&scraped, "bta_console_logins_total", "outcome=\"wrong\"");
    println!("24 guesses at once: {statuses:?}; {checked} password(s) checked");
    assert!(checked <= 5.0, "at most the allowance checked, however many at once: {checked}");
    assert_eq!(statuses.iter().filter(|s| **s == 401).count() as f64, checked);
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    let slowed = login(&http, console, "dana", PASSWORD).await;
    assert_eq!(slowed.status(), 429, "dana from this address waits");
    assert!(slowed.headers().contains_key("retry-after"));
    add_admin(&config, "sam", PASSWORD).unwrap();
    assert_eq!(login(&http, console, "sam", PASSWORD).await.status(), 200, "another admin from the same address");
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_session_cannot_send_the_api_secrets_to_another_host() {
    let stands = Stands::start().await;
    let (port, console) = (free_port(), free_port());
    let (worker, config) = desk_with_console(&stands, port, console, "").await;
    let http = reqwest::Client::new();
    let answer = login(&http, console, "dana", PASSWORD).await;
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = answer.json::<Value>().await.unwrap()["csrf"].as_str().unwrap().to_owned();
    let base = format!("http://127.0.0.1:{console}");
    let view: Value =
        http.get(format!("{base}/api/profiles")).header("Cookie", &cookie).send().await.unwrap().json().await.unwrap();
    let values = view["profiles"][0]["values"].clone();
    let save = |values: Value, secrets: Value| {
        let (http, base, cookie, csrf) = (http.clone(), base.clone(), cookie.clone(), csrf.clone());
        async move {
            let body = json!({"original": "Desk", "values": values, "secrets": secrets});
            let sent = http.post(format!("{base}/api/profiles/save")).header("Cookie", &cookie).header("Origin", &base);
            let answer = sent.header("X-CSRF-Token", &csrf).json(&body).send().await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    let before = std::fs::read_to_string(&config).unwrap();
    for (setting, value) in [
        ("appliance_host", json!("127.0.0.2:8443")),
        ("autotask_services_url", json!("http://127.0.0.2:8443/ATServicesRest")),
        ("allow_invalid_certificates", json!(true)),
    ] {
        let mut changed = values.clone();
        changed[setting] = value;
        let (status, said) = save(changed.clone(), json!({})).await;
        assert_eq!(status, 422, "{setting}: {said}");
        assert!(said.contains(setting) && said.contains("environment variable"), "{setting}: {said}");
        let typed =
            json!({"client_secret": "typed", "autotask_password": "typed", "autotask_integration_code": "typed"});
        assert_eq!(save(changed, typed).await.0, 422, "{setting}: not with secrets the server reads elsewhere either");
        assert_eq!(std::fs::read_to_string(&config).unwrap(), before, "{setting}: nothing written");
    }
    let mut harmless = values.clone();
    harmless["retry_attempt_limit"] = json!("4");
    assert_eq!(save(harmless, json!({})).await.0, 200, "any other setting is saved as before");
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_events_cannot_choose_a_ticket_or_a_created_tickets_fields() {
    let stands = Stands::start().await;
    let port = free_port();
    let profile = r#"outbound_event_types = ["support_session_end", "customer_exit_survey_is_completed", "someone_joins_a_support_session"]
enable_automatic_ticket_creation = true
automatic_ticket_creation_without_external_key = true
ticket_default_data = { companyName = "Dynamo Corporation", title = "Remote support: {{Issue}}", description = "{{Details}}", status = 1, priority = 2, queueID = 8 }"#;
    let config = stands.config(port, "retry_delay_ms = 50\nreport_lag_wait_ms = 50", profile);
    let worker = Worker::start(&config, port).await;
    // A real session on ticket 7201 with a customer survey; the appliance itself sends nothing.
    let session = json!({"external_key": "7201", "duration": 300, "reps": [{"username": "alex.morgan"}],
                         "customer": {"name": "Dana Whitfield"},
                         "surveys": {"customer": [{"label": "How satisfied were you?", "answer": "Very satisfied"}]}});
    let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
    let forged = event("support_conference_customer_exit_survey_completed", &lsid, "7205", None);
    assert_eq!(post_event(port, "", forged).await, 200);
    // A live session from the portal, no ticket yet: a forged join names fields of its own.
    let live = json!({"external_key": "", "live": true, "duration": 300, "reps": [{"username": "alex.morgan"}],
                      "customer": {"name": "Miguel Ortega", "issue": "VPN Access", "details": "VPN drops"}});
    let portal = stands.appliance("sessions", live).await["lsid"].as_str().unwrap().to_owned();
    let overlay = r#"{"title": "Forged title", "companyID": 0, "description": "forged"}"#;
    assert_eq!(
        post_event(port, "", event("support_conference_member_added", &portal, overlay, Some("alex.morgan"))).await,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let (surveyed, created) = loop {
        let notes = stands.records("TicketNotes").await;
        let surveyed: Vec<Value> = notes
            .into_iter()
            .filter(|n| n["description"].as_str().is_some_and(|d| d.contains("Very satisfied")))
            .collect();
        let marker = format!("[BeyondTrust session {portal} created this ticket]");
        let created: Vec<Value> = stands
            .records("Tickets")
            .await
            .into_iter()
            .filter(|t| t["description"].as_str().is_some_and(|d| d.contains(&marker)))
            .collect();
        if !surveyed.is_empty() && !created.is_empty() {
            break (surveyed, created);
        }
        assert!(
            Instant::now() < deadline,
            "the survey and the ticket never came: {}",
            worker_says(&["jobs"], &config).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(surveyed.len(), 1);
    assert_eq!(surveyed[0]["ticketID"], 7201, "the survey lands on the session's own ticket, not the event's 7205");
    assert_eq!(
        created[0]["title"], "Remote support: VPN Access",
        "the fields come from Ticket Default Data and the report"
    );
    assert!(!created[0]["description"].as_str().unwrap().contains("forged"));
    assert_eq!(created[0]["companyID"], 175);
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_answered_413_on_every_listener() {
    let stands = Stands::start().await;
    let (port, console) = (free_port(), free_port());
    let (worker, _config) = desk_with_console(&stands, port, console, "").await;
    for (port, path) in
        [(port, "/ERSPost"), (port, "/desk/enrol"), (port, "/desk/unlinked/attach"), (console, "/api/login")]
    {
        for declared in [true, false] {
            let answer = five_megabytes(port, path, declared).await;
            assert!(answer.starts_with("HTTP/1.1 413"), "{path}, length declared: {declared}: {answer:?}");
        }
    }
    assert!(worker.stop());
}

/// Posts 5 MB to `path` as a client that keeps sending — its length declared, or chunked — and
/// reads what the worker answers meanwhile: the answer's head.
async fn five_megabytes(port: u16, path: &str, declared: bool) -> String {
    const SIZE: usize = 5 * 1024 * 1024;
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let length = if declared { format!("Content-Length: {SIZE}") } else { "Transfer-Encoding: chunked".to_owned() };
    let head = format!("POST {path} HTTP/1.1\r\nHost: desk\r\nContent-Type: application/json\r\n{length}\r\n\r\n");
    let sending = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..SIZE / chunk.len() {
            if !declared {
                writer.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
            }
            writer.write_all(&chunk).await?;
            if !declared {
                writer.write_all(b"\r\n").await?;
            }
        }
        std::io::Result::Ok(())
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(CLOSED_WITHIN, reader.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buffer[..n]),
            _ => break,
        }
    }
    sending.abort();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Enrols alex at the worker on `port` (its config at `config`): the token.
async fn enrolled_alex(config: &Path, port: u16) -> String {
    let added: Value = serde_json::from_str(
        &worker_says(&["rep", "add", "alex.morgan", "--profile", "Desk", "--json"], config).unwrap(),
    )
    .unwrap();
    let enrolled = enrol_with_code(&format!("http://127.0.0.1:{port}"), added["code"].as_str().unwrap()).await.unwrap();
    enrolled["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_reps_open_long_poll_ends_at_once() {
    let stands = Stands::start().await;
    let port = free_port();
    let config = stands.config(port, "ticket_watch_seconds = 60", "desk_watch = true");
    let worker = Worker::start(&config, port).await;
    let token = enrolled_alex(&config, port).await;
    let http = reqwest::Client::new();
    let changes = format!("http://127.0.0.1:{port}/desk/changes");
    let first: Value = http.get(&changes).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let cursor = first["cursor"].as_str().unwrap().to_owned();
    let poll = {
        let (http, changes, token) = (http.clone(), changes.clone(), token.clone());
        tokio::spawn(async move {
            let answer = http
                .get(&changes)
                .query(&[("after", cursor.as_str()), ("wait", "60")])
                .bearer_auth(&token)
                .send()
                .await;
            (answer.unwrap().status().as_u16(), Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!poll.is_finished(), "the long poll waits");
    assert!(worker_says(&["rep", "revoke", "alex.morgan"], &config).unwrap().contains("Revoked"));
    let revoked = Instant::now();
    let (status, ended) = tokio::time::timeout(Duration::from_secs(30), poll).await.expect("the poll ended").unwrap();
    println!("the revoked long poll ended {:.2} s after the revocation", ended.duration_since(revoked).as_secs_f64());
    assert_eq!(status, 401, "refused once revoked");
    assert!(ended.duration_since(revoked) < Duration::from_secs(10), "long before its 60 s wait");
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_over_their_autotask_budget_is_told_when_to_try_again() {
    let stands = Stands::start().await;
    let port = free_port();
    let config = stands.config(port, "rep_autotask_searches_per_hour = 10", "desk_watch = true");
    let worker = Worker::start(&config, port).await;
    let token = enrolled_alex(&config, port).await;
    let http = reqwest::Client::new();
    let search = |q: &'static str| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            let answer = http
                .get(format!("http://127.0.0.1:{port}/desk/search"))
                .query(&[("q", q), ("all", "true")])
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let wait = answer.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            (answer.status().as_u16(), wait, answer.text().await.unwrap())
        }
    };
    assert_eq!(search("printer").await.0, 200, "the first of 10 an hour");
    let (status, wait, said) = search("outlook").await;
    assert_eq!(status, 429, "{said}");
    let wait: u64 = wait.expect("Retry-After").parse().unwrap();
    assert!(wait > 60 && wait <= 360, "one every 6 minutes: {wait} s");
    assert!(said.contains("10 an hour") && said.contains("copy"), "said in words: {said}");
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_details_only_for_the_addresses_named_and_a_right_token_from_any() {
    let stands = Stands::start().await;
    let (port, console) = (free_port(), free_port());
    let (worker, config) = desk_with_console(&stands, port, console, "monitoring_allowlist = [\"192.0.2.1\"]").await;
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 403, "not an address the configuration names");
    for url in [format!("http://127.0.0.1:{port}/healthz"), format!("http://127.0.0.1:{console}/healthz")] {
        let health: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        assert_eq!(health, json!({"status": "up"}), "{url}: up or not, nothing more");
    }
    // A desk behind one address: a guesser there is told to wait, a rep's right token is served.
    let token = enrolled_alex(&config, port).await;
    let http = reqwest::Client::new();
    let changes = format!("http://127.0.0.1:{port}/desk/changes");
    let mut statuses = Vec::new();
    for n in 0..8 {
        statuses
            .push(http.get(&changes).bearer_auth(format!("btarep_guess{n}")).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert_eq!(
        http.get(&changes).bearer_auth(&token).send().await.unwrap().status(),
        200,
        "the right token from the same address"
    );
    assert!(worker.stop());
}
