//! A PostgreSQL of the tests' own: a cluster made with `initdb` in a temporary folder, started on
//! a free loopback port (as the `postgres` user where the tests run as root, which PostgreSQL
//! refuses), a fresh database for each test. The server is started by a shell that waits on the
//! test process's end (its standard input closes) to stop it and delete the folder, so no server
//! outlives the tests that started it, however they end. It speaks TLS too, with a certificate for
//! 127.0.0.1 from a CA of its own ([`Cluster::ca_file`]), for the tests of the store's TLS.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

static DURABLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Called before the cluster starts, it syncs its commits to the disk like a desk's database (for
/// benchmarks); the tests' own run without, their databases being thrown away.
pub fn durable() {
    DURABLE.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// The superuser the tests connect as.
pub const USER: &str = "bta";

/// A running throwaway cluster.
#[derive(Debug)]
pub struct Cluster {
    port: u16,
    password: String,
    /// The CA (PEM) the server's certificate is signed by.
    ca_file: PathBuf,
    /// The shell that stops the server when this process ends; kept so its input stays open.
    _keeper: Mutex<Child>,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// The cluster of this test process, started on first use.
pub fn cluster() -> Result<&'static Cluster, String> {
    CLUSTER.get_or_init(Cluster::start).as_ref().map_err(Clone::clone)
}

/// The cluster of this test process, if one was started (its password goes to the workers it runs).
pub fn started() -> Option<&'static Cluster> {
    CLUSTER.get().and_then(|c| c.as_ref().ok())
}

/// PostgreSQL's programs: the newest installed version's (Debian keeps them off PATH).
fn bin_dir() -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "PostgreSQL is not installed here — `cargo xtask setup` installs it".to_owned())?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".to_owned())
}

/// Runs PostgreSQL's programs as a user it accepts: this one, or `postgres` for root.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

impl Cluster {
    fn start() -> Result<Cluster, String> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new().prefix("bta-postgres-").tempdir().map_err(|e| e.to_string())?.keep();
        let password = format!("throwaway-{:016x}", rand::random::<u64>());
        let pwfile = dir.join("pw");
        std::fs::File::create(&pwfile).and_then(|mut f| f.write_all(password.as_bytes())).map_err(|e| e.to_string())?;
        let ca_file = dir.join("ca.pem");
        let (ca, certificate, key) = certificates().map_err(|e| format!("the test CA: {e}"))?;
        std::fs::write(&ca_file, ca).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("server.crt"), certificate).map_err(|e| e.to_string())?;
        private_write(&dir.join("server.key"), &key).map_err(|e| e.to_string())?;
        if is_root() {
            let chown = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status();
            chown.map_err(|e| e.to_string()).and_then(|s| s.success().then_some(()).ok_or("chown failed".into()))?;
        }
        let initdb = as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-U", USER, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !initdb.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&initdb.stderr)));
        }
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let server = as_server_user(&bin.join("postgres"));
        let server: Vec<String> = std::iter::once(server.get_program())
            .chain(server.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        // The shell stops the server when this process's end closes its input, then deletes the
        // folder. fsync off unless asked: the tests' databases are thrown away, and they are about
        // the SQL.
        let durability = if DURABLE.load(std::sync::atomic::Ordering::SeqCst) {
            "-c fsync=on -c synchronous_commit=on"
        } else {
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        };
        let script = format!(
            "{} -D '{dir}/data' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 {durability} \
             -c max_connections=400 -c ssl=on \
             -c ssl_cert_file='{dir}/server.crt' -c ssl_key_file='{dir}/server.key' >'{dir}/log' 2>&1 &
             pid=$!; read _ignored; kill -INT $pid; wait $pid; rm -rf '{dir}'",
            server.join(" "),
            dir = dir.display()
        );
        let keeper = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting PostgreSQL: {e}"))?;
        let cluster = Cluster { port, password, ca_file, _keeper: Mutex::new(keeper) };
        cluster.wait_ready(&dir)?;
        Ok(cluster)
    }

    fn wait_ready(&self, dir: &Path) -> Result<(), String> {
        let started = Instant::now();
        loop {
            match self.client("postgres") {
                Ok(_) => return Ok(()),
                Err(e) if started.elapsed() > Duration::from_secs(30) => {
                    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
                    return Err(format!("PostgreSQL did not start in 30 s: {e}\n{log}"));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn client(&self, database: &str) -> Result<tokio_postgres::Client, String> {
        let mut config = tokio_postgres::Config::new();
        config.host("127.0.0.1").port(self.port).user(USER).password(&self.password).dbname(database);
        super::db::connect_postgres(config, tokio_postgres::NoTls)
    }

    /// Makes a new, empty database; its URL (without the password, which [`Cluster::password`]
    /// gives, as a desk's would come from the keyring or the environment).
    pub fn new_database(&self) -> Result<String, String> {
        let name = format!("t{:016x}", rand::random::<u64>());
        let client = self.client("postgres")?;
        futures::executor::block_on(client.batch_execute(&format!("CREATE DATABASE {name}")))
            .map_err(|e| e.to_string())?;
        Ok(format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port))
    }

    /// The database at `url` goes away for `down`, as in a restart or a failover to the replica:
    /// every connection to it is ended and none is taken until it is back.
    pub fn outage(&self, url: &str, down: Duration) -> Result<(), String> {
        let name =
            url.rsplit('/').next().filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric())).ok_or("no database")?;
        let client = self.client("postgres")?;
        let run = |sql: String| futures::executor::block_on(client.batch_execute(&sql)).map_err(|e| e.to_string());
        run(format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))?;
        std::thread::sleep(down);
        run(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The CA the server's certificate (for 127.0.0.1 and localhost) is signed by.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }
}

/// A CA of the tests' own, and a certificate and key for 127.0.0.1 it signed (PEM each).
fn certificates() -> Result<(String, String, String), rcgen::Error> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "bt-autotask test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;
    let key = rcgen::KeyPair::generate()?;
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    let certificate = params.signed_by(&key, &ca)?;
    Ok((ca.pem(), certificate.pem(), key.serialize_pem()))
}

/// PostgreSQL refuses a key file others may read.
#[cfg(unix)]
fn private_write(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn private_write(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}
