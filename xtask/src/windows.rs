//! The Windows target, from this Linux machine: cross-built with mingw, linted, tested under
//! Wine (in a Wine prefix of the tests' own, `target/wine/prefix`), and packaged with makensis
//! (per user) and wixl (per machine).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Keep, Result, Tally, remove_finished_build, run, run_command, run_counting, workspace_root};

pub const TARGET: &str = "x86_64-pc-windows-gnu";
/// Debian's Wine 8 keeps its 64-bit loader here; there is no `wine` on PATH.
const WINE: &str = "/usr/lib/wine/wine64";
const WINESERVER: &str = "/usr/lib/wine/wineserver";
const INSTALLER_SCRIPT: &str = "src-tauri/windows/installer.nsi";
/// The workspace's version, which the app shares.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Adds the Rust standard library for Windows when rustup does not have it yet.
pub fn add_rust_target() -> Result {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    if installed.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == TARGET)) {
        return Ok(());
    }
    println!("xtask: missing the Rust target {TARGET} (the Windows build)");
    println!("xtask: running: rustup target add {TARGET}");
    run("rustup", &["target", "add", TARGET])
}

/// Builds both programs for Windows, runs bta-core's and the worker's tests for Windows under
/// Wine, then the end-to-end tests that drive the Windows worker and installer under Wine
/// against the stand-ins running natively (tests/windows.rs), counting every result.
pub fn test(tally: &mut Tally) -> Result {
    run("cargo", &["build", "--quiet", "--target", TARGET, "-p", "bt-autotask", "-p", "bt-autotask-worker"])?;
    let wine = Wine::prepare()?;
    let unit = ["test", "--target", TARGET, "-p", "bta-core", "-p", "bt-autotask-worker"];
    let e2e = ["test", "-p", "bta-e2e", "--test", "windows", "--", "--ignored", "--test-threads", "1"];
    let outcome = run_counting(Command::new("cargo").args(unit).envs(wine.cargo_env()), tally)
        .and_then(|()| {
            // The end-to-end tests run only the two programs; the release build needs the room.
            remove_finished_build(&target_dir("debug"), Keep::Programs);
            package()
        })
        .and_then(|()| {
            // The same program as the next version: the MSI an upgrade in place installs.
            let next = crate::msi::next_version(VERSION)?;
            let next_msi = crate::msi::path_in(&target_dir("release").join("bundle/next"), &next);
            crate::msi::build(&msi_inputs(&next)?, &next_msi)?;
            let mut end_to_end = Command::new("cargo");
            end_to_end.args(e2e).envs(wine.env());
            end_to_end.env("BTA_WINDOWS_BIN_DIR", target_dir("debug")).env("BTA_WINDOWS_INSTALLER", installer_path());
            end_to_end.env("BTA_WINDOWS_MSI", msi_path(VERSION)).env("BTA_WINDOWS_MSI_NEXT", next_msi);
            run_counting(&mut end_to_end, tally)
        });
    wine.stop();
    outcome
}

/// `target/x86_64-pc-windows-gnu/<profile>`.
fn target_dir(profile: &str) -> PathBuf {
    workspace_root().join("target").join(TARGET).join(profile)
}

/// Where `package` puts the installer, named as Tauri's bundler would name it.
pub fn installer_path() -> PathBuf {
    target_dir("release").join("bundle/nsis").join(format!("bt-autotask_{VERSION}_x64-setup.exe"))
}

/// The tray app's Windows installer: a stripped release build for Windows, put into the
/// project's own NSIS script by Debian's makensis.
pub fn package() -> Result {
    // The installer ships a stripped binary (the release profile keeps line tables for benchmarks).
    let mut build = Command::new("cargo");
    build.args(["build", "--release", "--quiet", "--target", TARGET, "-p", "bt-autotask"]);
    build.env("CARGO_PROFILE_RELEASE_DEBUG", "false").env("CARGO_PROFILE_RELEASE_STRIP", "symbols");
    run_command(&mut build, "the Windows release build failed")?;
    let out = installer_path();
    let out_dir = out.parent().ok_or("the installer path has no folder")?;
    std::fs::create_dir_all(out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let root = workspace_root();
    let define = |name: &str, value: &Path| format!("-D{name}={}", value.display());
    let mut makensis = Command::new("makensis");
    makensis
        .arg("-V2")
        .arg(format!("-DVERSION={VERSION}"))
        .arg(define("APP_EXE", &target_dir("release").join("bt-autotask.exe")))
        .arg(define("WEBVIEW2_LOADER", &target_dir("release").join("WebView2Loader.dll")))
        .arg(define("ICON", &root.join("icons/icon.ico")))
        .arg(format!("-DIDENTIFIER={}", identifier()?))
        .arg(define("OUT_FILE", &out))
        .arg(root.join(INSTALLER_SCRIPT));
    run_command(&mut makensis, "makensis could not build the installer")?;
    println!("xtask: Windows installer: {}", out.display());
    let msi = msi_path(VERSION);
    crate::msi::build(&msi_inputs(VERSION)?, &msi)?;
    println!("xtask: Windows installer per machine: {}", msi.display());
    Ok(())
}

/// This build's MSI as version `version`.
fn msi_inputs(version: &str) -> Result<crate::msi::Inputs> {
    Ok(crate::msi::Inputs {
        version: version.to_owned(),
        app_exe: target_dir("release").join("bt-autotask.exe"),
        webview2_loader: target_dir("release").join("WebView2Loader.dll"),
        icon: workspace_root().join("icons/icon.ico"),
        identifier: identifier()?,
    })
}

/// Where `package` puts the MSI of `version`.
pub fn msi_path(version: &str) -> PathBuf {
    crate::msi::path_in(&target_dir("release").join("bundle"), version)
}

/// The app's identifier in tauri.conf.json: the AppUserModelID its notifications go under.
fn identifier() -> Result<String> {
    let path = workspace_root().join("src-tauri/tauri.conf.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{} cannot be read: {e}", path.display()))?;
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    config["identifier"].as_str().map(str::to_owned).ok_or_else(|| format!("no identifier in {}", path.display()))
}

