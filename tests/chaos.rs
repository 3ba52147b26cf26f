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
    let tickets = sessions(&stands, SESSIONS).await;

    for _ in 0..5 {
        let pause = rand::rng().random_range(150..700);
        tokio::time::sleep(Duration::from_millis(pause)).await; // let it get somewhere, then pull the plug
        worker.kill_9();
        worker = Worker::start(&config, port).await;
    }

    landed_once(&stands, &tickets, Duration::from_secs(240)).await;
    assert!(worker.stop(), "the worker stops cleanly at the end");
    let delivered = stands.deliveries().await[0]["delivered"].as_u64().unwrap();
    assert_eq!(delivered, SESSIONS as u64, "every end event delivered once with a 200");
}

/// Ends `count` sessions at the appliance, spread over 24 tickets and four reps: each session's
/// ticket, by its lsid.
async fn sessions(stands: &Stands, count: usize) -> HashMap<String, i64> {
    let mut tickets = HashMap::new();
    for i in 0..count {
        let ticket = 7201 + (i % 24) as i64;
        let rep = ["alex.morgan", "sam.lee", "jordan.kim", "priya.patel"][i % 4];
        let session = json!({"external_key": ticket.to_string(), "duration": 60 + i * 7,
                             "reps": [{"username": rep}],
                             "chat": [{"from": "rep", "text": format!("Session {i}")}]});
        let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
        tickets.insert(lsid, ticket);
    }
    tickets
}

