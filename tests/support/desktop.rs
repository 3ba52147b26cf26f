//! A private desktop for driving the real tray app: an Xvfb display, a D-Bus session with a
//! gnome-keyring and the dunst notification server, a `dbus-monitor` recording notifications, a
//! recording `xdg-open` first on PATH, and `tauri-driver` (WebKitWebDriver) to launch the app and
//! drive its window; keys, notifications and the tray menu are worked as a person would, through
//! xdotool, dunstctl and gdbus. Everything is per test and stopped when dropped.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

/// The app binary next to this test's own (built by `cargo build --workspace --bins`).
pub fn app_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().and_then(|deps| deps.parent()).unwrap().join("bt-autotask");
    assert!(binary.is_file(), "{} is missing; build it first: cargo xtask test does", binary.display());
    binary
}

fn need(tool: &str) {
    let found =
        std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()));
    assert!(found, "{tool} is not installed; run `cargo xtask setup` (it installs the desktop test tools)");
}

/// Kills a child process when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Desktop {
    // Dropped in order: the driver (and the app) first, the display last.
    _driver: Running,
    _helpers: Vec<Running>,
    _bus: Running,
    _display: Running,
    pub display: String,
    pub bus: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desktop").field("display", &self.display).field("port", &self.port).finish()
    }
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not happen within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Xvfb on a display number it picks itself (`-displayfd`), so parallel tests never share one.
fn start_display() -> (Running, String) {
    let mut child = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb starts");
    let mut number = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut number).unwrap();
    let number = number.trim().to_owned();
    assert!(number.parse::<u32>().is_ok(), "Xvfb did not say its display number (said {number:?})");
    (Running(child), format!(":{number}"))
}

fn start_bus() -> (Running, String) {
    let mut child = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon starts");
    let mut address = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut address).unwrap();
    (Running(child), address.trim().to_owned())
}

/// What the app is launched with.
#[derive(Debug, Default)]
pub struct Launch<'a> {
    pub args: Vec<String>,
    pub env: Vec<(&'a str, &'a str)>,
}

