//! The per-machine MSI a desk's deployment tool installs (`src-tauri/windows/installer.wxs`):
//! compiled by Debian's wixl, then finished with msitools' msibuild, whose SQL says what wixl
//! 0.101 cannot — conditions on components, the custom actions that keep an earlier install's
//! properties through an upgrade, and the shortcut's AppUserModelID.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, run_command, workspace_root};

const SOURCE: &str = "src-tauri/windows/installer.wxs";
/// `System.AppUserModel.ID`, as MsiShortcutProperty names a property key.
const AUMID_KEY: &str = "{9F4C2855-9F79-4B39-A8D0-E1D42DE1D5F3}, 5";

/// What goes into the MSI.
pub struct Inputs {
    /// `a.b.c`: Windows Installer compares the first three fields.
    pub version: String,
    pub app_exe: PathBuf,
    pub webview2_loader: PathBuf,
    pub icon: PathBuf,
    /// The app's AppUserModelID (tauri.conf.json's identifier), under which Windows shows its
    /// notifications: the Start-menu shortcut must carry it.
    pub identifier: String,
}

/// Each install property the desk gives on the command line, the component it turns on (a
/// component's condition is checked at every install and upgrade), and the earlier install's
/// value that stands in for it when an upgrade gives none.
const PROPERTIES: &[(&str, &str, &str)] = &[
    ("DESK_URL", "DeskAddress", "KEPT_DESK_URL"),
    ("DESK_PIN", "DeskPin", "KEPT_DESK_PIN"),
    ("AUTOSTART", "Autostart", "KEPT_AUTOSTART"),
];

/// Builds the MSI at `out`.
pub fn build(inputs: &Inputs, out: &Path) -> Result {
    let dir = out.parent().ok_or("the MSI's path has no folder")?;
    // wixl takes a file's source only as a path relative to where it runs: it runs among copies.
    let staging = dir.join(format!("staging-{}", inputs.version));
    std::fs::create_dir_all(&staging).map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
    for (from, name) in [
        (&inputs.app_exe, "bt-autotask.exe"),
        (&inputs.webview2_loader, "WebView2Loader.dll"),
        (&inputs.icon, "icon.ico"),
    ] {
        std::fs::copy(from, staging.join(name)).map_err(|e| format!("cannot copy {}: {e}", from.display()))?;
    }
    let status = Command::new("wixl")
        .args(["--arch", "x64", "-D", "AppExe=bt-autotask.exe", "-D", "WebView2Loader=WebView2Loader.dll"])
        .args(["-D", "Icon=icon.ico", "-D", &format!("Version={}", inputs.version), "-o"])
        .arg(out)
        .arg(workspace_root().join(SOURCE))
        .current_dir(&staging)
        .status()
        .map_err(|e| format!("could not start wixl: {e}"))?;
    let _ = std::fs::remove_dir_all(&staging);
    if !status.success() {
        return Err(format!("wixl could not build the MSI ({status})"));
    }
    for query in finishing_queries(&inputs.identifier) {
        let mut msibuild = Command::new("msibuild");
        msibuild.arg(out).arg("-q").arg(&query);
        run_command(&mut msibuild, &format!("msibuild could not finish the MSI ({query})"))?;
    }
    Ok(())
}

/// The SQL msibuild runs on wixl's MSI.
fn finishing_queries(identifier: &str) -> Vec<String> {
    let mut queries = Vec::new();
    for (sequence, (property, component, kept)) in (51..).zip(PROPERTIES) {
        let condition = if *property == "AUTOSTART" { format!("{property}=\"1\"") } else { (*property).to_owned() };
        queries.push(format!("UPDATE `Component` SET `Condition` = '{condition}' WHERE `Component` = '{component}'"));
        // Type 51 sets a property; after AppSearch has read what the earlier install wrote.
        let action = format!("Keep{component}");
        queries.push(format!(
            "INSERT INTO `CustomAction` (`Action`, `Type`, `Source`, `Target`) VALUES ('{action}', 51, '{property}', '[{kept}]')"
        ));
        queries.push(format!(
            "INSERT INTO `InstallExecuteSequence` (`Action`, `Condition`, `Sequence`) VALUES ('{action}', 'NOT {property} AND {kept}', {sequence})"
        ));
    }
    // The properties a desk passes reach the part of the install that runs elevated.
    let secure = PROPERTIES.iter().map(|(property, _, _)| *property).collect::<Vec<_>>().join(";");
    queries.push(format!(
        "UPDATE `Property` SET `Value` = 'WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED;{secure}' WHERE `Property` = 'SecureCustomProperties'"
    ));
    queries.push(
        "CREATE TABLE `MsiShortcutProperty` (`MsiShortcutProperty` CHAR(72) NOT NULL, `Shortcut_` CHAR(72) NOT NULL, \
         `PropertyKey` CHAR(0) NOT NULL, `PropVariantValue` CHAR(0) NOT NULL PRIMARY KEY `MsiShortcutProperty`)"
            .to_owned(),
    );
    queries.push(format!(
        "INSERT INTO `MsiShortcutProperty` (`MsiShortcutProperty`, `Shortcut_`, `PropertyKey`, `PropVariantValue`) \
         VALUES ('AppUserModelId', 'AppShortcut', '{AUMID_KEY}', '{identifier}')"
    ));
    queries
}

