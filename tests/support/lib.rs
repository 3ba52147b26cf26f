//! Set-up for the end-to-end tests: both stand-ins in process, a configuration file pointing at
//! them, and the real `bt-autotask-worker` binary started, stopped and killed as a server would be.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// A Linux desktop of the tests' own (Xvfb, D-Bus, keyring, notifications) for the tray app.
#[cfg(target_os = "linux")]
pub mod desktop;

pub mod bench;
pub mod smtp_sink;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use std::path::Path;
use std::sync::Arc;

use bta_core::Secret;
use bta_core::config::{MemoryStore, SecretRef, SecretStore, WorkerConfig};
use bta_core::intake::Intake;
use bta_core::store::{AsyncStore, Job, JobState, Store};
use bta_core::worker::Timing;
use serde_json::Value;

/// The worker binary next to this test's own (built by `cargo build --workspace --bins`).
pub fn worker_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().and_then(|deps| deps.parent()).unwrap().join("bt-autotask-worker");
    assert!(
        binary.is_file(),
        "{} is missing; build it first: cargo build --workspace --bins (cargo xtask test does)",
        binary.display()
    );
    binary
}

/// The stand-ins' secrets in the environment variables `Stands::profile` names.
pub fn secret_env() -> [(&'static str, &'static str); 3] {
    [
        ("BTA_BT_SECRET", bta_sim::beyondtrust::DEFAULT_CLIENT_SECRET),
        ("BTA_AT_SECRET", bta_sim::autotask::DEFAULT_SECRET),
        ("BTA_AT_CODE", bta_sim::autotask::DEFAULT_INTEGRATION_CODE),
    ]
}

/// The variable the workers read the store's password from, on the tests' PostgreSQL.
pub const STORE_PASSWORD_ENV: &str = "BTA_TEST_STORE_PASSWORD";