/// Waits (up to `within`) until every session of `tickets` (by lsid) has a note and a time entry
/// and the appliance's queue is drained; then each has exactly one of each, the note on its ticket.
async fn landed_once(stands: &Stands, tickets: &HashMap<String, i64>, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    let (notes, entries) = loop {
        let (notes, entries) = (stands.records("TicketNotes").await, stands.records("TimeEntries").await);
        let noted = tickets.keys().filter(|lsid| notes.iter().any(|n| mentions(n, "description", lsid))).count();
        let timed = tickets.keys().filter(|lsid| entries.iter().any(|t| mentions(t, "internalNotes", lsid))).count();
        let drained = stands.deliveries().await[0]["pending"] == 0;
        if noted == tickets.len() && timed == tickets.len() && drained {
            break (notes, entries);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after the chaos: {noted} of {} noted, {timed} timed, queue drained: {drained}",
            tickets.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    for (lsid, ticket) in tickets {
        let mine: Vec<_> = notes.iter().filter(|n| mentions(n, "description", lsid)).collect();
        assert_eq!(mine.len(), 1, "session {lsid}: {} notes", mine.len());
        assert_eq!(mine[0]["ticketID"], *ticket);
        let timed = entries.iter().filter(|t| mentions(t, "internalNotes", lsid)).count();
        assert_eq!(timed, 1, "session {lsid}: {timed} time entries");
    }
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
    stands.retitle(mine, "Yak shaving outage").await;
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
    let (said, ()) = tokio::join!(told(first_told["cursor"].as_str().unwrap()), stands.someone_notes(mine));
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
    let (said, ()) = tokio::join!(told(&cursor), stands.someone_notes(mine));
    assert_eq!(said["changes"].as_array().unwrap().len(), 1, "the change after the cursor, once: {said}");
    let app_told = link.changes(Duration::from_secs(20)).await.unwrap();
    assert_eq!(app_told.changes.iter().map(|c| c.id).collect::<Vec<_>>(), [mine], "the app's cursor went on there");
    let hooks = stands.records("TicketWebhooks").await;
    assert_eq!((hooks.len(), hooks[0]["secretKey"].as_str()), (1, Some(secret.as_str())), "the same webhook");
    assert!(workers.remove(&other).unwrap().stop());
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

/// A desk of two worker binaries on one PostgreSQL behind HAProxy as `examples/haproxy.cfg`
/// sets it up: TLS passed through to the workers (one certificate for both), each connection's
/// client named by the PROXY protocol. The workers take `127.0.0.3` as a monitoring machine.
struct BalancedDesk {
    /// The balancer's address: what apps and the appliance reach.
    url: String,
    certificate: rcgen::Certificate,
    /// Each worker's configuration and port, and the running worker (none while it is down).
    workers: Vec<(std::path::PathBuf, u16, Option<Worker>)>,
    haproxy: std::process::Child,
    /// The store's database, for its outage.
    database: String,
}

impl BalancedDesk {
    async fn start(stands: &Stands, top: &str) -> BalancedDesk {
        let store = stands.postgres_store();
        let database = store.lines().next().unwrap().split('"').nth(1).unwrap().to_owned();
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().self_signed(&key).unwrap();
        let (crt, pem) = (stands.dir.path().join("desk.crt"), stands.dir.path().join("desk.key"));
        std::fs::write(&crt, certificate.pem()).unwrap();
        std::fs::write(&pem, key.serialize_pem()).unwrap();
        let desk_port = free_port();
        let url = format!("https://127.0.0.1:{desk_port}");
        // The balancer connects from 127.0.0.1; the reps' machines are 127.0.0.3 and 127.0.0.4.
        let config = |port: u16, name: &str| {
            let dir = stands.dir.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let text = format!(
                "listen = \"127.0.0.1:{port}\"\n{store}\ndata_dir = {:?}\ntls_certificate_file = {crt:?}\n\
                 tls_key_file = {pem:?}\npublic_url = \"{url}\"\ntrusted_proxies = [\"127.0.0.1\"]\n\
                 monitoring_allowlist = [\"127.0.0.3\"]\n{top}\n\n{}",
                dir.join("data"),
                stands.profile("Desk", "desk_watch = true")
            );
            let path = dir.join("worker.toml");
            std::fs::write(&path, text).unwrap();
            path
        };
        let mut workers = Vec::new();
        for name in ["a", "b"] {
            let port = free_port();
            let config = config(port, name);
            let worker = Worker::start(&config, port).await;
            workers.push((config, port, Some(worker)));
        }
        let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/haproxy.cfg");
        let haproxy = std::process::Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&example)
            .env("BTA_DESK_BIND", format!("127.0.0.1:{desk_port}"))
            .env("BTA_WORKER_1", format!("127.0.0.1:{}", workers[0].1))
            .env("BTA_WORKER_2", format!("127.0.0.1:{}", workers[1].1))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(stands.dir.path().join("haproxy.log")).unwrap())
            .spawn()
            .expect("haproxy (cargo xtask setup installs it)");
        let desk = BalancedDesk { url, certificate, workers, haproxy, database };
        let monitor = desk.machine(3);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while desk.health(&monitor).await.is_none_or(|said| !said["queue"].is_object()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no worker answered through haproxy; it said: {}",
                std::fs::read_to_string(stands.dir.path().join("haproxy.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        desk
    }

    /// An HTTP client on machine 127.0.0.`last`, trusting the desk's certificate.
    fn machine(&self, last: u8) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last]))
            .add_root_certificate(reqwest::Certificate::from_pem(self.certificate.pem().as_bytes()).unwrap())
            .build()
            .unwrap()
    }

    async fn health(&self, client: &reqwest::Client) -> Option<serde_json::Value> {
        let response = client.get(format!("{}/healthz", self.url)).send().await.ok()?;
        response.json().await.ok()
    }

    fn kill(&mut self, worker: usize) {
        self.workers[worker].2.take().unwrap().kill_9();
    }

    async fn restart(&mut self, worker: usize) {
        let (config, port, _) = &self.workers[worker];
        let started = Worker::start(config, *port).await;
        self.workers[worker].2 = Some(started);
    }

    fn stop(mut self) {
        for (_, _, worker) in self.workers.drain(..) {
            assert!(worker.is_none_or(Worker::stop), "a worker stops cleanly");
        }
    }
}

/// The balancer ends with the test, however it ends (the workers end with their own drop).
impl Drop for BalancedDesk {
    fn drop(&mut self) {
        let _ = self.haproxy.kill();
        let _ = self.haproxy.wait();
    }
}

