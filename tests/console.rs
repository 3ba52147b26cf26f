//! The desk console of the real worker binary over HTTP on loopback: nothing without an admin's
//! session, no change without the page's CSRF token or from another origin, the guarding headers
//! on every answer, no secret in any of them — and a failed job retried, a session without a
//! ticket attached, each written once. (A module of the `worker` tests: one binary to build.)

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use bta_e2e::{Stands, Worker, add_admin, free_port, secret_env};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{job_line, notes_of, wait_until, worker_says};

const PASSWORD: &str = "a long console passphrase";
/// A comment in the configuration file that edits in the console keep.
const COMMENT: &str = "# The desk's own profile: edited in the console too.";

struct Browser {
    base: String,
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl Browser {
    fn new(port: u16) -> Browser {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { base: format!("http://127.0.0.1:{port}"), http, cookie: String::new(), csrf: String::new() }
    }

    /// A client at the desk's console as a browser reaches it over HTTPS: by name, trusting the
    /// desk's CA, speaking HTTP/2.
    fn over_https(desk: &Desk) -> Browser {
        let ca = reqwest::Certificate::from_pem(desk.ca.as_ref().unwrap().as_bytes()).unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(ca)
            .build()
            .unwrap();
        Browser { base: desk.console_url(), http, cookie: String::new(), csrf: String::new() }
    }

    /// Logs in and takes the page's CSRF token, as the console's page does.
    async fn log_in(&mut self, name: &str, password: &str) {
        let answer = self.login(name, password).await;
        assert_eq!(answer.status(), StatusCode::OK);
        self.csrf = answer.json::<Value>().await.unwrap()["csrf"].as_str().unwrap().to_owned();
    }

    async fn login(&mut self, name: &str, password: &str) -> reqwest::Response {
        let answer = self
            .http
            .post(format!("{}/api/login", self.base))
            .header("Origin", &self.base)
            .json(&json!({"name": name, "password": password}))
            .send()
            .await
            .unwrap();
        if let Some(cookie) = answer.headers().get("set-cookie") {
            self.cookie = cookie.to_str().unwrap().split(';').next().unwrap().to_owned();
        }
        answer
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).header("Cookie", &self.cookie).send().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value, csrf: &str, origin: &str) -> reqwest::Response {
        let request = self.http.post(format!("{}{path}", self.base)).header("Cookie", &self.cookie).json(&body);
        let request = if csrf.is_empty() { request } else { request.header("X-CSRF-Token", csrf) };
        request.header("Origin", origin).send().await.unwrap()
    }

    /// A change as the console's page makes it.
    async fn change(&self, path: &str, body: Value) -> Value {
        let answer = self.post(path, body, &self.csrf, &self.base).await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        answer.json().await.unwrap()
    }
}

fn guarded(answer: &reqwest::Response) {
    let h = answer.headers();
    let csp = h.get("content-security-policy").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(csp.starts_with("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
}

/// A worker serving the desk (and its console) for the stands' "Desk" profile, with admin dana.
struct Desk {
    worker: Worker,
    config: std::path::PathBuf,
    port: u16,
    console: u16,
    /// Served over HTTPS with a certificate from this CA (PEM); plain HTTP when `None`.
    ca: Option<String>,
}

impl Desk {
    fn scheme(&self) -> &'static str {
        if self.ca.is_some() { "https" } else { "http" }
    }

    /// The console's address as a browser on the desk reaches it: by a name, not the address the
    /// console listens on (which the console takes as its own origin unless console_url says
    /// otherwise), so the browser's origin is matched with the authority it asked for.
    fn console_url(&self) -> String {
        format!("{}://localhost:{}", self.scheme(), self.console)
    }

    /// `POST /desk/enrol` with `code` at this desk's listener, trusting its CA: whether it worked.
    async fn enrols(&self, code: &str) -> bool {
        let mut client = reqwest::Client::builder();
        if let Some(ca) = &self.ca {
            client = client.add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap());
        }
        let url = format!("{}://127.0.0.1:{}/desk/enrol", self.scheme(), self.port);
        let answer = client.build().unwrap().post(url).json(&json!({"code": code})).send().await.unwrap();
        answer.status() == StatusCode::OK
    }
}

/// The desk as a desk runs it: with `https`, both listeners serve a certificate from a CA of its
/// own (the appliance trusts it), browsers speak HTTP/2 to the console, and the desk takes
/// Autotask's ticket webhooks.
async fn desk_with_console(stands: &Stands, https: bool) -> Desk {
    desk_with_console_and(stands, https, "").await
}