/// A Wine prefix of the tests' own, ready to run Rust programs, with a session open in it.
struct Wine {
    prefix: PathBuf,
    /// A program kept running (`cmd.exe`, waiting for its input) while the tests run: Wine ends
    /// its services with its last program, and starts its background programs (services.exe and
    /// the like) with the output of whichever program needs them first — a test's pipe would then
    /// stay open until Wine ends. With the session open, `wineboot` starts them with none.
    session: Option<std::process::Child>,
}

impl Wine {
    /// Creates the prefix on first use, and puts the `bcryptprimitives.dll` shim into its
    /// system32: Debian's Wine 8 lacks that DLL, whose `ProcessPrng` every Rust program imports.
    fn prepare() -> Result<Wine> {
        let mut wine = Wine { prefix: workspace_root().join("target/wine/prefix"), session: None };
        if !wine.prefix.join("system.reg").is_file() {
            println!("xtask: creating the Wine prefix for the Windows tests in {}", wine.prefix.display());
            // Wine makes the prefix's folder, but not its parent.
            let parent = wine.prefix.parent().ok_or("the Wine prefix has no parent folder")?;
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            let booted = wine.command(WINE).args(["wineboot", "--init"]).status();
            match booted {
                Ok(status) if status.success() => {}
                Ok(status) => return Err(format!("Wine could not create its prefix ({status}); is the disk full?")),
                Err(e) => return Err(format!("could not start Wine: {e}")),
            }
            wine.command(WINESERVER).arg("-w").status().map_err(|e| format!("could not wait for Wine: {e}"))?;
        }
        let shim = build_shim()?;
        let system32 = wine.prefix.join("drive_c/windows/system32");
        std::fs::copy(&shim, system32.join("bcryptprimitives.dll"))
            .map_err(|e| format!("the shim could not be put into {}: {e}", system32.display()))?;
        let mut session = wine.command(WINE);
        session.arg("cmd.exe").stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
        wine.session = Some(session.spawn().map_err(|e| format!("could not start Wine: {e}"))?);
        let mut boot = wine.command(WINE);
        boot.arg("wineboot").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        boot.status().map_err(|e| format!("could not start Wine's background programs: {e}"))?;
        Ok(wine)
    }

    /// What every Wine program here runs with: the tests' prefix, and no chatter, Mono or Gecko.
    fn env(&self) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
        vec![
            ("WINEPREFIX".into(), self.prefix.clone().into_os_string()),
            ("WINEDEBUG".into(), "-all".into()),
            ("WINEDLLOVERRIDES".into(), "mscoree,mshtml=".into()),
            ("BTA_WINE".into(), WINE.into()),
        ]
    }

    /// `env`, and Wine as the runner of the test programs cargo builds for Windows.
    fn cargo_env(&self) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
        let mut env = self.env();
        env.push(("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER".into(), WINE.into()));
        env
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.envs(self.env());
        command
    }

    /// Ends the session and every program of the prefix (services included), so none outlives the run.
    fn stop(mut self) {
        if let Some(mut session) = self.session.take() {
            drop(session.stdin.take());
            let _ = session.wait();
        }
        let _ = self.command(WINESERVER).arg("-k").status();
        let _ = self.command(WINESERVER).arg("-w").status();
    }
}

/// Builds the shim DLL from xtask/wine/ with mingw into target/wine/.
fn build_shim() -> Result<PathBuf> {
    let root = workspace_root();
    let out = root.join("target/wine/bcryptprimitives.dll");
    std::fs::create_dir_all(root.join("target/wine")).map_err(|e| format!("cannot create target/wine: {e}"))?;
    let source = root.join("xtask/wine");
    let status = Command::new("x86_64-w64-mingw32-gcc")
        .args(["-O2", "-shared", "-o"])
        .arg(&out)
        .arg(source.join("bcryptprimitives.c"))
        .arg(source.join("bcryptprimitives.def"))
        .arg("-ladvapi32")
        .status()
        .map_err(|e| format!("could not start x86_64-w64-mingw32-gcc: {e}"))?;
    if status.success() { Ok(out) } else { Err(format!("the bcryptprimitives shim did not build ({status})")) }
}