/// The workers behind HAProxy see each client's own address — `monitoring_allowlist` and the
/// slowing of wrong tokens per address apply to the rep's machine, not the balancer — and a rep's
/// app's requests through the balancer are answered while one worker is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_behind_haproxy_see_each_clients_own_address_and_the_desk_survives_one() {
    let stands = Stands::start().await;
    let mut desk = BalancedDesk::start(&stands, "ticket_watch_seconds = 5").await;
    let (monitor, rep) = (desk.machine(3), desk.machine(4));
    let full = desk.health(&monitor).await.unwrap();
    assert_eq!(full["store_engine"], "postgresql", "the allowlisted machine's own address: {full}");
    let bare = desk.health(&rep).await.unwrap();
    assert!(bare["queue"].is_null() && bare["status"] == "up", "another machine gets the bare answer: {bare}");

    // Wrong tokens slow their own machine down, not the balancer's other clients.
    let changes = format!("{}/desk/changes", desk.url);
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
    let added = bta_e2e::worker_says(&["rep", "add", "alex.morgan", "--profile", "Desk", "--json"], &desk.workers[0].0);
    let code = serde_json::from_str::<serde_json::Value>(&added.unwrap()).unwrap()["code"].as_str().unwrap().to_owned();
    let enrolled = monitor.post(format!("{}/desk/enrol", desk.url)).json(&json!({"code": code})).send().await.unwrap();
    let token = enrolled.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    // The rep's app's link to the desk, at the balancer's address, trusting the desk's certificate
    // by the pin an enrolment link would carry.
    let pin = bta_core::desk_api::certificate_pin(desk.certificate.der());
    let link = bta_core::desk::link::DeskLink::new(
        vec![url::Url::parse(&desk.url).unwrap()],
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
    desk.kill(0);
    // Within the rep's share of requests (5 a second after the first 30).
    for _ in 0..10 {
        link.changes(Duration::ZERO).await.unwrap();
        assert!(!link.search("", None, &[], false).await.unwrap().is_empty());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    desk.stop();
}

/// 500 sessions delivered by the appliance's outbound events to the balanced desk over HTTPS,
/// while each worker is killed with SIGKILL and restarted (three kills) and the database goes
/// away for 3 s (every connection ended, none taken): every session is written exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_sessions_through_the_balancer_land_once_through_kills_and_a_database_outage() {
    const BALANCED: usize = 500;
    let stands = Stands::start().await;
    let mut desk =
        BalancedDesk::start(&stands, "retry_delay_ms = 50\nreport_lag_wait_ms = 50\nticket_watch_seconds = 30").await;
    // Each Autotask request takes a while, so the kills and the outage find work in flight.
    stands.post(format!("{}/_sim/latency", stands.autotask.base_url), json!({"ms": 30})).await;
    let recipient = json!({"url": format!("{}/ERSPost", desk.url), "events": ["support_conference_end"],
                           "retry_ms": 50, "timeout_ms": 3000, "ca_pem": desk.certificate.pem()});
    stands.appliance("recipients", recipient).await;
    let tickets = sessions(&stands, BALANCED).await;
    for (round, worker) in [0, 1, 0].into_iter().enumerate() {
        let pause = rand::rng().random_range(300..1200);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let written = stands.records("TimeEntries").await.len();
        eprintln!("kill {}: worker {worker}, with {written} of {BALANCED} sessions written", round + 1);
        assert!(written < BALANCED, "the chaos comes while sessions are still being written");
        desk.kill(worker);
        if round == 1 {
            let cluster = bta_core::store::throwaway_postgres::started().unwrap();
            let database = desk.database.clone();
            tokio::task::spawn_blocking(move || cluster.outage(&database, Duration::from_secs(3)))
                .await
                .unwrap()
                .unwrap();
        }
        desk.restart(worker).await;
    }

    landed_once(&stands, &tickets, Duration::from_secs(300)).await;
    desk.stop();
}