/// A version one patch release after `version`: the MSI the upgrade test installs over it.
pub fn next_version(version: &str) -> Result<String> {
    let mut parts: Vec<u32> = version
        .split('.')
        .map(str::parse)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| format!("{version}: {e}"))?;
    let last = parts.last_mut().ok_or("an empty version")?;
    *last += 1;
    Ok(parts.iter().map(u32::to_string).collect::<Vec<_>>().join("."))
}

/// Where `cargo xtask package` puts the MSI of `version`, named as Tauri's bundler would name it.
pub fn path_in(bundle: &Path, version: &str) -> PathBuf {
    bundle.join("msi").join(format!("bt-autotask_{version}_x64_en-US.msi"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table as `msiinfo export` prints it: its rows, each a tab-separated line.
    fn table(msi: &Path, name: &str) -> Vec<String> {
        let output = Command::new("msiinfo").arg("export").arg(msi).arg(name).output().expect("msiinfo runs");
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).lines().skip(3).map(str::to_owned).collect()
    }

    fn row<'a>(rows: &'a [String], first: &str) -> Vec<&'a str> {
        let found = rows.iter().find(|r| r.split('\t').next() == Some(first));
        found.unwrap_or_else(|| panic!("no row {first} in {rows:#?}")).split('\t').collect()
    }

    #[test]
    fn the_msi_installs_per_machine_with_the_desks_address_and_upgrades_in_place() {
        let dir = std::env::temp_dir().join(format!("bta-msi-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (exe, loader) = (dir.join("bt-autotask.exe"), dir.join("WebView2Loader.dll"));
        std::fs::write(&exe, b"MZ a stand-in program").unwrap();
        std::fs::write(&loader, b"MZ a stand-in library").unwrap();
        let icon = workspace_root().join("icons/icon.ico");
        let inputs = Inputs {
            version: "1.2.3".into(),
            app_exe: exe,
            webview2_loader: loader,
            icon,
            identifier: "com.example.app".into(),
        };
        let msi = path_in(&dir, "1.2.3");
        build(&inputs, &msi).unwrap();

        let properties = table(&msi, "Property");
        assert_eq!(row(&properties, "ALLUSERS")[1], "1", "per machine");
        assert_eq!(row(&properties, "ProductVersion")[1], "1.2.3");
        assert!(row(&properties, "SecureCustomProperties")[1].ends_with("DESK_URL;DESK_PIN;AUTOSTART"));
        let upgrade_code = row(&properties, "UpgradeCode")[1].to_owned();
        assert!(table(&msi, "Upgrade").iter().all(|r| r.starts_with(&upgrade_code)), "older versions are replaced");
        let refused = table(&msi, "LaunchCondition");
        assert_eq!(row(&refused, "NOT WIX_DOWNGRADE_DETECTED").len(), 2, "an older version is refused");
        let sequence = table(&msi, "InstallExecuteSequence");
        assert!(row(&sequence, "RemoveExistingProducts")[2].parse::<u32>().is_ok());

        let directories = table(&msi, "Directory");
        assert_eq!(row(&directories, "INSTALLDIR")[1], "ProgramFiles64Folder");
        let files: Vec<String> = table(&msi, "File").iter().map(|r| r.split('\t').nth(2).unwrap().to_owned()).collect();
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(files.iter().all(|f| f.ends_with("bt-autotask.exe") || f.ends_with("WebView2Loader.dll")));

        let components = table(&msi, "Component");
        assert_eq!(row(&components, "DeskAddress")[4], "DESK_URL");
        assert_eq!(row(&components, "DeskPin")[4], "DESK_PIN");
        assert_eq!(row(&components, "Autostart")[4], "AUTOSTART=\"1\"");
        assert_eq!(row(&components, "App")[4], "", "the program always");
        let registry = table(&msi, "Registry");
        let desk = registry.iter().find(|r| r.contains("\tDeskUrl\t")).unwrap();
        assert!(
            desk.contains("\t2\tSOFTWARE\\bt-autotask\tDeskUrl\t[DESK_URL]\t"),
            "HKLM, where every user reads: {desk}"
        );
        let run = registry.iter().find(|r| r.contains("CurrentVersion\\Run")).unwrap();
        assert!(run.contains("\t2\t") && run.contains("[INSTALLDIR]bt-autotask.exe"), "every user's login: {run}");

        let actions = table(&msi, "CustomAction");
        assert_eq!(row(&actions, "KeepDeskAddress")[1..4], ["51", "DESK_URL", "[KEPT_DESK_URL]"]);
        let keep = row(&sequence, "KeepDeskAddress");
        assert_eq!(keep[1], "NOT DESK_URL AND KEPT_DESK_URL");
        assert!(keep[2].parse::<u32>().unwrap() > row(&sequence, "AppSearch")[2].parse::<u32>().unwrap());

        let shortcuts = table(&msi, "Shortcut");
        assert_eq!(row(&shortcuts, "AppShortcut")[1], "ProgramMenuFolder");
        let aumid = table(&msi, "MsiShortcutProperty");
        assert_eq!(row(&aumid, "AppUserModelId")[1..], ["AppShortcut", AUMID_KEY, "com.example.app"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_next_version_is_one_patch_release_on() {
        assert_eq!(next_version("0.1.0").unwrap(), "0.1.1");
        assert_eq!(next_version("2.9.19").unwrap(), "2.9.20");
        assert!(next_version("1.x").is_err());
    }
}