/// [`desk_with_console`] with more top-level settings (`top`).
async fn desk_with_console_and(stands: &Stands, https: bool, top: &str) -> Desk {
    let (port, console) = (free_port(), free_port());
    let ca = https.then(|| {
        let (ca, certificate, key) = bta_e2e::certificate_from_a_new_ca();
        std::fs::write(stands.dir.path().join("desk.crt"), certificate).unwrap();
        std::fs::write(stands.dir.path().join("desk.key"), key).unwrap();
        ca
    });
    let tls = match https {
        true => "tls_certificate_file = \"desk.crt\"\ntls_key_file = \"desk.key\"\nautotask_webhooks = true\n",
        false => "",
    };
    let config = stands.write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\nconsole_listen = \"127.0.0.1:{console}\"\ndata_dir = \"data\"\n\
         retry_delay_ms = 50\nreport_lag_wait_ms = 50\n{tls}{top}\n{COMMENT}\n{}",
        stands.profile("Desk", "desk_watch = true\nretry_attempt_limit = 1")
    ));
    assert!(add_admin(&config, "dana", "short").unwrap_err().contains("at least 12"), "a short password");
    assert!(add_admin(&config, "dana", PASSWORD).unwrap().contains("Added console admin dana"));
    let worker = Worker::start(&config, port).await;
    let scheme = if https { "https" } else { "http" };
    let mut recipient = json!({"url": format!("{scheme}://127.0.0.1:{port}/ERSPost"), "retry_ms": 50});
    if let Some(ca) = &ca {
        recipient["ca_pem"] = json!(ca);
    }
    stands.appliance("recipients", recipient).await;
    wait_until("the console", async || tokio::net::TcpStream::connect(("127.0.0.1", console)).await.is_ok()).await;
    Desk { worker, config, port, console, ca }
}

/// A time entry refused once, as Autotask refuses a rule: the next session's job fails.
async fn refuse_one_time_entry(stands: &Stands) {
    let refuse = json!({"method": "POST", "path": "/atservicesrest/v1.0/TimeEntries", "status": 500, "count": 1,
                        "errors": ["TimeEntry.summaryNotes can not be blank."]});
    stands.autotask_fault(refuse).await;
}

