//! The desk this computer's installation names, for every user of it: on Windows what the
//! per-machine MSI was given (`DESK_URL`, `DESK_PIN`, written to `HKLM\SOFTWARE\bt-autotask`);
//! elsewhere `bt-autotask/desk.toml` in the system's configuration folders (`$XDG_CONFIG_DIRS`,
//! `/etc/xdg` by default), which a desk's deployment tool puts there. A rep's first start on such a
//! computer opens on enrolment with the desk filled in, waiting for the code from their desk lead.
//! It names where to enrol, nothing more: the code still proves who the rep is.

use serde::Serialize;

/// The desk's address and, for a certificate of the desk's own, its pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MachineDesk {
    pub url: String,
    pub pin: Option<String>,
}

/// The desk this computer names, if it names one.
pub fn read() -> Option<MachineDesk> {
    let desk = read_from_system()?;
    let url = desk.url.trim().to_owned();
    let pin = desk.pin.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
    (!url.is_empty()).then_some(MachineDesk { url, pin })
}

#[cfg(windows)]
fn read_from_system() -> Option<MachineDesk> {
    use winreg::RegKey;
    use winreg::enums::HKEY_LOCAL_MACHINE;
    let key = RegKey::predef(HKEY_LOCAL_MACHINE).open_subkey("SOFTWARE\\bt-autotask").ok()?;
    let url: String = key.get_value("DeskUrl").ok()?;
    Some(MachineDesk { url, pin: key.get_value("DeskPin").ok() })
}

#[cfg(not(windows))]
fn read_from_system() -> Option<MachineDesk> {
    let dirs = std::env::var("XDG_CONFIG_DIRS").ok().filter(|d| !d.is_empty()).unwrap_or_else(|| "/etc/xdg".into());
    dirs.split(':').find_map(|dir| {
        let path = std::path::Path::new(dir).join("bt-autotask/desk.toml");
        let text = std::fs::read_to_string(&path).ok()?;
        match parse(&text) {
            Ok(desk) => Some(desk),
            Err(e) => {
                tracing::warn!("{} is not used: {e}", path.display());
                None
            }
        }
    })
}

/// `url = "https://desk:8180"` and, optionally, `pin = "sha256:…"`.
#[cfg(not(windows))]
fn parse(text: &str) -> Result<MachineDesk, String> {
    let table: toml::Table = text.parse().map_err(|e| format!("it is not TOML ({e})"))?;
    let string = |key: &str| table.get(key).and_then(toml::Value::as_str).map(str::to_owned);
    let url = string("url").ok_or("it names no url = \"https://desk-server:8180\"")?;
    Ok(MachineDesk { url, pin: string("pin") })
}

#[cfg(all(test, not(windows)))]
mod tests {
    use super::*;

    #[test]
    fn a_desk_file_names_the_desk_and_perhaps_its_pin() {
        let desk = parse("url = \"https://desk:8180\"\npin = \"sha256:ab\"\n").unwrap();
        assert_eq!(desk, MachineDesk { url: "https://desk:8180".into(), pin: Some("sha256:ab".into()) });
        assert_eq!(parse("url = \"https://desk:8180\"").unwrap().pin, None);
        assert!(parse("pin = \"sha256:ab\"").unwrap_err().contains("names no url"));
        assert!(parse("url = ").unwrap_err().contains("not TOML"));
    }
}
