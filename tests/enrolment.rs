//! Enrolment through the real `bt-autotask-worker`: the administrator makes a one-time link with
//! `rep add`, the rep's app takes its code to `/desk/enrol` once and gets its own rep token, and
//! from then on the worker acts for that rep alone — whoever the request says it is. A revoked
//! rep is refused on the running worker within seconds, and the store holds neither tokens nor
//! codes.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bta_e2e::{Stands, Worker, enrol_with_code, free_port, worker_binary, worker_says};
use serde_json::{Value, json};
use tokio::time::Instant;

fn rep_add(rep: &str, config: &Path) -> Value {
    let json = worker_says(&["rep", "add", rep, "--profile", "Desk", "--json"], config).unwrap();
    serde_json::from_str(&json).unwrap()
}

/// A worker serving the desk on loopback, its watch every 5 s.
fn desk_config(stands: &Stands, port: u16, extra: &str) -> PathBuf {
    stands.config(port, "ticket_watch_seconds = 5", &format!("desk_watch = true\n{extra}"))
}

async fn ask(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_enrols_once_and_the_worker_acts_for_that_rep_alone_until_revoked() {
    let stands = Stands::start().await;
    let port = free_port();
    let config = desk_config(&stands, port, "");
    let url = format!("http://127.0.0.1:{port}");
    let worker = Worker::start(&config, port).await;

    let invited = rep_add("alex.morgan", &config);
    let code = invited["code"].as_str().unwrap().to_owned();
    let link = url::Url::parse(invited["link"].as_str().unwrap()).unwrap();
    assert_eq!((link.scheme(), link.host_str()), ("bt-autotask", Some("enrol")));
    let carried: std::collections::HashMap<_, _> = link.query_pairs().into_owned().collect();
    assert_eq!((carried["desk"].as_str(), carried["code"].as_str()), (format!("{url}/").as_str(), code.as_str()));
    assert_eq!(invited["email"], "alex.morgan@example.com", "from the profile's defaultDomain");
    let unknown = worker_says(&["rep", "add", "nobody.here", "--profile", "Desk"], &config).unwrap_err();
    assert!(unknown.contains("no Autotask resource has the e-mail nobody.here@example.com"), "{unknown}");
    let former = json!([{"id": 29_700_001, "email": "former.rep@example.com", "userName": "former.rep",
                         "firstName": "Former", "lastName": "Rep", "isActive": false}]);
    stands.post(format!("{}/_sim/records/Resources", stands.autotask.base_url), former).await;
    let inactive = worker_says(&["rep", "add", "former.rep", "--profile", "Desk"], &config).unwrap_err();
    assert!(inactive.contains("not active"), "{inactive}");

    // The code works once, typed in lower case too; then it is as unknown as any other.
    let enrolled = enrol_with_code(&url, &code.to_lowercase()).await.unwrap();
    let token = enrolled["token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 43, "{token}");
    assert_eq!((enrolled["username"].as_str(), enrolled["profile"].as_str()), (Some("alex.morgan"), Some("Desk")));
    assert!(enrolled["autotask_web_url"].as_str().unwrap().starts_with("http"), "{enrolled}");
    let again = enrol_with_code(&url, &code).await.unwrap_err();
    let never = enrol_with_code(&url, "AAAAA-BBBBB-CCCCC-DDDDD").await.unwrap_err();
    assert_eq!((again.0, never.0), (401, 401));
    assert_eq!(again.1, never.1, "a used code and an unknown one are told apart to no one");

    // An expired code: made with an enrolment time of a second.
    let brief = desk_config(&stands, port, "enrolment_hours = 0.0003");
    let expiring = rep_add("sam.lee", &brief)["code"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(enrol_with_code(&url, &expiring).await.unwrap_err().0, 401, "expired");

    // A key in alex's own queue, for the ticket, whatever the body says besides.
    let mine = alex_open_tickets(&stands).await;
    let body = json!({"ticket": mine[0], "rep": "sam.lee", "queue": "general", "external_key": "1"});
    let key_url = format!("{url}/desk/session-key");
    let (status, said) = ask(stands.http.post(&key_url).bearer_auth(&token).json(&body)).await;
    assert_eq!(status, 200, "{said}");
    let key: Value = serde_json::from_str(&said).unwrap();
    let keys = stands.get(format!("{}/_sim/session-keys", stands.appliance.base_url)).await;
    let made = keys.as_array().unwrap().iter().find(|k| k["short_key"] == key["short_key"]).unwrap();
    assert_eq!(made["queue_id"], "rep_username:alex.morgan", "{made}");
    assert_eq!(made["external_key"], mine[0].to_string());
    let (status, _) = ask(stands.http.post(&key_url).json(&body)).await;
    assert_eq!(status, 401, "no key without a token");

    // "My open tickets" are the token's rep's, whoever me= names.
    let sam_id = resource_id(&stands, "sam.lee@example.com").await;
    let search = stands.http.get(format!("{url}/desk/search")).query(&[("q", ""), ("me", &sam_id.to_string())]);
    let (status, said) = ask(search.bearer_auth(&token)).await;
    assert_eq!(status, 200, "{said}");
    let rows: Vec<Value> = serde_json::from_str(&said).unwrap();
    let mut found: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    found.sort_unstable();
    assert_eq!(found, mine, "alex's open tickets, not sam's");

    // The store holds neither the token nor the codes, in the database or its WAL.
    for file in store_files(&config) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [token.as_str(), code.as_str(), expiring.as_str()] {
            let held = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!held, "{} holds a secret", file.display());
        }
    }

    // Revoked on the running worker: refused within seconds.
    let said = worker_says(&["rep", "revoke", "alex.morgan"], &config).unwrap();
    assert!(said.contains("Revoked alex.morgan"), "{said}");
    let changes = format!("{url}/desk/changes");
    let revoked = Instant::now();
    loop {
        let (status, _) = ask(stands.http.get(&changes).bearer_auth(&token)).await;
        if status == 401 {
            break;
        }
        assert!(revoked.elapsed() < Duration::from_secs(5), "the revoked token was still served after 5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(worker.stop());
    // Refusals and enrolments are logged, never with a token or a code.
    let logs: String = std::fs::read_dir(config.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("worker-"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(logs.contains("refused desk request(s)"), "the refusals are in the worker's log: {logs}");
    for secret in [token.as_str(), code.as_str(), expiring.as_str()] {
        assert!(!logs.contains(secret), "the worker's log holds a secret");
    }
    let listed: Value = serde_json::from_str(&worker_says(&["rep", "list", "--json"], &config).unwrap()).unwrap();
    let states: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["username"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("alex.morgan", "revoked"), ("sam.lee", "invited")]);
    assert!(listed[0]["last_seen"].is_string() && listed[0]["enrolled"].is_string(), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_served_to_the_network_without_https_does_not_load() {
    let stands = Stands::start().await;
    let text = format!(
        "listen = \"0.0.0.0:{}\"\ndata_dir = \"data\"\n\n{}",
        free_port(),
        stands.profile("Desk", "desk_watch = true")
    );
    let config = stands.write_config(&text);
    let refused = worker_says(&["check"], &config).unwrap_err();
    assert!(refused.contains("desk_watch") && refused.contains("tls_certificate_file"), "{refused}");
    let retired = Command::new(worker_binary()).args(["desk-token", "Desk"]).output().unwrap();
    let said = String::from_utf8_lossy(&retired.stderr);
    assert!(!retired.status.success() && said.contains("rep add"), "{said}");
}

async fn resource_id(stands: &Stands, email: &str) -> i64 {
    let resources = stands.records("Resources").await;
    resources.iter().find(|r| r["email"] == email).unwrap()["id"].as_i64().unwrap()
}

/// Alex's open tickets in the stand-in, by id.
async fn alex_open_tickets(stands: &Stands) -> Vec<i64> {
    let alex = resource_id(stands, "alex.morgan@example.com").await;
    let mut ids: Vec<i64> = stands
        .records("Tickets")
        .await
        .iter()
        .filter(|t| t["assignedResourceID"] == alex && t["status"] != 5)
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// The store's database files (not the key beside them).
fn store_files(config: &Path) -> Vec<PathBuf> {
    let data = config.with_file_name("data");
    let files: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("worker.sqlite3"))
        .collect();
    assert!(files.iter().any(|f| f.to_string_lossy().ends_with("-wal")), "the WAL is read too: {files:?}");
    files
}

/// A rep's own Activity and *Not in a ticket* come from the desk's worker: only their sessions,
/// attached and written once by the worker; another rep cannot see, attach or retry them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_sees_and_attaches_only_their_own_sessions_without_a_ticket() {
    let stands = Stands::start().await;
    let port = free_port();
    let config = desk_config(&stands, port, "");
    let url = format!("http://127.0.0.1:{port}");
    let worker = Worker::start(&config, port).await;
    stands.appliance("recipients", json!({"url": format!("{url}/ERSPost")})).await;
    let alex = enrol_with_code(&url, rep_add("alex.morgan", &config)["code"].as_str().unwrap()).await.unwrap();
    let sam = enrol_with_code(&url, rep_add("sam.lee", &config)["code"].as_str().unwrap()).await.unwrap();
    let (alex, sam) = (alex["token"].as_str().unwrap().to_owned(), sam["token"].as_str().unwrap().to_owned());
    let portal = |rep: &str, customer: &str| {
        json!({"external_key": "", "duration": 1500, "reps": [{"username": rep}],
               "customer": {"name": customer, "company": "Dynamo Corporation", "issue": "Printer offline"},
               "chat": [{"from": "rep", "text": "Printer is back."}]})
    };
    let alexs =
        stands.appliance("sessions", portal("alex.morgan", "Pat Lee")).await["lsid"].as_str().unwrap().to_owned();
    let sams = stands.appliance("sessions", portal("sam.lee", "Lee Park")).await["lsid"].as_str().unwrap().to_owned();

    let listed = |token: String| {
        let request = stands.http.get(format!("{url}/desk/unlinked")).bearer_auth(token);
        async move { serde_json::from_str::<Vec<Value>>(&ask(request).await.1).unwrap() }
    };
    let lsids = |rows: &[Value]| rows.iter().map(|r| r["lsid"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let deadline = Instant::now() + Duration::from_secs(60);
    while lsids(&listed(alex.clone()).await) != [alexs.clone()] || lsids(&listed(sam.clone()).await) != [sams.clone()] {
        assert!(Instant::now() < deadline, "each rep's session never reached their list");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let attach = |token: &str, lsid: &str| {
        stands
            .http
            .post(format!("{url}/desk/unlinked/attach"))
            .bearer_auth(token)
            .json(&json!({"session": lsid, "ticket": "7201"}))
    };
    assert_eq!(ask(attach(&sam, &alexs)).await.0, 404, "not sam's session");
    let (status, said) = ask(attach(&alex, &alexs)).await;
    assert_eq!(status, 204, "{said}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let written = |entity: &'static str, field: &'static str| {
        let (stands, lsid) = (&stands, alexs.clone());
        async move {
            let records = stands.records(entity).await;
            records
                .iter()
                .filter(|r| r["ticketID"] == 7201 && r[field].as_str().is_some_and(|t| t.contains(&lsid)))
                .count()
        }
    };
    while written("TimeEntries", "internalNotes").await == 0 {
        assert!(Instant::now() < deadline, "the attached session was never written");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((written("TicketNotes", "description").await, written("TimeEntries", "internalNotes").await), (1, 1));
    assert!(lsids(&listed(alex.clone()).await).is_empty(), "attached: off the list");

    let activity = |token: String| {
        let request = stands.http.get(format!("{url}/desk/activity")).bearer_auth(token);
        async move { serde_json::from_str::<Vec<Value>>(&ask(request).await.1).unwrap() }
    };
    let alex_lines = activity(alex.clone()).await;
    let summaries: Vec<&str> = alex_lines.iter().map(|l| l["summary"].as_str().unwrap()).collect();
    assert!(summaries.iter().any(|s| s.starts_with("alex.morgan attached the session with Pat Lee")), "{summaries:?}");
    assert!(summaries.iter().any(|s| s.starts_with("Wrote the session with Pat Lee")), "{summaries:?}");
    assert!(alex_lines.iter().all(|l| l["lsid"] == alexs.as_str()), "only alex's sessions: {alex_lines:#?}");
    let sam_lines = activity(sam.clone()).await;
    assert!(sam_lines.iter().all(|l| l["lsid"] != alexs.as_str()), "{sam_lines:#?}");
    let job = alex_lines[0]["job_id"].as_i64().unwrap();
    let retry = stands.http.post(format!("{url}/desk/retry")).bearer_auth(&sam).json(&json!({"job": job}));
    assert_eq!(ask(retry).await.0, 404, "not sam's job");
    let dismiss =
        stands.http.post(format!("{url}/desk/unlinked/dismiss")).bearer_auth(&sam).json(&json!({"session": sams}));
    assert_eq!(ask(dismiss.try_clone().unwrap()).await.0, 204);
    assert_eq!(ask(dismiss).await.0, 409, "dismissed already: no longer waiting");
    assert_eq!(ask(attach(&alex, &alexs)).await.0, 204, "attached already to that ticket: nothing more to do");
    assert_eq!(ask(attach(&sam, &alexs)).await.0, 404, "still not sam's");
    assert!(lsids(&listed(sam.clone()).await).is_empty(), "dismissed: off the list");
    assert!(worker.stop());
}

/// An app enrolled by the link over HTTPS with the desk's own certificate: it trusts that
/// certificate by the link's pin (and refuses another), holds only the rep's token, and searches,
/// makes keys and watches through the worker. With the worker gone, a key opens the rep console's
/// own dialog tied to the ticket, and a ticket still opens by its number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_enrolled_by_the_link_works_through_the_worker_alone() {
    use bta_core::config::{MemoryStore, SecretRef, SecretStore, WorkerConfig};
    use bta_core::desk::{Desk, EnrolLink, KeyOffer, with_enrolled_profile};

    let stands = Stands::start().await;
    let port = free_port();
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate =
        rcgen::CertificateParams::new(vec!["desk.invalid".to_owned()]).unwrap().self_signed(&key).unwrap();
    std::fs::write(stands.dir.path().join("desk.crt"), certificate.pem()).unwrap();
    std::fs::write(stands.dir.path().join("desk.key"), key.serialize_pem()).unwrap();
    // A second worker of the desk's, gone: its address is in the link, after this worker's.
    let gone = format!("https://127.0.0.1:{}/", free_port());
    let top = format!(
        "ticket_watch_seconds = 5\ntls_certificate_file = \"desk.crt\"\ntls_key_file = \"desk.key\"\nother_desk_urls = [\"{gone}\"]"
    );
    let config = stands.config(port, &top, "desk_watch = true");
    let worker = Worker::start(&config, port).await;

    let link = rep_add("alex.morgan", &config)["link"].as_str().unwrap().to_owned();
    let parsed = EnrolLink::parse(&link, None).unwrap();
    assert_eq!(parsed.desk.as_str(), format!("https://127.0.0.1:{port}/"));
    assert_eq!(parsed.also.iter().map(url::Url::as_str).collect::<Vec<_>>(), [gone.as_str()]);
    assert!(parsed.pin.as_deref().is_some_and(|p| p.starts_with("sha256:")), "{link}");
    let other_pin = EnrolLink { pin: Some("sha256:AAAA".into()), ..parsed.clone() };
    let refused = other_pin.enrol().await.unwrap_err();
    assert!(refused.contains("cannot be reached") && refused.contains("certificate"), "{refused}");
    let unpinned = EnrolLink { pin: None, ..parsed.clone() };
    assert!(unpinned.enrol().await.is_err(), "a certificate of the desk's own is not trusted without the pin");
    // The rep's app tries the gone worker first: enrolment and every request go on to this one.
    let gone_first = EnrolLink { desk: url::Url::parse(&gone).unwrap(), also: vec![parsed.desk.clone()], ..parsed };
    let enrolled = gone_first.enrol().await.expect("the code was not used up by the refused attempts");

    let (text, _) = with_enrolled_profile("", stands.dir.path(), &enrolled, &gone_first, None).unwrap();
    assert!(!text.contains(&enrolled.token) && !text.contains("client_secret") && !text.contains("autotask_password"));
    let keyring = MemoryStore::default();
    let token = bta_core::Secret::new(enrolled.token.clone());
    keyring.set(&SecretRef::store_key(&enrolled.profile, "desk_token"), &token).unwrap();
    let app = WorkerConfig::parse(&text, stands.dir.path(), &keyring).unwrap();
    assert!(app.profiles[0].enrolled.is_some() && !app.profiles[0].embedded_worker);
    let desk = Desk::new(&app.profiles[0]).unwrap();

    desk.watch(Duration::ZERO).await.unwrap();
    let mine = desk.search("").await.unwrap();
    let ids: Vec<i64> = {
        let mut ids: Vec<i64> = mine.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(ids, alex_open_tickets(&stands).await, "the rep's own open tickets, through the worker");
    let ticket = mine[0].id;
    let KeyOffer::Key { short_key, .. } = desk.session_key(ticket).await.unwrap() else { panic!("a key") };
    let keys = stands.get(format!("{}/_sim/session-keys", stands.appliance.base_url)).await;
    let made = keys.as_array().unwrap().iter().find(|k| k["short_key"] == short_key.as_str()).unwrap().clone();
    assert_eq!(
        (made["queue_id"].as_str(), made["external_key"].as_str()),
        (Some("rep_username:alex.morgan"), Some(&*ticket.to_string()))
    );

    assert!(worker.stop());
    match desk.session_key(ticket).await.unwrap() {
        KeyOffer::ConsoleLink(url) => assert!(url.as_str().contains(&ticket.to_string()), "{url}"),
        other => panic!("the rep console's own dialog, not {other:?}"),
    }
    let said = desk.search("printer").await.unwrap_err().to_string();
    assert!(said.contains("cannot be reached"), "{said}");
    let number = desk.ticket_url_by_number(&mine[0].number).await.unwrap();
    assert!(number.as_str().contains("TicketNumber=T"), "{number}");
    assert!(desk.link().unwrap().said().contains("rep console"), "{}", desk.link().unwrap().said());
}

/// A desk moves its store from the worker's SQLite file to PostgreSQL with `store copy-to`, then
/// runs two workers on it, each with a data folder of its own: the rep enrolled before the move
/// is known at both, and revoked at one (`rep revoke` against the shared store) they are refused
/// at the other within a second or so — each worker reloads the reps when the store's version
/// changes, twice a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_moved_to_postgresql_keeps_its_reps_and_both_workers_refuse_a_revoked_one() {
    let stands = Stands::start().await;
    let port = free_port();
    let config = desk_config(&stands, port, "");
    let before = Worker::start(&config, port).await;
    let code = rep_add("alex.morgan", &config)["code"].as_str().unwrap().to_owned();
    let url = format!("http://127.0.0.1:{port}");
    let token = enrol_with_code(&url, &code).await.unwrap()["token"].as_str().unwrap().to_owned();
    assert!(before.stop());

    let shared = stands.postgres_store();
    let database = shared.lines().next().unwrap().split('"').nth(1).unwrap().to_owned();
    let password = bta_core::store::throwaway_postgres::started().unwrap().password();
    let copy = |to: &str| {
        Command::new(worker_binary())
            .args(["store", "copy-to", to, "--config"])
            .arg(&config)
            .env("BTA_STORE_PASSWORD", password)
            .output()
            .unwrap()
    };
    let copied = copy(&database);
    assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
    let said = String::from_utf8_lossy(&copied.stdout).into_owned();
    assert!(said.contains("reps: 1 row(s)") && said.contains("set store_url"), "{said}");
    let again = copy(&database);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a store"), "copied once only");

    // Both workers read the key the SQLite store's tokens were hashed with, as copy-to says.
    let key = config.parent().unwrap().join("data/worker.token-key");
    let settings = shared.lines().filter(|l| !l.starts_with("token_key_file")).collect::<Vec<_>>().join("\n");
    let text = std::fs::read_to_string(&config).unwrap();
    let on_postgres = |name: &str, port: u16| {
        let dir = stands.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let text = text
            .replace(
                "data_dir = \"data\"",
                &format!("data_dir = {:?}\n{settings}\ntoken_key_file = {key:?}", dir.join("data")),
            )
            .replace(&format!("127.0.0.1:{}", config_port(&text)), &format!("127.0.0.1:{port}"));
        let path = dir.join("worker.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let (port_a, port_b) = (free_port(), free_port());
    let (config_a, config_b) = (on_postgres("a", port_a), on_postgres("b", port_b));
    let a = Worker::start(&config_a, port_a).await;
    let b = Worker::start(&config_b, port_b).await;
    for port in [port_a, port_b] {
        let changes = format!("http://127.0.0.1:{port}/desk/changes");
        let (status, said) = ask(stands.http.get(&changes).bearer_auth(&token)).await;
        assert_eq!(status, 200, "the token enrolled before the move works at {port}: {said}");
        let health = stands.get(format!("http://127.0.0.1:{port}/healthz")).await;
        assert_eq!((health["store"].as_str(), health["store_engine"].as_str()), (Some("ok"), Some("postgresql")));
    }

    let checked = worker_says(&["check"], &config_a).unwrap();
    assert!(checked.contains("✓ Store postgres://") && checked.contains("reachable"), "{checked}");
    assert!(checked.contains("(in the database, one for every worker)"), "the shared copy: {checked}");
    let said = worker_says(&["rep", "revoke", "alex.morgan"], &config_a).unwrap();
    assert!(said.contains("Revoked alex.morgan"), "{said}");
    let revoked = Instant::now();
    let changes = format!("http://127.0.0.1:{port_b}/desk/changes");
    loop {
        let (status, _) = ask(stands.http.get(&changes).bearer_auth(&token)).await;
        if status == 401 {
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(5),
            "the other worker still served the revoked token after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("refused at the other worker {} ms after the revocation", revoked.elapsed().as_millis());
    assert!(a.stop() && b.stop());
}

/// The port a configuration's `listen` names.
fn config_port(text: &str) -> u16 {
    let listen = text.lines().find(|l| l.starts_with("listen")).unwrap();
    listen.rsplit(':').next().unwrap().trim_end_matches('"').parse().unwrap()
}