fn written(notes: &[Value], entries: &[Value], lsid: &str) -> (usize, usize) {
    let timed = entries.iter().filter(|t| t["internalNotes"].as_str().is_some_and(|n| n.contains(lsid))).count();
    (notes_of(notes, lsid).len(), timed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_logs_no_admin_out_and_keeps_no_token_it_could_give_back() {
    let stands = Stands::start().await;
    let Desk { worker, config, port, console, .. } = desk_with_console(&stands, false).await;
    let mut browser = Browser::new(console);
    let right = browser.login("dana", PASSWORD).await;
    assert_eq!(right.status(), StatusCode::OK);
    browser.csrf = right.json::<Value>().await.unwrap()["csrf"].as_str().unwrap().to_owned();
    assert!(worker.stop());

    let worker = Worker::start(&config, port).await;
    wait_until("the console", async || tokio::net::TcpStream::connect(("127.0.0.1", console)).await.is_ok()).await;
    let session: Value = browser.get("/api/session").await.json().await.unwrap();
    assert_eq!((&session["admin"], &session["csrf"]), (&json!("dana"), &json!(browser.csrf)), "still logged in");
    let token = browser.cookie.split_once('=').unwrap().1.to_owned();
    let store = std::fs::read_dir(config.parent().unwrap().join("data")).unwrap();
    for file in store.map(|f| f.unwrap().path()) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [&token, &browser.csrf] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{} holds a token", file.display());
        }
    }
    assert_eq!(browser.change("/api/logout", json!({})).await["said"], "logged out");
    assert_eq!(browser.get("/api/session").await.status(), StatusCode::UNAUTHORIZED, "logged out for good");
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_needs_an_admin_and_retries_and_attaches_once() {
    let stands = Stands::start().await;
    let Desk { worker, config, port, console, .. } = desk_with_console(&stands, false).await;
    let mut browser = Browser::new(console);

    // Nothing without a session: pages go to the login page, the API answers 401.
    let page = browser.get("/").await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers().get("location").unwrap(), "/login");
    guarded(&page);
    let every = ["/api/session", "/api/overview", "/api/jobs", "/api/jobs/1/history", "/api/unlinked", "/api/activity"];
    let more = ["/api/activity.csv", "/api/requests", "/api/reps", "/api/profiles", "/api/check?profile=Desk"];
    for path in every.into_iter().chain(more).chain(["/api/livelinks?profile=Desk", "/api/search?profile=Desk&q=x"]) {
        assert_eq!(browser.get(path).await.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let login_page = browser.get("/login").await;
    guarded(&login_page);
    assert!(login_page.text().await.unwrap().contains("<form id=\"login\">"));
    let wrong = browser.login("dana", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(browser.login("nobody", PASSWORD).await.status(), StatusCode::UNAUTHORIZED, "an unknown name alike");
    let right = browser.login("Dana", PASSWORD).await;
    assert_eq!(right.status(), StatusCode::OK);
    let cookie = right.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    browser.csrf = right.json::<Value>().await.unwrap()["csrf"].as_str().unwrap().to_owned();
    let session: Value = browser.get("/api/session").await.json().await.unwrap();
    assert_eq!(session["admin"], "dana");

    // A time entry refused once: the job fails; the console's Retry writes it once.
    refuse_one_time_entry(&stands).await;
    let keyed =
        json!({"external_key": "7203", "reps": [{"username": "alex.morgan"}], "customer": {"name": "Dana Whitfield"}});
    let lsid = stands.appliance("sessions", keyed).await["lsid"].as_str().unwrap().to_owned();
    wait_until("the failure", async || {
        job_line(&worker_says(&["jobs"], &config), &lsid, "conference_end").contains("failed")
    })
    .await;
    let jobs: Value = browser.get("/api/jobs").await.json().await.unwrap();
    let job = jobs["jobs"][0].clone();
    assert_eq!((job["state"].as_str(), job["lsid"].as_str()), (Some("failed"), Some(lsid.as_str())), "failed first");
    assert!(job["last_error"].as_str().unwrap().contains("summaryNotes can not be blank"), "{job}");
    let retry = format!("/api/jobs/{}/retry", job["id"]);
    assert_eq!(browser.post(&retry, json!({}), "", &browser.base).await.status(), StatusCode::FORBIDDEN, "no CSRF");
    let elsewhere = browser.post(&retry, json!({}), &browser.csrf, "https://evil.example").await;
    assert_eq!(elsewhere.status(), StatusCode::FORBIDDEN, "another origin");
    let stranger = Browser { cookie: String::new(), ..Browser::new(console) };
    let changes =
        ["/api/logout", "/api/unlinked/attach", "/api/unlinked/dismiss", "/api/reps/enrol", "/api/reps/revoke"];
    for path in changes.into_iter().chain(["/api/profiles/save", "/api/profiles/secret", retry.as_str()]) {
        let answer = stranger.post(path, json!({}), &browser.csrf, &browser.base).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{path} without a session");
    }
    assert!(browser.change(&retry, json!({})).await["said"].as_str().unwrap().contains("queued again"));
    wait_until("the retried job", async || {
        job_line(&worker_says(&["jobs"], &config), &lsid, "conference_end").contains("done")
    })
    .await;
    let entries = stands.records("TimeEntries").await;
    let timed = entries.iter().filter(|t| t["internalNotes"].as_str().is_some_and(|n| n.contains(&lsid))).count();
    assert_eq!((notes_of(&stands.records("TicketNotes").await, &lsid).len(), timed), (1, 1));
    let history: Value = browser.get(&format!("/api/jobs/{}/history", job["id"])).await.json().await.unwrap();
    let told: Vec<&str> = history["lines"].as_array().unwrap().iter().map(|l| l["summary"].as_str().unwrap()).collect();
    assert!(told.len() >= 3 && told[1].contains("dana retried job"), "failed, retried, written: {told:?}");

    // A session without a ticket: listed with its billable minutes, attached once.
    let portal = json!({"external_key": "", "duration": 1500, "reps": [{"username": "alex.morgan"}],
                        "customer": {"name": "Pat Lee", "company": "Dynamo Corporation"}});
    let walk_in = stands.appliance("sessions", portal).await["lsid"].as_str().unwrap().to_owned();
    wait_until("the session listed", async || {
        let listed: Value = browser.get("/api/unlinked").await.json().await.unwrap();
        listed["sessions"].as_array().unwrap().iter().any(|s| s["lsid"] == walk_in.as_str())
    })
    .await;
    let listed: Value = browser.get("/api/unlinked").await.json().await.unwrap();
    assert_eq!(listed["billable_minutes"], 25);
    let found: Value = browser.get("/api/search?profile=Desk&q=contoso").await.json().await.unwrap();
    assert!(found["tickets"].to_string().contains("T20261124.0042"), "the desk's search: {found}");
    let attach = json!({"profile": "Desk", "lsid": walk_in, "ticket": "T20261124.0042"});
    assert!(browser.change("/api/unlinked/attach", attach.clone()).await["said"].as_str().unwrap().contains("Writing"));
    let again = browser.post("/api/unlinked/attach", attach, &browser.csrf, &browser.base).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND, "no longer waiting");
    wait_until("the attached session", async || notes_of(&stands.records("TicketNotes").await, &walk_in).len() == 1)
        .await;
    let activity: Value = browser.get("/api/activity").await.json().await.unwrap();
    let said = activity["lines"].to_string();
    assert!(said.contains("dana retried job") && said.contains("dana (desk console) attached the session"), "{said}");

    // A rep enrolled from the Reps page: the link (and its QR code) works once; then revoked.
    let made = browser.change("/api/reps/enrol", json!({"profile": "Desk", "username": "alex.morgan"})).await;
    let link = made["link"].as_str().unwrap();
    assert!(link.starts_with("bt-autotask://enrol?desk=") && link.contains(made["code"].as_str().unwrap()), "{made}");
    let qr = made["qr"].as_array().unwrap();
    assert!(qr.len() >= 21 && qr.iter().all(|row| row.as_str().unwrap().len() == qr.len()), "a square QR code");
    let desk = format!("http://127.0.0.1:{port}");
    let enrolled = bta_e2e::enrol_with_code(&desk, made["code"].as_str().unwrap()).await.unwrap();
    assert!(enrolled["token"].as_str().unwrap().starts_with("btarep_"));
    let reps: Value = browser.get("/api/reps").await.json().await.unwrap();
    assert_eq!(reps["reps"][0]["state"], "enrolled", "{reps}");
    assert!(!reps.to_string().contains(enrolled["token"].as_str().unwrap()), "no token in the list");
    browser.change("/api/reps/revoke", json!({"username": "alex.morgan", "profile": "Desk"})).await;
    let reps: Value = browser.get("/api/reps").await.json().await.unwrap();
    assert_eq!(reps["reps"][0]["state"], "revoked");
    let activity: Value = browser.get("/api/activity").await.json().await.unwrap();
    let said = activity["lines"].to_string();
    assert!(said.contains("dana made an enrolment link for alex.morgan") && said.contains("dana revoked alex.morgan"));
    let unknown = json!({"profile": "Desk", "username": "nobody.here"});
    let refused = browser.post("/api/reps/enrol", unknown, &browser.csrf, &browser.base).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "no such Autotask resource");

    // Profiles: the tray's form; a bad value refused with nothing written, a good one written
    // into the file with its comments kept; secrets shown only by where they come from.
    let view: Value = browser.get("/api/profiles").await.json().await.unwrap();
    assert!(view["fields"].as_array().unwrap().len() > 20, "the whole form");
    let desk_form = &view["profiles"][0]["values"];
    assert_eq!(desk_form["autotask_password"], "env:BTA_AT_SECRET");
    let before = std::fs::read_to_string(&config).unwrap();
    let mut values = desk_form.as_object().unwrap().clone();
    values.insert("retry_attempt_limit".into(), json!("lots"));
    let bad =
        browser.post("/api/profiles/save", json!({"original": "Desk", "values": values}), &browser.csrf, &browser.base);
    let bad = bad.await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("whole number"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before, "nothing written");
    values.insert("retry_attempt_limit".into(), json!("3"));
    let saved = browser.change("/api/profiles/save", json!({"original": "Desk", "values": values})).await;
    assert!(saved["said"].as_str().unwrap().contains("restart it"), "{saved}");
    let after = std::fs::read_to_string(&config).unwrap();
    assert!(after.contains("retry_attempt_limit = 3") && after.contains(COMMENT), "{after}");
    let typo = json!({"profile": "Desk", "setting": "password", "value": "x"});
    let refused = browser.post("/api/profiles/secret", typo, &browser.csrf, &browser.base).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The seed's Test icon and its LiveLinks page.
    let report: Value = browser.get("/api/check?profile=Desk").await.json().await.unwrap();
    let lines = report["lines"].to_string();
    assert!(lines.contains("✓ BeyondTrust") && lines.contains("✓ Autotask zone"), "{lines}");
    let links: Value = browser.get("/api/livelinks?profile=Desk").await.json().await.unwrap();
    let text = links["text"].as_str().unwrap();
    assert!(text.contains(&format!("http://127.0.0.1:{port}/ERSPost")), "{text}");

    // No secret in any page or answer; every answer guarded; the removed admin is out at once.
    for path in [
        "/",
        "/console.js",
        "/console.css",
        "/api/session",
        "/api/overview",
        "/api/jobs",
        "/api/unlinked",
        "/api/activity",
    ] {
        let answer = browser.get(path).await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        guarded(&answer);
        let text = answer.text().await.unwrap();
        for (_, secret) in secret_env() {
            assert!(!text.contains(secret), "{path} shows a secret");
        }
        assert!(!text.contains(PASSWORD) && !text.contains("$argon2"), "{path}");
    }
    let csv = browser.get("/api/activity.csv").await;
    assert_eq!(csv.headers().get("content-type").unwrap(), "text/csv; charset=utf-8");
    assert!(csv.headers().get("content-disposition").unwrap().to_str().unwrap().starts_with("attachment;"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("at,profile,rep,level,summary,details,session,ticket_id,job_id\r\n"), "{csv}");
    assert!(csv.contains("dana retried job") && csv.contains(&walk_in), "{csv}");
    let requests: Value = browser.get("/api/requests").await.json().await.unwrap();
    let writes: u64 = requests["hours"].as_array().unwrap().iter().map(|h| h["counts"][0].as_u64().unwrap()).sum();
    assert!(writes >= 4, "two notes and two time entries at least, counted as writes: {requests}");
    assert_eq!(requests["purposes"][0], "writes");
    assert!(requests["threshold"]["limit"].as_u64().unwrap() > 0, "{requests}");
    let overview: Value = browser.get("/api/overview").await.json().await.unwrap();
    assert_eq!(overview["profiles"][0]["profile"], "Desk");
    assert!(overview["profiles"][0]["written"].as_u64().unwrap() >= 2, "{overview}");
    assert!(worker_says(&["console", "remove-admin", "dana"], &config).contains("Removed"));
    assert_eq!(browser.get("/api/session").await.status(), StatusCode::UNAUTHORIZED);
    // Guessing is slowed: past a handful of wrong passwords from one address, it must wait.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(browser.login("dana", "still not it").await.status());
    }
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    let slowed = browser.login("dana", PASSWORD).await;
    assert_eq!(slowed.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(slowed.headers().contains_key("retry-after"));
    assert!(worker.stop());
    // Wrong logins are in the worker's log; no password, typed or right, nor a session's token.
    let log = std::fs::read_to_string(config.with_file_name(format!("worker-{}.log", std::process::id()))).unwrap();
    assert!(log.contains("console: a wrong name or password"), "{log}");
    for secret in [PASSWORD, "not the password", "still not it", browser.csrf.as_str(), made["code"].as_str().unwrap()]
    {
        assert!(!log.contains(secret), "the worker's log holds a secret");
    }
    assert!(!log.contains(browser.cookie.trim_start_matches("bta_console=")));
}

/// Debian's Chromium, headless, through its ChromeDriver on a port of its own.
struct Chromium {
    driver: std::process::Child,
    client: fantoccini::Client,
    _profile: tempfile::TempDir,
}

impl Drop for Chromium {
    /// ChromeDriver and the browsers it started, as one process group: none outlives the test.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

impl Chromium {
    async fn start() -> Chromium {
        Chromium::start_trusting(false).await
    }

    /// With `certificates_of_the_test`, the session takes the test's own certificates (a CA of
    /// the test's, unknown to this machine), as a desk's browsers trust the desk's CA.
    async fn start_trusting(certificates_of_the_test: bool) -> Chromium {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            assert!(
                Path::new(tool).is_file(),
                "{tool} is missing: run `cargo xtask setup` (it installs chromium-driver)"
            );
        }
        let port = free_port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        // No background networking: this machine's closed network would refuse it, many at a time.
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,800",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), json!({"binary": "/usr/bin/chromium", "args": args}));
        caps.insert("acceptInsecureCerts".into(), json!(certificates_of_the_test));
        let mut attempt = 0;
        let client = loop {
            attempt += 1;
            let connected = fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await;
            match connected {
                Ok(client) => break client,
                // ChromeDriver may not listen yet.
                Err(_) if attempt < 50 => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                Err(e) => panic!("Chromium did not start under ChromeDriver: {e}"),
            }
        };
        Chromium { driver, client, _profile: profile }
    }

    async fn text(&self, css: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut last = String::new();
        loop {
            if let Ok(found) = self.client.find(fantoccini::Locator::Css(css)).await {
                last = found.text().await.unwrap_or_default();
                if ready(&last) {
                    return last;
                }
            }
            assert!(std::time::Instant::now() < deadline, "'{css}' never became ready; it last said {last:?}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        self.text(css, |_| true).await;
        self.client.find(fantoccini::Locator::Css(css)).await.unwrap().click().await.unwrap();
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.text(css, |_| true).await;
        self.client.find(fantoccini::Locator::Css(css)).await.unwrap().send_keys(text).await.unwrap();
    }
}

/// The console as a desk lead uses it, in Chromium over HTTPS — HTTP/2, as browsers speak it when
/// TLS offers it: log in, retry a failed job, attach a session without a ticket, run Test, enrol
/// and revoke a rep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_lead_works_the_console_in_chromium_over_https() {
    let stands = Stands::start().await;
    let desk = desk_with_console(&stands, true).await;
    refuse_one_time_entry(&stands).await;
    let keyed =
        json!({"external_key": "7203", "reps": [{"username": "alex.morgan"}], "customer": {"name": "Dana Whitfield"}});
    let failed = stands.appliance("sessions", keyed).await["lsid"].as_str().unwrap().to_owned();
    let portal = json!({"external_key": "", "duration": 1500, "reps": [{"username": "alex.morgan"}],
                        "customer": {"name": "Pat Lee", "company": "Dynamo Corporation"}});
    let walk_in = stands.appliance("sessions", portal).await["lsid"].as_str().unwrap().to_owned();
    let jobs = || worker_says(&["jobs"], &desk.config);
    wait_until("both sessions met", async || {
        job_line(&jobs(), &failed, "conference_end").contains("failed")
            && job_line(&jobs(), &walk_in, "conference_end").contains("ignored")
    })
    .await;

    let browser = Chromium::start_trusting(true).await;
    let base = desk.console_url();
    assert!(base.starts_with("https://"), "{base}");
    browser.client.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(browser.client.current_url().await.unwrap().path(), "/login", "sent to log in first");
    let protocol = "return performance.getEntriesByType('navigation')[0].nextHopProtocol";
    assert_eq!(browser.client.execute(protocol, vec![]).await.unwrap(), "h2", "HTTP/2, as a browser speaks it");
    browser.type_into("#name", "dana").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#login button[type=submit]").await;
    browser.text("#who", |t| t == "dana").await;
    let overview = browser.text("#profiles", |t| t.contains("Desk")).await;
    assert!(overview.contains("Desk"), "{overview}");

    // Jobs: the failed one first, in Autotask's words; Retry writes it once.
    browser.click("#tab-jobs").await;
    let said = browser.text("#job-rows tr.failed .said", |t| !t.is_empty()).await;
    assert!(said.contains("summaryNotes can not be blank"), "{said}");
    browser.click("#job-rows tr.failed button.retry").await;
    browser.text("#note", |t| t.contains("queued again")).await;
    wait_until("the retried job", async || job_line(&jobs(), &failed, "conference_end").contains("done")).await;
    let (notes, entries) = (stands.records("TicketNotes").await, stands.records("TimeEntries").await);
    assert_eq!(written(&notes, &entries, &failed), (1, 1));

    // Not in a ticket: the walk-in, attached to its ticket by number, written once.
    browser.click("#tab-unlinked").await;
    browser.text("#billable", |t| t.contains("25 billable minutes")).await;
    // Found with the desk's search, as in the tray: the customer's company first, then words.
    browser.click("#unlinked-rows button.find").await;
    browser.text("#attach-results", |t| t.contains("Dynamo Corporation")).await;
    browser.client.find(fantoccini::Locator::Css("#attach-search")).await.unwrap().clear().await.unwrap();
    browser.type_into("#attach-search", "Outlook keeps").await;
    let chosen = "#attach-results li[data-number='T20261124.0042'] button.attach-here";
    browser.click(chosen).await;
    browser.text("#note", |t| t.starts_with("Writing the session")).await;
    wait_until("the attached session", async || notes_of(&stands.records("TicketNotes").await, &walk_in).len() == 1)
        .await;

    // Two courtesy calls, found by their company and dismissed together; another company's stays.
    let mut courtesy = Vec::new();
    for (name, company) in
        [("Sam Ortiz", "Tailspin Toys"), ("Lee Park", "Tailspin Toys"), ("Ana Ruiz", "Woodgrove Bank")]
    {
        let call = json!({"external_key": "", "duration": 120, "reps": [{"username": "alex.morgan"}],
                          "customer": {"name": name, "company": company}});
        courtesy.push(stands.appliance("sessions", call).await["lsid"].as_str().unwrap().to_owned());
    }
    wait_until("the calls listed", async || {
        courtesy.iter().all(|l| job_line(&jobs(), l, "conference_end").contains("ignored"))
    })
    .await;
    browser.click("#tab-jobs").await;
    browser.click("#tab-unlinked").await;
    browser.text("#unlinked-rows", |t| t.contains("Ana Ruiz")).await;
    browser.type_into("#filter-company", "tailspin").await;
    browser.text("#unlinked-rows", |t| t.contains("Sam Ortiz") && !t.contains("Ana Ruiz")).await;
    browser.click("#select-all").await;
    browser.click("#bulk-dismiss").await;
    browser.text("#note", |t| t.contains("2 session(s) done")).await;
    browser.client.find(fantoccini::Locator::Css("#filter-company")).await.unwrap().clear().await.unwrap();
    browser.click("#tab-unlinked").await;
    let listed = browser.text("#unlinked-rows", |t| t.contains("Ana Ruiz")).await;
    assert!(!listed.contains("Sam Ortiz") && !listed.contains("Lee Park"), "{listed}");

    // A job's history, from its activity.
    browser.click("#tab-jobs").await;
    browser.click("#job-rows tr.done button.history").await;
    browser.text("#history-lines", |t| !t.is_empty()).await;

    // Profiles: the tray's own form; a bad value refused, a good one written with the comments kept.
    browser.click("#tab-profiles").await;
    browser.text("#profile-form legend", |t| !t.is_empty()).await;
    let limit = "#field-retry_attempt_limit";
    browser.client.find(fantoccini::Locator::Css(limit)).await.unwrap().clear().await.unwrap();
    browser.type_into(limit, "lots").await;
    browser.click("#save-profile").await;
    browser.text("#note", |t| t.contains("whole number")).await;
    browser.client.find(fantoccini::Locator::Css(limit)).await.unwrap().clear().await.unwrap();
    browser.type_into(limit, "4").await;
    browser.click("#save-profile").await;
    browser.text("#note", |t| t.contains("restart it")).await;
    let after = std::fs::read_to_string(&desk.config).unwrap();
    assert!(after.contains("retry_attempt_limit = 4") && after.contains(COMMENT), "{after}");

    // Test, as the seed's icon; a rep enrolled (the link and its QR code shown) and revoked.
    browser.click("#tab-overview").await;
    browser.text("#webhooks", |t| t == "Desk: Autotask's ticket webhook is on.").await;
    browser.click("#profiles button.test").await;
    browser.text("#report", |t| t.contains("✓ BeyondTrust")).await;
    browser.text("#threshold", |t| t.contains("requests this hour")).await;
    let bars = "const d = document.getElementById('chart').getContext('2d').getImageData(0, 0, 720, 200).data; \
                return d.some((v, i) => i % 4 === 3 && v > 0);";
    assert!(browser.client.execute(bars, vec![]).await.unwrap().as_bool().unwrap(), "the chart is drawn");
    browser.click("#tab-reps").await;
    browser.type_into("#enrol-username", "alex.morgan").await;
    browser.click("#enrol button[type=submit]").await;
    let link = browser.text("#invite-link", |t| t.starts_with("bt-autotask://enrol?")).await;
    let code = browser.text("#invite-code", |t| !t.is_empty()).await;
    assert!(link.contains(&code), "{link}");
    let drawn: bool = browser
        .client
        .execute("const c = document.getElementById('invite-qr').getContext('2d').getImageData(0, 0, 200, 200).data; return c.some((v, i) => i % 4 === 0 && v === 0);", vec![])
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(drawn, "the QR code is drawn");
    browser.text("#rep-rows", |t| t.contains("alex.morgan") && t.contains("invited (link waiting)")).await;
    browser.click("#rep-rows button.revoke").await;
    browser.client.accept_alert().await.unwrap();
    browser.text("#rep-rows", |t| t.contains("revoked")).await;
    assert!(!desk.enrols(&code).await, "revoked");
    browser.client.clone().close().await.unwrap();
    assert!(desk.worker.stop());
}

/// The console's Overview, Jobs and Not in a ticket as the README shows them: a desk with a
/// session written, one refused for a closed timesheet and one from the portal without a ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots; run by cargo xtask screenshots"]
async fn console_screenshots() {
    let out = std::path::PathBuf::from(std::env::var_os("BTA_SCREENSHOTS").expect("BTA_SCREENSHOTS: where to write"));
    let stands = Stands::start().await;
    let desk = desk_with_console(&stands, false).await;
    let sessions = [
        json!({"external_key": "7201", "duration": 902, "reps": [{"username": "alex.morgan"}],
               "customer": {"name": "Dana Whitfield", "company": "Contoso Ltd", "issue": "Outlook / E-mail"}}),
        json!({"external_key": "7206", "duration": 300, "reps": [{"username": "sam.lee"}],
               "customer": {"name": "Miguel Ortega", "company": "Dynamo Corporation", "issue": "VPN Access"}}),
        json!({"external_key": "", "duration": 1500, "reps": [{"username": "alex.morgan"}],
               "customer": {"name": "Pat Lee", "company": "Dynamo Corporation", "issue": "Printer offline"}}),
    ];
    // Sam submitted this week's timesheet: Autotask takes no more time on it.
    let resources = stands.records("Resources").await;
    let sam = resources.iter().find(|r| r["userName"] == "sam.lee").unwrap()["id"].clone();
    let today = chrono::Utc::now().date_naive();
    let submitted = json!({"resourceID": sam, "date": today, "status": "Submitted"});
    stands.post(format!("{}/_sim/timesheets", stands.autotask.base_url), submitted).await;
    let mut lsids = Vec::new();
    for session in sessions {
        let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
        wait_until("the session met", async || {
            let line = job_line(&worker_says(&["jobs"], &desk.config), &lsid, "conference_end");
            ["done", "failed", "ignored"].iter().any(|s| line.contains(s))
        })
        .await;
        lsids.push(lsid);
    }
    let browser = Chromium::start().await;
    browser.client.goto(&format!("http://127.0.0.1:{}/login", desk.console)).await.unwrap();
    browser.type_into("#name", "dana").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#login button[type=submit]").await;
    browser.text("#profiles", |t| t.contains("Desk")).await;
    browser.text("#threshold", |t| t.contains("requests this hour")).await;
    std::fs::create_dir_all(&out).unwrap();
    let shoot = async |name: &str| std::fs::write(out.join(name), browser.client.screenshot().await.unwrap()).unwrap();
    shoot("console-overview.png").await;
    browser.click("#tab-jobs").await;
    browser.text("#job-rows tr.failed .said", |t| t.contains("timesheet")).await;
    shoot("console-jobs.png").await;
    browser.click("#tab-unlinked").await;
    browser.text("#billable", |t| t.contains("billable minutes")).await;
    shoot("console-not-in-a-ticket.png").await;
    browser.client.clone().close().await.unwrap();
    assert!(desk.worker.stop());
}

/// Fifty technicians of a department in Autotask, one of them with a second e-mail domain, and
/// two who are not to be offered: one inactive, one in another department.
async fn a_department_of_fifty(stands: &Stands) -> i64 {
    let department = 29_683_150;
    let url = |entity: &str| format!("{}/_sim/records/{entity}", stands.autotask.base_url);
    stands.post(url("Departments"), json!([{"id": department, "name": "Field Team"}])).await;
    let mut people = Vec::new();
    let mut roles = Vec::new();
    for i in 0..52 {
        let id = 29_800_000 + i;
        let email = match i {
            7 => "tech07@contractor.net".to_owned(),
            _ => format!("tech{i:02}@example.com"),
        };
        people.push(json!({"id": id, "email": email, "userName": format!("tech{i:02}"), "firstName": "Tech",
                           "lastName": format!("{i:02}"), "isActive": i != 50}));
        let theirs = if i == 51 { bta_sim::autotask::SERVICE_DESK_DEPARTMENT_ID } else { department };
        roles.push(json!({"id": 29_900_000 + i, "resourceID": id, "roleID": bta_sim::autotask::SAMPLE_ROLE_ID,
                          "departmentID": theirs, "isActive": true}));
    }
    stands.post(url("Resources"), Value::Array(people)).await;
    stands.post(url("ResourceRoles"), Value::Array(roles)).await;
    department
}

/// The one enrolment link in a message.
fn link_in(body: &str) -> String {
    let links: Vec<&str> = body.split_whitespace().filter(|w| w.starts_with("bt-autotask://")).collect();
    assert_eq!(links.len(), 1, "one link in each message:\n{body}");
    links[0].to_owned()
}

fn code_of(link: &str) -> String {
    let link = url::Url::parse(link).unwrap();
    link.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
}

/// The relay's login goes only over TLS to a certificate the worker trusts, a wrong password is
/// refused with a clear error, and no error ever holds the password.
#[tokio::test]
async fn the_relays_password_goes_only_over_tls_and_a_wrong_one_is_refused_unsaid() {
    use bta_core::config::{SmtpSecurity, SmtpSettings};
    use bta_core::mail::Mailer;
    use bta_e2e::smtp_sink::{RELAY_PASSWORD, RELAY_USER, SmtpSink};
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("relay-ca.pem");
    std::fs::write(&ca, &sink.ca_pem).unwrap();
    let relay = |password: &str, ca_file: Option<&Path>| {
        let settings = SmtpSettings {
            host: "localhost".into(),
            port: sink.port,
            security: SmtpSecurity::Local,
            login: Some((RELAY_USER.into(), bta_core::Secret::new(password))),
            from: "IT Desk <desk@example.com>".into(),
            ca_file: ca_file.map(Path::to_path_buf),
        };
        Mailer::new(&settings).unwrap()
    };
    let send = async |mailer: Mailer| mailer.send("tech01@example.com", "Your link", "Hello".into()).await;

    let wrong = "not-the-relays-password";
    let refused = send(relay(wrong, Some(&ca))).await.unwrap_err().to_string();
    assert!(refused.contains("did not take the message to tech01@example.com"), "{refused}");
    assert!(!refused.contains(wrong), "the password is never said: {refused}");
    let untrusted = send(relay(RELAY_PASSWORD, None)).await.unwrap_err().to_string();
    assert!(!untrusted.contains(RELAY_PASSWORD), "{untrusted}");
    assert_eq!(sink.logins_in_clear(), 0, "no login before TLS, even to a certificate not trusted");
    assert!(sink.mails().is_empty());
    send(relay(RELAY_PASSWORD, Some(&ca))).await.unwrap();
    assert_eq!(sink.mails().len(), 1, "the right password over TLS is taken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_lead_enrols_a_department_of_fifty_at_once_by_mail_and_by_csv() {
    let stands = Stands::start().await;
    let department = a_department_of_fifty(&stands).await;
    let sink = bta_e2e::smtp_sink::SmtpSink::start().await;
    let relay = sink.settings(stands.dir.path());
    let desk = desk_with_console_and(&stands, true, &relay).await;
    let mut browser = Browser::over_https(&desk);
    browser.log_in("dana", PASSWORD).await;

    let groups: Value = browser.get("/api/reps/groups?profile=Desk").await.json().await.unwrap();
    assert!(groups["departments"].to_string().contains("Field Team") && groups["mail"] == true, "{groups}");
    assert!(groups["queues"].to_string().contains("Level I Support"), "{groups}");
    let asked = format!("/api/reps/candidates?profile=Desk&department={department}");
    let found: Value = browser.get(&asked).await.json().await.unwrap();
    let candidates = found["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 50, "the active ones of the department only");
    let contractor = candidates.iter().find(|c| c["email"] == "tech07@contractor.net").unwrap();
    assert!(contractor["username"].is_null(), "another domain: the admin types the username");

    // In Chromium, as the desk lead does it: the department listed, the contractor's username
    // typed, one Autotask does not know pasted; each rep is sent their own link, and the unknown
    // one is said and stops no other.
    let chromium = Chromium::start_trusting(true).await;
    chromium.client.goto(&format!("{}/", desk.console_url())).await.unwrap();
    chromium.type_into("#name", "dana").await;
    chromium.type_into("#password", PASSWORD).await;
    chromium.click("#login button[type=submit]").await;
    chromium.text("#who", |t| t == "dana").await;
    chromium.click("#tab-reps").await;
    chromium.click("#many summary").await;
    chromium.text("#many-group", |t| t.contains("Department: Field Team")).await;
    let group = chromium.client.find(fantoccini::Locator::Css("#many-group")).await.unwrap();
    group.select_by_value(&format!("department={department}")).await.unwrap();
    chromium.click("#many-list").await;
    chromium.text("#many-said", |t| t.contains("50 active")).await;
    chromium.type_into("#many-rows tr[data-email='tech07@contractor.net'] .many-username", "t.seven").await;
    chromium.type_into("#many-pasted", "nobody.here").await;
    chromium.click("#many-add").await;
    chromium.click("#many-mail").await;
    chromium.text("#many-said", |t| t.contains("50 of 51 enrolled and sent their link")).await;
    let outcomes = chromium.text("#many-rows", |t| t.contains("no Autotask resource")).await;
    assert!(outcomes.contains("sent to tech12@example.com"), "{outcomes}");
    drop(chromium);
    let mails = sink.mails();
    assert_eq!(mails.len(), 50, "one message each");
    let mut codes = std::collections::HashSet::new();
    for mail in &mails {
        assert_eq!(mail.to.len(), 1, "each message to one rep alone");
        assert!(mail.over_tls && mail.logged_in, "sent over STARTTLS with the relay's login");
        assert_eq!(mail.from, "desk@example.com");
        let link = link_in(&mail.body);
        assert!(codes.insert(code_of(&link)), "each rep their own link");
        let rep = mail.to[0].split('@').next().unwrap();
        let username = if rep == "tech07" { "t.seven" } else { rep };
        assert!(mail.body.contains(&format!("Hello {username},")), "{}", mail.body);
    }
    let activity: Value = browser.get("/api/activity").await.json().await.unwrap();
    assert!(activity.to_string().contains("dana sent tech12 an enrolment link by e-mail to tech12@example.com"));

    // A link works once.
    let tech03 = mails.iter().find(|m| m.to[0] == "tech03@example.com").unwrap();
    let code = code_of(&link_in(&tech03.body));
    assert!(desk.enrols(&code).await, "the mailed link enrols");
    assert!(!desk.enrols(&code).await, "and only once");

    // The same reps as a CSV for the desk's own mail merge: a row each, new links that work.
    let reps: Vec<Value> = mails
        .iter()
        .map(|m| json!({"username": m.body.split(',').next().unwrap().trim_start_matches("Hello "), "email": m.to[0]}))
        .collect();
    let rows =
        browser.change("/api/reps/enrol-many", json!({"profile": "Desk", "reps": reps, "delivery": "csv"})).await;
    let csv = rows["csv"].as_str().unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "username,email,link,expires");
    assert_eq!(lines.len(), 51, "a header and fifty rows");
    assert_eq!(sink.mails().len(), 50, "nothing mailed for a CSV");
    let tech20 = lines.iter().find(|l| l.starts_with("tech20,")).unwrap();
    let link = tech20.split(',').nth(2).unwrap();
    assert!(desk.enrols(&code_of(link)).await, "a link from the CSV enrols");
    let mailed_before = code_of(&link_in(&mails.iter().find(|m| m.to[0] == "tech20@example.com").unwrap().body));
    assert!(!desk.enrols(&mailed_before).await, "the link mailed before was replaced");
    drop(desk);
}