impl Desktop {
    /// Starts the desktop; `env` reaches the app (through tauri-driver and WebKitWebDriver).
    pub fn start(env: &[(&str, &str)]) -> Desktop {
        for tool in ["Xvfb", "dbus-daemon", "gnome-keyring-daemon", "dunst", "dbus-monitor", "tauri-driver"] {
            need(tool);
        }
        need("WebKitWebDriver");
        let (display_process, display) = start_display();
        let (bus_process, bus) = start_bus();
        let dir = tempfile::tempdir().unwrap();
        let desktop_env = |c: &mut Command| {
            c.env("DISPLAY", &display).env("DBUS_SESSION_BUS_ADDRESS", &bus);
        };
        let mut helpers = Vec::new();
        // A keyring of this desktop's own: its files and socket in the test's folder.
        let (keyring_data, keyring_run) = (dir.path().join("keyring-data"), dir.path().join("keyring-run"));
        for d in [&keyring_data, &keyring_run] {
            std::fs::create_dir(d).unwrap();
        }
        let mut keyring = Command::new("gnome-keyring-daemon");
        keyring.args(["--replace", "--unlock", "--components=secrets", "--foreground"]);
        keyring.env("XDG_DATA_HOME", &keyring_data).env("XDG_RUNTIME_DIR", &keyring_run);
        desktop_env(&mut keyring);
        let mut keyring = keyring.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        keyring.stdin.take().unwrap().write_all(b"desktop-test-keyring").unwrap();
        helpers.push(Running(keyring));
        let mut dunst = Command::new("dunst");
        desktop_env(&mut dunst);
        helpers.push(Running(dunst.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()));
        let log = std::fs::File::create(dir.path().join("notifications.log")).unwrap();
        let mut monitor = Command::new("dbus-monitor");
        monitor.args(["--session", "interface='org.freedesktop.Notifications'"]);
        desktop_env(&mut monitor);
        helpers.push(Running(monitor.stdout(log).stderr(Stdio::null()).spawn().unwrap()));
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let opener = bin.join("xdg-open");
        let opened = dir.path().join("opened.log");
        std::fs::write(&opener, format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", opened.display())).unwrap();
        let executable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
        std::fs::set_permissions(&opener, executable).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let port = crate::free_port();
        let native_port = crate::free_port();
        let mut driver = Command::new("tauri-driver");
        driver.args(["--port", &port.to_string(), "--native-port", &native_port.to_string()]).env("PATH", &path);
        // The app's logs, autostart entry and default folders stay in this desktop's folder.
        driver.env("XDG_DATA_HOME", dir.path().join("data")).env("XDG_CONFIG_HOME", dir.path().join("config"));
        desktop_env(&mut driver);
        for (k, v) in env {
            driver.env(k, v);
        }
        let driver_log = std::fs::File::create(dir.path().join("app.log")).unwrap();
        let driver = driver.stdout(driver_log.try_clone().unwrap()).stderr(driver_log).spawn().unwrap();
        let driver = Running(driver);
        wait_until("tauri-driver listening", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Desktop {
            _driver: driver,
            _helpers: helpers,
            _bus: bus_process,
            _display: display_process,
            display,
            bus,
            port,
            dir,
        }
    }

    /// Launches the real app with `args` and connects to its window.
    pub async fn launch(&self, args: &[&str]) -> App {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert("tauri:options".into(), serde_json::json!({"application": app_binary(), "args": args}));
        // tauri-driver starts WebKitWebDriver for each session and may try it before it listens
        // (seen on a loaded machine): a session that could not be created is asked for again.
        let mut attempt = 1;
        let client = loop {
            // WebDriver on loopback is plain HTTP: no TLS stack needed.
            let connected = fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{}", self.port))
                .await;
            match connected {
                Ok(client) => break client,
                Err(e) if attempt < 3 => {
                    eprintln!("no WebDriver session yet ({e}); asking again");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => panic!("the app did not start under tauri-driver: {e}\n{}", self.app_log()),
            }
        };
        let shots = app_binary().parent().map(|d| d.join("ui-failures")).unwrap_or_default();
        if args.contains(&"--show") {
            // The window shows once its page says it is ready: from then on it is the rep's.
            self.eventually("the window shown at start", 20, |d| d.window_shown("bt-autotask")).await;
        }
        App { client, shots }
    }

    /// Presses keys on this desktop as a person would (XTest, through xdotool): a desktop-wide
    /// shortcut reaches whichever program grabbed it.
    pub fn press(&self, keys: &str) {
        need("xdotool");
        let status =
            Command::new("xdotool").args(["key", "--clearmodifiers", keys]).env("DISPLAY", &self.display).status();
        assert!(status.is_ok_and(|s| s.success()), "xdotool could not press {keys}");
    }

    /// Whether a window of this title is on the screen (mapped), as the desktop sees it.
    pub fn window_shown(&self, title: &str) -> bool {
        let found = Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", &format!("^{title}$")])
            .env("DISPLAY", &self.display)
            .output();
        found.is_ok_and(|o| o.status.success() && !o.stdout.trim_ascii().is_empty())
    }

    /// Clicks the newest notification, as a person clicking it (dunst's default action).
    pub fn click_notification(&self) {
        let clicked = Command::new("dunstctl")
            .args(["action", "0"])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("DISPLAY", &self.display)
            .status();
        assert!(clicked.is_ok_and(|s| s.success()), "dunstctl could not click the notification");
    }

    /// Clicks an entry of the app's tray menu as a desktop's panel does: libayatana-appindicator
    /// exports the menu on the session bus (`com.canonical.dbusmenu`, whether or not a panel
    /// shows it) and a panel sends the entry a "clicked" event.
    pub fn click_tray_menu(&self, app: u32, label: &str) {
        need("gdbus");
        let (name, menu) = self.tray_menu(app).expect("the app exports its tray menu on the bus");
        let layout = self
            .gdbus(&name, &menu, "com.canonical.dbusmenu.GetLayout", &["0", "-1", "['label']"])
            .expect("the tray menu says its entries");
        // An entry reads `(7, {'label': <'Quit'>}, @av [])`.
        let entry = format!("{{'label': <'{label}'>}}");
        let id = layout
            .split_once(&entry)
            .and_then(|(before, _)| before.rsplit_once('(')?.1.trim_end_matches([',', ' ']).parse::<i32>().ok());
        let id = id.unwrap_or_else(|| panic!("the tray menu has no entry {label:?}: {layout}"));
        let clicked =
            self.gdbus(&name, &menu, "com.canonical.dbusmenu.Event", &[&id.to_string(), "clicked", "<0>", "0"]);
        assert!(clicked.is_some(), "the tray menu did not take the click on {label:?}");
    }

    /// The app's connection on the bus and the path of its tray menu.
    fn tray_menu(&self, app: u32) -> Option<(String, String)> {
        const BUS: &str = "org.freedesktop.DBus";
        let names = self.gdbus(BUS, "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames", &[])?;
        let unique = names.split('\'').filter(|n| n.starts_with(':'));
        let owned_by_app = |name: &&str| {
            let pid =
                self.gdbus(BUS, "/org/freedesktop/DBus", "org.freedesktop.DBus.GetConnectionUnixProcessID", &[name]);
            pid.is_some_and(|p| p.contains(&format!("uint32 {app},")))
        };
        unique.filter(owned_by_app).find_map(|name| {
            let item = self.children(name, "/org/ayatana/NotificationItem").into_iter().next()?;
            Some((name.to_owned(), format!("/org/ayatana/NotificationItem/{item}/Menu")))
        })
    }

    /// The names of the objects under `path` on a connection.
    fn children(&self, dest: &str, path: &str) -> Vec<String> {
        // Introspection answers XML in a string: `<node name="child"/>` for each child.
        let xml = self.gdbus(dest, path, "org.freedesktop.DBus.Introspectable.Introspect", &[]).unwrap_or_default();
        xml.split("<node name=\"").skip(1).filter_map(|rest| Some(rest.split_once('"')?.0.to_owned())).collect()
    }

    /// Calls a method on the session bus; its answer in GVariant's text form.
    fn gdbus(&self, dest: &str, path: &str, method: &str, args: &[&str]) -> Option<String> {
        // A connection that serves no objects may never answer: a short timeout.
        let call = ["call", "--session", "--timeout", "3", "--dest", dest, "--object-path", path, "--method", method];
        let mut gdbus = Command::new("gdbus");
        gdbus.args(call).arg("--").args(args).env("DBUS_SESSION_BUS_ADDRESS", &self.bus);
        let out = gdbus.output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Closes every notification shown.
    pub fn dismiss_notifications(&self) {
        let closed = Command::new("dunstctl")
            .arg("close-all")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("DISPLAY", &self.display)
            .status();
        assert!(closed.is_ok_and(|s| s.success()), "dunstctl could not close the notifications");
    }

    /// URLs handed to the OS opener, in order.
    pub fn opened(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("opened.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Every Notify call seen on the session bus, as dbus-monitor prints them.
    pub fn notifications(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("notifications.log")).unwrap_or_default()
    }

    pub fn app_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("app.log")).unwrap_or_default()
    }

    /// The text on the X clipboard.
    pub fn clipboard(&self) -> String {
        let out = Command::new("xclip")
            .args(["-o", "-selection", "clipboard"])
            .env("DISPLAY", &self.display)
            .output()
            .expect("xclip runs (cargo xtask setup installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A secret the app stored in this desktop's keyring, read with secret-tool.
    pub fn keyring_lookup(&self, key: &str) -> Option<String> {
        let out = Command::new("secret-tool")
            .args(["lookup", "service", bta_core::config::KEYRING_SERVICE, "username", key])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .expect("secret-tool runs (cargo xtask setup installs libsecret-tools)");
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Every secret the app keeps in this desktop's keyring, by its name (`<profile>/<setting>`).
    pub fn keyring_names(&self) -> Vec<String> {
        let out = Command::new("secret-tool")
            .args(["search", "--all", "service", bta_core::config::KEYRING_SERVICE])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .expect("secret-tool runs (cargo xtask setup installs libsecret-tools)");
        // secret-tool prints the attributes of each item on stderr or stdout, depending on its version.
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let mut names: Vec<String> =
            text.lines().filter_map(|l| l.trim().strip_prefix("attribute.username = ").map(str::to_owned)).collect();
        names.sort();
        names
    }

    /// Waits for a condition on this desktop (the opener, the bus), failing after `secs`.
    pub async fn eventually(&self, what: &str, secs: u64, mut ready: impl FnMut(&Desktop) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !ready(self) {
            assert!(Instant::now() < deadline, "{what} did not happen within {secs} s\napp log:\n{}", self.app_log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The process of the app started with `marker` among its arguments (its configuration's path),
/// so tests running side by side each find their own.
pub fn app_process(marker: &str) -> Option<u32> {
    processes().into_iter().find(|p| p.comm == "bt-autotask" && p.cmdline.contains(marker)).map(|p| p.pid)
}

/// The app's WebKit web processes (the page's; the network process is WebKit's own to keep).
pub fn web_processes(app: u32) -> Vec<u32> {
    let web = |p: &Process| p.parent == app && p.comm.starts_with("WebKitWebProc");
    processes().into_iter().filter(web).map(|p| p.pid).collect()
}

/// Whether a process is still running (not gone, not a zombie).
pub fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z'))
}

struct Process {
    pid: u32,
    parent: u32,
    comm: String,
    cmdline: String,
}

fn processes() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (head, rest) = stat.rsplit_once(") ")?;
            let comm = head.split_once(" (")?.1.to_owned();
            let parent = rest.split_whitespace().nth(1)?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some(Process { pid, parent, comm, cmdline })
        })
        .collect()
}

/// The app's window, through WebDriver.
#[derive(Debug)]
pub struct App {
    pub client: Client,
    /// Where a failing wait leaves a screenshot of the window.
    shots: PathBuf,
}

impl App {
    /// Waits for an element to exist and satisfy `ready` (given its text), failing after 30 s.
    pub async fn wait_text(&self, css: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = String::new();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if ready(&text) {
                    return text;
                }
                last = text;
            }
            if Instant::now() > deadline {
                let _ = std::fs::create_dir_all(&self.shots);
                let shot = self.shots.join(format!("{}.png", std::thread::current().name().unwrap_or("test")));
                // WebKitWebDriver's screenshot waits for a composited frame, which the app's
                // plain page never makes (it keeps compositing off): bounded, so the failure is
                // still reported, with the page's source either way.
                let screenshot = tokio::time::timeout(Duration::from_secs(5), self.client.screenshot()).await;
                let picture = match screenshot {
                    Ok(Ok(png)) if std::fs::write(&shot, &png).is_ok() => format!("screenshot: {}", shot.display()),
                    _ => "no screenshot (WebKitWebDriver takes them from composited pages only)".to_owned(),
                };
                let shown = self.client.source().await.unwrap_or_default();
                panic!("'{css}' never became ready; it last said: {last:?}\n{picture}\npage:\n{shown}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The texts of every element matching `css`. A list the page redraws meanwhile is read
    /// again (WebDriver answers StaleElementReference for an element it just found).
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.client.find_all(Locator::Css(css)).await {
                Ok(elements) => {
                    let mut out = Vec::new();
                    for element in elements {
                        out.push(element.text().await.unwrap_or_default());
                    }
                    return out;
                }
                Err(e) if tries < 10 && format!("{e:?}").contains("StaleElementReference") => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("the elements '{css}' could not be read: {e:?}"),
            }
        }
    }

    /// Clicks the element; one the page redrew between finding and clicking (a result list
    /// answering the rep's last keystrokes) is found again.
    pub async fn click(&self, css: &str) {
        let mut attempt = 1;
        loop {
            let element = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no '{css}': {e}"));
            match element.click().await {
                Ok(()) => return,
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference && attempt < 20 =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("'{css}' could not be clicked: {e}"),
            }
        }
    }

    /// Replaces the text of an input, as typed.
    pub async fn type_into(&self, css: &str, text: &str) {
        let input = self.client.find(Locator::Css(css)).await.unwrap();
        input.clear().await.unwrap();
        if !text.is_empty() {
            input.send_keys(text).await.unwrap();
        } else {
            // Clearing fires no input event; a space and a backspace do.
            input.send_keys(" \u{E003}").await.unwrap();
        }
    }

    /// Sends keys to the element with focus-taking `css` (WebDriver key codes for Enter, Ctrl…).
    pub async fn keys(&self, css: &str, keys: &str) {
        self.client.find(Locator::Css(css)).await.unwrap().send_keys(keys).await.unwrap();
    }

    /// The id of the element with the keyboard focus.
    pub async fn focused(&self) -> String {
        let id = self.client.execute("return document.activeElement && document.activeElement.id", vec![]).await;
        id.ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    /// Follows the app to its window made anew (the one WebDriver drove was closed with its web
    /// view).
    pub async fn follow_new_window(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(handles) = self.client.windows().await
                && let Some(handle) = handles.into_iter().last()
                && self.client.switch_to_window(handle).await.is_ok()
                && self.client.execute("return document.readyState", vec![]).await.is_ok_and(|s| s == "complete")
            {
                return;
            }
            assert!(Instant::now() < deadline, "WebDriver never saw the window made anew");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