/// The tests' PostgreSQL's password for the workers, once it runs.
pub fn store_env() -> Vec<(&'static str, &'static str)> {
    bta_core::store::throwaway_postgres::started().map(|c| (STORE_PASSWORD_ENV, c.password())).into_iter().collect()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Both stand-ins, and a directory for the configuration and the store.
#[derive(Debug)]
pub struct Stands {
    pub autotask: bta_sim::autotask::Running,
    pub appliance: bta_sim::beyondtrust::Running,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl Stands {
    pub async fn start() -> Stands {
        let autotask_config = bta_sim::autotask::Config { threshold_delay: Duration::ZERO, ..Default::default() };
        let autotask = bta_sim::autotask::spawn(autotask_config, 0).await.unwrap();
        let appliance_config = bta_sim::beyondtrust::Config { demo: false, ..Default::default() };
        let appliance = bta_sim::beyondtrust::spawn(appliance_config, 0).await.unwrap();
        Stands { autotask, appliance, dir: tempfile::tempdir().unwrap(), http: reqwest::Client::new() }
    }

    /// Writes `worker.toml`: one profile on both stand-ins, secrets from the environment,
    /// time entries on; `top` and `profile` add settings.
    pub fn config(&self, port: u16, top: &str, profile: &str) -> PathBuf {
        let text =
            format!("listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\n{top}\n\n{}", self.profile("Desk", profile));
        let path = self.dir.path().join("worker.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Settings that put a worker's store on a new database of the tests' own PostgreSQL, with a
    /// token key file every worker given the same settings shares (as a desk copies it to each).
    pub fn postgres_store(&self) -> String {
        let cluster = bta_core::store::throwaway_postgres::cluster().unwrap();
        let url = cluster.new_database().unwrap();
        let key = self.dir.path().join(format!("{}.token-key", url.rsplit('/').next().unwrap()));
        bta_core::store::load_or_make_key(&key).unwrap();
        format!("store_url = \"{url}\"\nstore_password_env = \"{STORE_PASSWORD_ENV}\"\ntoken_key_file = {key:?}\n")
    }

    /// One `[[profile]]` on both stand-ins, secrets from the environment, time entries on.
    pub fn profile(&self, name: &str, extra: &str) -> String {
        format!(
            "[[profile]]\nname = \"{name}\"\n\
             appliance_host = \"{}\"\nuse_non_tls_connections = true\nclient_id = \"{}\"\nclient_secret_env = \"BTA_BT_SECRET\"\n\
             autotask_services_url = \"{}/ATServicesRest\"\nautotask_username = \"{}\"\n\
             autotask_password_env = \"BTA_AT_SECRET\"\nautotask_integration_code_env = \"BTA_AT_CODE\"\nupdate_time_entry = true\n\
             time_entry_default_data = {{ defaultDomain = \"example.com\", roleName = \"Sample Role\", summaryNotes = \"Remote support\" }}\n{extra}\n",
            self.appliance.host(),
            bta_sim::beyondtrust::DEFAULT_CLIENT_ID,
            self.autotask.base_url,
            bta_sim::autotask::DEFAULT_USERNAME,
        )
    }

    /// The "Desk" profile as a loaded configuration, secrets in memory; `extra` settings replace
    /// the profile's defaults of the same name.
    pub fn desk_config(&self, extra: &str) -> WorkerConfig {
        self.desk_config_with(extra, &[])
    }

    /// [`Stands::desk_config`] with more of the profile's secrets in memory (`desk_token`).
    pub fn desk_config_with(&self, extra: &str, secrets_too: &[(&'static str, &str)]) -> WorkerConfig {
        let key = |line: &str| line.split_once(" =").map(|(k, _)| k.trim().to_owned());
        let overridden: Vec<String> = extra.lines().filter_map(key).collect();
        let profile = self.profile("Desk", "");
        let kept: Vec<&str> = profile
            .lines()
            .filter(|l| !l.contains("_env =") && key(l).is_none_or(|k| !overridden.contains(&k)))
            .collect();
        // On loopback, as the tests' listeners are (a desk served to other machines needs HTTPS).
        let text = format!("listen = \"127.0.0.1:8180\"\n{}\n{extra}\n", kept.join("\n"));
        let secrets = MemoryStore::default();
        for (setting, value) in [
            ("client_secret", bta_sim::beyondtrust::DEFAULT_CLIENT_SECRET),
            ("autotask_password", bta_sim::autotask::DEFAULT_SECRET),
            ("autotask_integration_code", bta_sim::autotask::DEFAULT_INTEGRATION_CODE),
        ]
        .into_iter()
        .chain(secrets_too.iter().copied())
        {
            secrets.set(&SecretRef::store_key("Desk", setting), &Secret::new(value)).unwrap();
        }
        WorkerConfig::parse(&text, Path::new("."), &secrets).unwrap()
    }

    /// Someone else adds a note to a ticket in Autotask (a second later: last activity is kept to
    /// the second).
    pub async fn someone_notes(&self, ticket: i64) {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let note = serde_json::json!({"title": "Called the customer", "description": "Back after lunch",
                                      "noteType": 1, "publish": 1});
        let response = self.autotask_api(reqwest::Method::POST, &format!("Tickets/{ticket}/Notes")).json(&note);
        let response = response.send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    }

    /// Someone retitles a ticket in Autotask (a second later, as [`Stands::someone_notes`]).
    pub async fn retitle(&self, ticket: i64, title: &str) {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let change = serde_json::json!({"id": ticket, "title": title});
        let response = self.autotask_api(reqwest::Method::PATCH, "Tickets").json(&change).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    }

    /// A request to the Autotask stand-in's REST API (`path` under `/ATServicesRest/v1.0/`),
    /// as the demo API user.
    pub fn autotask_api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/ATServicesRest/v1.0/{path}", self.autotask.base_url))
            .header("UserName", bta_sim::autotask::DEFAULT_USERNAME)
            .header("Secret", bta_sim::autotask::DEFAULT_SECRET)
            .header("ApiIntegrationCode", bta_sim::autotask::DEFAULT_INTEGRATION_CODE)
    }

    /// Writes a configuration file of the given text.
    pub fn write_config(&self, text: &str) -> PathBuf {
        let path = self.dir.path().join("worker.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    pub async fn post(&self, url: String, body: Value) -> Value {
        let response = self.http.post(&url).json(&body).send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"));
        assert!(response.status().is_success(), "POST {url}: {}", response.status());
        response.json().await.unwrap_or_else(|e| panic!("POST {url} answered no JSON: {e}"))
    }

    pub async fn delete(&self, url: String) {
        let response = self.http.delete(&url).send().await.unwrap_or_else(|e| panic!("DELETE {url}: {e}"));
        assert!(response.status().is_success(), "DELETE {url}: {}", response.status());
    }

    pub async fn get(&self, url: String) -> Value {
        let response = self.http.get(&url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        response.json().await.unwrap_or_else(|e| panic!("GET {url} answered no JSON: {e}"))
    }

    pub async fn appliance(&self, path: &str, body: Value) -> Value {
        self.post(format!("{}/_sim/{path}", self.appliance.base_url), body).await
    }

    pub async fn autotask_fault(&self, fault: Value) {
        self.post(format!("{}/_sim/faults", self.autotask.base_url), fault).await;
    }

    pub async fn deliveries(&self) -> Value {
        self.get(format!("{}/_sim/deliveries", self.appliance.base_url)).await
    }

    pub async fn records(&self, entity: &str) -> Vec<Value> {
        let all = self.get(format!("{}/_sim/records", self.autotask.base_url)).await;
        all[entity].as_array().cloned().unwrap_or_default()
    }
}

/// `bt-autotask-worker <args> --config <config>` with the stand-ins' secrets: what it printed, or
/// what it said on failing.
pub fn worker_says(args: &[&str], config: &Path) -> Result<String, String> {
    let output = Command::new(worker_binary())
        .args(args)
        .arg("--config")
        .arg(config)
        .envs(secret_env())
        .envs(store_env())
        .output()
        .unwrap();
    let said = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    if output.status.success() { Ok(said(&output.stdout)) } else { Err(said(&output.stderr)) }
}

/// `console add-admin NAME` with the password on standard input, as an admin types it: what it
/// printed, or its error.
pub fn add_admin(config: &Path, name: &str, password: &str) -> Result<String, String> {
    use std::io::Write;
    let mut child = Command::new(worker_binary())
        .args(["console", "add-admin", name, "--config"])
        .arg(config)
        .envs(secret_env())
        .envs(store_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if output.status.success() { Ok(said(&output.stdout)) } else { Err(said(&output.stderr)) }
}

/// A process's resident memory in kB, from /proc (0 where there is none).
pub fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"));
    line.and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

/// A new CA and a certificate for `localhost` and 127.0.0.1 it signed, as PEM: (CA, certificate,
/// key) — a desk's own certificate, which only what trusts the CA accepts.
pub fn certificate_from_a_new_ca() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    let cert = params.signed_by(&key, &Issuer::from_params(&ca, &ca_key)).unwrap();
    (ca_pem, cert.pem(), key.serialize_pem())
}

/// Enrols `rep` (a BeyondTrust username whose Autotask e-mail is `<rep>@example.com`) at the
/// desk's worker listening at `url` on `store`, as `rep add` and the app do: the rep's token.
pub async fn enrol_rep(store: &AsyncStore, config: &WorkerConfig, url: &str, rep: &str) -> String {
    let desk = url::Url::parse(url).unwrap();
    let invited =
        bta_core::gateway::enrol::invite(store, &config.profiles[0], rep, None, &desk, &config.other_desk_urls, None)
            .await
            .unwrap();
    enrol_with_code(url, invited.code.expose()).await.unwrap()["token"].as_str().unwrap().to_owned()
}

/// `POST /desk/enrol` with `code`: the answer, or the status and what the worker said.
pub async fn enrol_with_code(url: &str, code: &str) -> Result<Value, (u16, String)> {
    let response = reqwest::Client::new()
        .post(format!("{url}/desk/enrol"))
        .json(&serde_json::json!({"code": code}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status == 200 { Ok(response.json().await.unwrap()) } else { Err((status, response.text().await.unwrap())) }
}

/// A running `bt-autotask-worker run`.
#[derive(Debug)]
pub struct Worker {
    child: Child,
    pub port: u16,
}

impl Worker {
    /// Starts the worker with the stand-ins' secrets in its environment and waits until it listens.
    pub async fn start(config: &PathBuf, port: u16) -> Worker {
        Worker::start_under(config, port, &[]).await
    }

    /// [`Worker::start`] with at most `files` open files (`prlimit`, hard and soft alike): a
    /// system that runs out of them.
    pub async fn start_with_open_files(config: &PathBuf, port: u16, files: u32) -> Worker {
        let limit = format!("--nofile={files}:{files}");
        Worker::start_under(config, port, &["prlimit", &limit, "--"]).await
    }

    /// The worker's log file.
    pub fn log_of(config: &Path) -> PathBuf {
        config.with_file_name(format!("worker-{}.log", std::process::id()))
    }

    async fn start_under(config: &PathBuf, port: u16, wrapper: &[&str]) -> Worker {
        let log_path = Worker::log_of(config);
        let log = std::fs::File::create(&log_path).unwrap();
        let binary = worker_binary();
        let mut command = match wrapper {
            [] => Command::new(&binary),
            [program, args @ ..] => {
                let mut command = Command::new(program);
                command.args(args).arg(&binary);
                command
            }
        };
        let mut child = command
            .args(["run", "--config"])
            .arg(config)
            .env("BTA_BT_SECRET", bta_sim::beyondtrust::DEFAULT_CLIENT_SECRET)
            .env("BTA_AT_SECRET", bta_sim::autotask::DEFAULT_SECRET)
            .env("BTA_AT_CODE", bta_sim::autotask::DEFAULT_INTEGRATION_CODE)
            .envs(store_env())
            .env(smtp_sink::RELAY_PASSWORD_ENV, smtp_sink::RELAY_PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        // Listening, over HTTP or HTTPS: the port takes connections.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            let exited = child.try_wait().unwrap();
            if exited.is_some() || tokio::time::Instant::now() > deadline {
                let said = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("the worker never listened on {port} ({exited:?}); it said:\n{said}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Worker { child, port }
    }

    /// The process id, to read its memory.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGHUP: reload what can be reloaded (the HTTPS certificate).
    pub fn hangup(&self) {
        let sent = Command::new("kill").args(["-HUP", &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success());
    }

    /// SIGKILL: no shutdown, no flush — as a crash or a pulled plug leaves it.
    pub fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and whether it then stopped cleanly.
    pub fn stop(mut self) -> bool {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        self.child.wait().unwrap().success()
    }
}

/// A worker a test dropped without stopping it (the test failed before it could) is killed, so
/// it does not live on beside the next tests.
impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Intake and worker in this process, on a fresh store, for the stand-ins' "Desk" profile.
#[derive(Debug)]
pub struct Pipeline {
    pub stands: Arc<Stands>,
    pub intake_url: String,
    pub store: AsyncStore,
    pub worker: bta_core::worker::Worker,
    pub config: Arc<WorkerConfig>,
    _store_dir: tempfile::TempDir,
}

impl std::ops::Deref for Pipeline {
    type Target = Stands;
    fn deref(&self) -> &Stands {
        &self.stands
    }
}

impl Pipeline {
    /// Quick retries and waits, for tests.
    pub async fn start(extra: &str) -> Pipeline {
        Pipeline::start_with(extra, Pipeline::quick()).await
    }

    pub fn quick() -> Timing {
        Timing {
            retry_base: Duration::from_millis(20),
            retry_max: Duration::from_millis(200),
            report_lag_wait: Duration::from_millis(50),
            ..Timing::default()
        }
    }

    /// `extra` settings replace the profile's defaults of the same name; secrets are in memory.
    pub async fn start_with(extra: &str, timing: Timing) -> Pipeline {
        Pipeline::start_on(Arc::new(Stands::start().await), extra, timing).await
    }

    /// A pipeline, with its own store, on stand-ins it may share with others.
    pub async fn start_on(stands: Arc<Stands>, extra: &str, timing: Timing) -> Pipeline {
        let store_dir = tempfile::tempdir().unwrap();
        let store = Store::open(&store_dir.path().join("store.sqlite3")).unwrap();
        Pipeline::start_with_store(stands, extra, timing, store, store_dir).await
    }

    /// A pipeline whose store is on a new database of the tests' own PostgreSQL.
    pub async fn start_on_postgres(extra: &str, timing: Timing) -> Pipeline {
        let store_dir = tempfile::tempdir().unwrap();
        let dir = store_dir.path().to_owned();
        let store = tokio::task::spawn_blocking(move || {
            let cluster = bta_core::store::throwaway_postgres::cluster().unwrap();
            let url = cluster.new_database().unwrap();
            let url = bta_core::store::StoreUrl::parse(&url, Some(&bta_core::Secret::new(cluster.password()))).unwrap();
            let key = dir.join("worker.token-key");
            bta_core::store::load_or_make_key(&key).unwrap();
            Store::connect(&url, &key, &dir).unwrap()
        })
        .await
        .unwrap();
        Pipeline::start_with_store(Arc::new(Stands::start().await), extra, timing, store, store_dir).await
    }

    async fn start_with_store(
        stands: Arc<Stands>,
        extra: &str,
        timing: Timing,
        store: Store,
        store_dir: tempfile::TempDir,
    ) -> Pipeline {
        let config = Arc::new(stands.desk_config(extra));
        let store = AsyncStore::new(store);
        let wake = Arc::new(tokio::sync::Notify::new());
        let worker = bta_core::worker::Worker::new(&config, store.clone(), wake.clone(), timing).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let intake_url = format!("http://{}/ERSPost", listener.local_addr().unwrap());
        tokio::spawn(Intake::new(config.clone(), store.clone(), wake).serve(listener, std::future::pending()));
        let running = worker.clone();
        tokio::spawn(async move { running.run(std::future::pending()).await });
        Pipeline { stands, intake_url, store, worker, config, _store_dir: store_dir }
    }

    /// Waits until `count` jobs exist and none is pending or running.
    pub async fn settled(&self, count: usize) -> Vec<Job> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let jobs = self.store.run(|s| s.recent_jobs(100)).await.unwrap();
            if jobs.len() >= count
                && jobs.iter().all(|j| matches!(j.state, JobState::Done | JobState::Failed | JobState::Ignored))
            {
                return jobs;
            }
            assert!(tokio::time::Instant::now() < deadline, "jobs never settled: {jobs:#?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
