//! Chaos: 200 sessions through the appliance stand-in's real outbound delivery, with 10 %
//! injected faults on both stand-ins (some of them after Autotask carried the write out), and
//! the real worker killed with SIGKILL at random moments five times and restarted. In the end
//! every session has exactly one note and one time entry, and the appliance's queue is drained.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use bta_e2e::{Stands, Worker, free_port};
use rand::Rng;
use serde_json::json;

const SESSIONS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_lands_exactly_once_through_faults_and_kill_9() {
    let stands = Stands::start().await;
    let port = free_port();
    let config = stands.config(port, "retry_delay_ms = 50\nreport_lag_wait_ms = 50", "retry_attempt_limit = 60");
    for (method, after) in [("*", false), ("POST", true)] {
        let fault = json!({"method": method, "path": "/atservicesrest/v1.0/", "status": 500, "probability": 0.05, "after_processing": after});
        stands.autotask_fault(fault).await;
    }
    stands.appliance("faults", json!({"path": "/api/", "status": 503, "probability": 0.1})).await;

    let mut worker = Worker::start(&config, port).await;
    let recipient = json!({"url": format!("http://127.0.0.1:{port}/ERSPost"), "events": ["support_conference_end"],
                           "retry_ms": 50, "timeout_ms": 3000});
    stands.appliance("recipients", recipient).await;
    let mut tickets = HashMap::new();
    for i in 0..SESSIONS {
        let ticket = 7201 + (i % 24) as i64;
        let rep = ["alex.morgan", "sam.lee", "jordan.kim", "priya.patel"][i % 4];
        let session = json!({"external_key": ticket.to_string(), "duration": 60 + i * 7,
                             "reps": [{"username": rep}],
                             "chat": [{"from": "rep", "text": format!("Session {i}")}]});
        let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
        tickets.insert(lsid, ticket);
    }

    for _ in 0..5 {
        let pause = rand::rng().random_range(150..700);
        tokio::time::sleep(Duration::from_millis(pause)).await; // let it get somewhere, then pull the plug
        worker.kill_9();
        worker = Worker::start(&config, port).await;
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let (notes, entries) = loop {
        let notes = stands.records("TicketNotes").await;
        let entries = stands.records("TimeEntries").await;
        let noted = tickets.keys().filter(|lsid| notes.iter().any(|n| mentions(n, "description", lsid))).count();
        let timed = tickets.keys().filter(|lsid| entries.iter().any(|t| mentions(t, "internalNotes", lsid))).count();
        let drained = stands.deliveries().await[0]["pending"] == 0;
        if noted == SESSIONS && timed == SESSIONS && drained {
            break (notes, entries);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after the chaos: {noted} of {SESSIONS} noted, {timed} timed, queue drained: {drained}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(worker.stop(), "the worker stops cleanly at the end");

    for (lsid, ticket) in &tickets {
        let mine: Vec<_> = notes.iter().filter(|n| mentions(n, "description", lsid)).collect();
        assert_eq!(mine.len(), 1, "session {lsid}: {} notes", mine.len());
        assert_eq!(mine[0]["ticketID"], *ticket);
        let timed = entries.iter().filter(|t| mentions(t, "internalNotes", lsid)).count();
        assert_eq!(timed, 1, "session {lsid}: {timed} time entries");
    }
    let delivered = stands.deliveries().await[0]["delivered"].as_u64().unwrap();
    assert_eq!(delivered, SESSIONS as u64, "every end event delivered once with a 200");
}

fn mentions(record: &serde_json::Value, field: &str, lsid: &str) -> bool {
    record[field].as_str().is_some_and(|text| text.contains(lsid))
}

/// Two workers share one store (the deployment of issue #40, on one machine); the one the
/// appliance delivers to is killed with SIGKILL with sessions in flight and never comes back.
/// The other takes its jobs once their claims lapse: every session lands exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_has_its_jobs_finished_by_another_sharing_its_store() {
    let stands = Stands::start().await;
    let data = stands.dir.path().join("shared-data");
    killed_mid_job(&stands, format!("data_dir = {data:?}")).await;
}

/// The same on PostgreSQL, each worker with a data folder of its own as on a machine of its own:
/// the jobs are claimed with `SKIP LOCKED` under the same leases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_has_its_jobs_finished_by_another_on_postgresql() {
    let stands = Stands::start().await;
    killed_mid_job(&stands, stands.postgres_store()).await;
}

/// Two workers with `store` settings (and a data folder each unless they name one): the first
/// is delivered 15 sessions and killed; the second must write each of them exactly once.
async fn killed_mid_job(stands: &Stands, store: String) {
    const DELIVERED: usize = 15;
    // Slow enough that the first worker has jobs in flight when it dies.
    stands.post(format!("{}/_sim/latency", stands.autotask.base_url), json!({"ms": 250})).await;
    let config = |port: u16, name: &str| {
        let dir = stands.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let own_data =
            if store.contains("data_dir") { String::new() } else { format!("data_dir = {:?}\n", dir.join("data")) };
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\n{store}\n{own_data}retry_delay_ms = 50\nreport_lag_wait_ms = 50\n\n{}",
            stands.profile("Desk", "")
        );
        let path = dir.join("worker.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let (port_a, port_b) = (free_port(), free_port());
    let first = Worker::start(&config(port_a, "a"), port_a).await;
    let second = Worker::start(&config(port_b, "b"), port_b).await;
    let recipient = json!({"url": format!("http://127.0.0.1:{port_a}/ERSPost"), "events": ["support_conference_end"],
                           "retry_ms": 50});
    stands.appliance("recipients", recipient).await;
    let mut lsids = Vec::new();
    for i in 0..DELIVERED {
        let session = json!({"external_key": (7201 + i as i64).to_string(), "duration": 300,
                             "reps": [{"username": "alex.morgan"}]});
        lsids.push(stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stands.deliveries().await[0]["pending"] != 0 {
        assert!(tokio::time::Instant::now() < deadline, "the sessions were not delivered to the first worker");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill_9();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let (notes, entries) = loop {
        let (notes, entries) = (stands.records("TicketNotes").await, stands.records("TimeEntries").await);
        let landed = lsids
            .iter()
            .filter(|l| {
                notes.iter().any(|n| mentions(n, "description", l))
                    && entries.iter().any(|t| mentions(t, "internalNotes", l))
            })
            .count();
        if landed == DELIVERED {
            break (notes, entries);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{landed} of {DELIVERED} sessions landed without the first worker"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for lsid in &lsids {
        assert_eq!(notes.iter().filter(|n| mentions(n, "description", lsid)).count(), 1, "session {lsid}: notes");
        assert_eq!(entries.iter().filter(|t| mentions(t, "internalNotes", lsid)).count(), 1, "session {lsid}: time");
    }
    assert!(second.stop());
}

/// Two workers on one PostgreSQL serve the desk behind one address: one of them looks at Autotask
/// for it (one watch's requests, not two) and registers its ticket webhook; the other takes the
/// callouts the address hands it, signed with the desk's secret, into the same copy, refuses a
/// replay of one the first took, tells its apps what the first's looks found and searches the
/// same copy. Killed, the looker is replaced within 10 s (the webhook kept with the same
/// secret); an app that knows both addresses searches at the other at once, and its cursor goes
/// on there without missing a change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_watch_has_one_looker_on_postgresql_and_another_takes_over_when_it_dies() {
    let stands = Stands::start().await;
    let store = stands.postgres_store();
    let (port_a, port_b) = (free_port(), free_port());
    let url = |port: u16| format!("http://127.0.0.1:{port}");
    // The desk's address (its balancer's) hands every callout to the second worker.
    let config = |port: u16, name: &str| {
        let dir = stands.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\n{store}\ndata_dir = {:?}\nticket_watch_seconds = 5\n\
             autotask_webhooks = true\npublic_url = \"{}\"\n\n{}",
            dir.join("data"),
            url(port_b),
            stands.profile("Desk", "desk_watch = true")
        );
        let path = dir.join("worker.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let (config_a, config_b) = (config(port_a, "a"), config(port_b, "b"));
    let mut workers = HashMap::from([(port_a, Worker::start(&config_a, port_a).await)]);
    one_looker(&stands, [port_a], Duration::from_secs(20)).await;
    workers.insert(port_b, Worker::start(&config_b, port_b).await);
    let (looker, other) = one_looker(&stands, [port_a, port_b], Duration::from_secs(10)).await;
    assert_eq!((looker, other), (port_a, port_b), "the first keeps the watch");
    let health = stands.get(format!("{}/healthz", url(port_b))).await;
    assert!(health["duties"]["retention"]["held_by"].is_string(), "one worker prunes the store: {health}");
    let added = bta_e2e::worker_says(&["rep", "add", "alex.morgan", "--profile", "Desk", "--json"], &config_a).unwrap();
    let code = serde_json::from_str::<serde_json::Value>(&added).unwrap()["code"].as_str().unwrap().to_owned();
    let token = bta_e2e::enrol_with_code(&url(port_a), &code).await.unwrap()["token"].as_str().unwrap().to_owned();
    let desk = |port: u16, path: &str| stands.http.get(format!("{}{path}", url(port))).bearer_auth(&token);

    // The other worker has the copy the looker filled, and searches it: Alex's open tickets.
    let mine = loop {
        let health = stands.get(format!("{}/healthz", url(other))).await;
        let response = desk(other, "/desk/search?q=").send().await.unwrap();
        let rows: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default();
        let filled = health["ticket_copies"]["Desk"]["filled_at"].is_string();
        if let (true, Some(id)) = (filled, rows[0]["id"].as_i64()) {
            assert!(health["ticket_copies"]["Desk"]["tickets"].as_u64() > Some(0), "{health}");
            break id;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let first: serde_json::Value = desk(other, "/desk/changes").send().await.unwrap().json().await.unwrap();
    let cursor = first["cursor"].as_str().unwrap().to_owned();

    // One worker's looks: at most one each 5 s (two lookers would make about twice as many).
    let looks = || async {
        let log = stands.get(format!("{}/_sim/requests", stands.autotask.base_url)).await;
        let log = log.as_array().cloned().unwrap_or_default();
        log.iter().filter(|r| r["endpoint"] == "Tickets" && r["filter_fields"][0] == "lastActivityDate").count()
    };
    let (before, started) = (looks().await, tokio::time::Instant::now());
    tokio::time::sleep(Duration::from_secs(15)).await;
    let seconds = started.elapsed().as_secs_f64();
    let looked = looks().await - before;
    assert!((looked as f64) <= seconds / 5.0 + 1.5, "{looked} looks in {seconds:.1} s: more than one worker looks");
    assert!(looked >= 2, "nobody looks: {looked} in {seconds:.1} s");

    // The looker registered the webhook; Autotask's callouts reach the other worker, which takes
    // them with the desk's secret into the copy both search.
    let hooks = stands.records("TicketWebhooks").await;
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let secret = hooks[0]["secretKey"].as_str().unwrap().to_owned();
    retitle(&stands, mine, "Yak shaving outage").await;
    let titled = |port: u16, title: &'static str| {
        let search = desk(port, "/desk/search").query(&[("q", mine.to_string())]);
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let rows: serde_json::Value = search.try_clone().unwrap().send().await.unwrap().json().await.unwrap();
                if rows[0]["title"] == title {
                    return;
                }
                assert!(tokio::time::Instant::now() < deadline, "{title:?} not found at {port}: {rows}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    titled(looker, "Yak shaving outage").await;
    let health = stands.get(format!("{}/healthz", url(other))).await;
    assert!(health["ticket_copies"]["Desk"]["last_webhook_at"].is_string(), "the other took the callout: {health}");
    // A callout one worker took is a replay at the other.
    let record = stands.records("Tickets").await.into_iter().find(|t| t["id"] == json!(mine)).unwrap();
    let callout = |title: &str| {
        let mut fields = record.clone();
        fields["title"] = json!(title);
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        fields["lastActivityDate"] = json!(now);
        json!({"Action": "Update", "EntityType": "Ticket", "Id": mine, "Fields": fields, "EventTime": now}).to_string()
    };
    let post = async |port: u16, body: &str| {
        let signature = bta_sim::autotask::webhooks::sign(&secret, body.as_bytes());
        let callouts = format!("{}/desk/autotask/tickets?appliance=default", url(port));
        let sent = stands.http.post(callouts).header("X-Hook-Signature", signature).body(body.to_owned());
        sent.send().await.unwrap().status().as_u16()
    };
    let (alpha, beta) = (callout("Alpha from a callout"), callout("Beta from a callout"));
    assert_eq!((post(other, &alpha).await, post(other, &beta).await), (200, 200));
    titled(looker, "Beta from a callout").await;
    assert_eq!(post(looker, &alpha).await, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    titled(other, "Beta from a callout").await;

    // A change the looker finds reaches the app waiting at the other worker.
    let told = async |cursor: &str| -> serde_json::Value {
        let wait = desk(other, "/desk/changes").query(&[("after", cursor), ("wait", "20")]);
        wait.send().await.unwrap().json().await.unwrap()
    };
    let first_told = told(&cursor).await;
    assert_eq!(first_told["changes"][0]["id"], mine, "{first_told}");
    let (said, ()) = tokio::join!(told(first_told["cursor"].as_str().unwrap()), someone_notes(&stands, mine));
    assert_eq!(said["changes"][0]["id"], mine, "{said}");
    let cursor = said["cursor"].as_str().unwrap().to_owned();

    // Alex's app knows both workers' addresses, the looker's first, and watches there.
    let settings = format!(
        "rep_username = \"alex.morgan\"\nrep_email = \"alex.morgan@example.com\"\ndesk_worker_url = \"{}\"\n\
         desk_worker_other_urls = [\"{}\"]",
        url(looker),
        url(other)
    );
    let app =
        bta_core::desk::Desk::new(&stands.desk_config_with(&settings, &[("desk_token", &token)]).profiles[0]).unwrap();
    let link = app.link().unwrap();
    link.changes(Duration::ZERO).await.unwrap();
    assert_eq!(link.worker(), url(looker));

    workers.remove(&looker).unwrap().kill_9();
    let killed = tokio::time::Instant::now();
    let rows = link.search(&mine.to_string(), None, &[], false).await.unwrap();
    eprintln!("the app's first search after its worker was killed took {} ms", killed.elapsed().as_millis());
    assert_eq!((rows[0].id, link.worker()), (mine, url(other)), "answered by the other worker");
    let (taken_by, _) = one_looker(&stands, [other], Duration::from_secs(10)).await;
    eprintln!("the desk watch was taken over {} ms after its looker was killed", killed.elapsed().as_millis());
    assert_eq!(taken_by, other);
    let (said, ()) = tokio::join!(told(&cursor), someone_notes(&stands, mine));
    assert_eq!(said["changes"].as_array().unwrap().len(), 1, "the change after the cursor, once: {said}");
    let app_told = link.changes(Duration::from_secs(20)).await.unwrap();
    assert_eq!(app_told.changes.iter().map(|c| c.id).collect::<Vec<_>>(), [mine], "the app's cursor went on there");
    let hooks = stands.records("TicketWebhooks").await;
    assert_eq!((hooks.len(), hooks[0]["secretKey"].as_str()), (1, Some(secret.as_str())), "the same webhook");
    assert!(workers.remove(&other).unwrap().stop());
}

/// Someone retitles a ticket in Autotask (a second later: last activity is kept to the second).
async fn retitle(stands: &Stands, ticket: i64, title: &str) {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let change = json!({"id": ticket, "title": title});
    let response = stands.autotask_api(reqwest::Method::PATCH, "Tickets").json(&change).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
}

/// Which of the workers at `ports` holds the desk watch, once exactly one says so (within
/// `within`), and another of them.
async fn one_looker<const N: usize>(stands: &Stands, ports: [u16; N], within: Duration) -> (u16, u16) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut holders = Vec::new();
        for port in ports {
            let health = stands.get(format!("http://127.0.0.1:{port}/healthz")).await;
            if health["duties"]["desk watch Desk"]["held_here"] == true {
                holders.push(port);
            }
        }
        if let [looker] = holders[..] {
            return (looker, ports.into_iter().find(|p| *p != looker).unwrap_or(looker));
        }
        assert!(tokio::time::Instant::now() < deadline, "no single worker looks for the desk: {holders:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Someone else adds a note to a ticket in Autotask (a second later: last activity is kept to
/// the second).
async fn someone_notes(stands: &Stands, ticket: i64) {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let note = json!({"title": "Called the customer", "description": "Back after lunch", "noteType": 1, "publish": 1});
    let response = stands
        .autotask_api(reqwest::Method::POST, &format!("Tickets/{ticket}/Notes"))
        .json(&note)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
}

/// Two workers on one PostgreSQL behind HAProxy as `examples/haproxy.cfg` sets it up: TLS passed
/// through to the workers (one certificate for both), each connection's client named by the PROXY
/// protocol. The workers see each client's own address — `monitoring_allowlist` and the slowing of
/// wrong tokens per address apply to the rep's machine, not the balancer — and a rep's requests
/// through the balancer are answered while one worker is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_behind_haproxy_see_each_clients_own_address_and_the_desk_survives_one() {
    let stands = Stands::start().await;
    let store = stands.postgres_store();
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().self_signed(&key).unwrap();
    let (crt, pem) = (stands.dir.path().join("desk.crt"), stands.dir.path().join("desk.key"));
    std::fs::write(&crt, certificate.pem()).unwrap();
    std::fs::write(&pem, key.serialize_pem()).unwrap();
    let (port_a, port_b, desk_port) = (free_port(), free_port(), free_port());
    let desk = format!("https://127.0.0.1:{desk_port}");
    // The balancer connects from 127.0.0.1; the reps' machines are 127.0.0.3 and 127.0.0.4.
    let config = |port: u16, name: &str| {
        let dir = stands.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\n{store}\ndata_dir = {:?}\ntls_certificate_file = {crt:?}\n\
             tls_key_file = {pem:?}\npublic_url = \"{desk}\"\ntrusted_proxies = [\"127.0.0.1\"]\n\
             monitoring_allowlist = [\"127.0.0.3\"]\nticket_watch_seconds = 5\n\n{}",
            dir.join("data"),
            stands.profile("Desk", "desk_watch = true")
        );
        let path = dir.join("worker.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let (config_a, config_b) = (config(port_a, "a"), config(port_b, "b"));
    let mut workers = vec![Worker::start(&config_a, port_a).await, Worker::start(&config_b, port_b).await];
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/haproxy.cfg");
    let mut haproxy = std::process::Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&example)
        .env("BTA_DESK_BIND", format!("127.0.0.1:{desk_port}"))
        .env("BTA_WORKER_1", format!("127.0.0.1:{port_a}"))
        .env("BTA_WORKER_2", format!("127.0.0.1:{port_b}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(stands.dir.path().join("haproxy.log")).unwrap())
        .spawn()
        .expect("haproxy (cargo xtask setup installs it)");
    let machine = |last: u8| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last]))
            .add_root_certificate(reqwest::Certificate::from_pem(certificate.pem().as_bytes()).unwrap())
            .build()
            .unwrap()
    };
    let (monitor, rep) = (machine(3), machine(4));
    let health = async |client: &reqwest::Client| -> Option<serde_json::Value> {
        let response = client.get(format!("{desk}/healthz")).send().await.ok()?;
        response.json().await.ok()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let full = loop {
        match health(&monitor).await {
            Some(said) if said["queue"].is_object() => break said,
            said => assert!(
                tokio::time::Instant::now() < deadline,
                "no worker answered through haproxy: {said:?}; it said: {}",
                std::fs::read_to_string(stands.dir.path().join("haproxy.log")).unwrap_or_default()
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(full["store_engine"], "postgresql", "the allowlisted machine's own address: {full}");
    let bare = health(&rep).await.unwrap();
    assert!(bare["queue"].is_null() && bare["status"] == "up", "another machine gets the bare answer: {bare}");

    // Wrong tokens slow their own machine down, not the balancer's other clients.
    let changes = format!("{desk}/desk/changes");
    let wrong = async |client: &reqwest::Client| {
        let asked = client.get(&changes).bearer_auth("btarep_not-a-token-of-any-rep-of-these-tests-01234");
        asked.send().await.unwrap().status().as_u16()
    };
    let mut said = Vec::new();
    for _ in 0..6 {
        said.push(wrong(&rep).await);
    }
    assert_eq!(said.last(), Some(&429), "the guessing machine is told to wait: {said:?}");
    assert_eq!(wrong(&monitor).await, 401, "another machine behind the same balancer is not");

    // A rep enrolled through the balancer keeps being answered while one worker is killed.
    let added = bta_e2e::worker_says(&["rep", "add", "alex.morgan", "--profile", "Desk", "--json"], &config_a).unwrap();
    let code = serde_json::from_str::<serde_json::Value>(&added).unwrap()["code"].as_str().unwrap().to_owned();
    let enrolled = monitor.post(format!("{desk}/desk/enrol")).json(&json!({"code": code})).send().await.unwrap();
    let token = enrolled.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    // The rep's app's link to the desk, at the balancer's address, trusting the desk's certificate
    // by the pin an enrolment link would carry.
    let pin = bta_core::desk_api::certificate_pin(certificate.der());
    let link = bta_core::desk::link::DeskLink::new(
        vec![url::Url::parse(&desk).unwrap()],
        "default",
        bta_core::Secret::new(token),
        Duration::from_secs(1800),
        Some(&pin),
        true,
    )
    .unwrap();
    for _ in 0..3 {
        link.changes(Duration::ZERO).await.unwrap();
    }
    workers.remove(0).kill_9();
    // Within the rep's share of requests (5 a second after the first 30).
    for _ in 0..10 {
        link.changes(Duration::ZERO).await.unwrap();
        assert!(!link.search("", None, &[], false).await.unwrap().is_empty());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let _ = haproxy.kill();
    let _ = haproxy.wait();
    assert!(workers.remove(0).stop());
}
