//! Every command the window invokes is one the app serves and lets the window call: named in
//! the handler (`main.rs`), in the application manifest (`build.rs`), which makes its permission,
//! and in the window's capability (`capabilities/default.json`). Tauri refuses a command missing
//! from any of them only when a rep presses its button ("… not allowed. Command not found"), so
//! this reads the files themselves and names what is missing where.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The quoted words after each `marker` in `text`.
fn quoted_after(text: &str, marker: &str) -> BTreeSet<String> {
    text.split(marker)
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.strip_prefix(['\'', '"'])?;
            rest.split(['\'', '"']).next().map(str::to_owned)
        })
        .collect()
}

/// What the window's scripts invoke: `invoke('name'`.
fn invoked() -> BTreeSet<String> {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(&ui).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "js") {
            names.extend(quoted_after(&std::fs::read_to_string(&path).unwrap(), "invoke("));
        }
    }
    names
}

/// The commands `build.rs` puts in the application manifest.
fn in_manifest() -> BTreeSet<String> {
    let build = read("build.rs");
    let list = build.split(".commands(&[").nth(1).and_then(|rest| rest.split("])").next()).unwrap();
    list.split(',').map(|w| w.trim().trim_matches('"').to_owned()).filter(|w| !w.is_empty()).collect()
}

/// The app's own commands the capability allows (`allow-open-ticket` for `open_ticket`).
fn in_capability() -> BTreeSet<String> {
    let capability: serde_json::Value = serde_json::from_str(&read("capabilities/default.json")).unwrap();
    let permissions = capability["permissions"].as_array().unwrap();
    permissions.iter().filter_map(|p| p.as_str()?.strip_prefix("allow-").map(|c| c.replace('-', "_"))).collect()
}

/// The commands `main.rs` hands to Tauri's handler.
fn in_handler() -> BTreeSet<String> {
    let main = read("src/main.rs");
    let list = main.split("generate_handler![").nth(1).and_then(|rest| rest.split(']').next()).unwrap();
    list.split(',').filter_map(|w| w.trim().strip_prefix("commands::").map(str::to_owned)).collect()
}

#[test]
fn every_command_the_window_invokes_is_served_and_allowed() {
    let invoked = invoked();
    assert!(invoked.len() > 20 && invoked.contains("search"), "the scripts were read: {invoked:?}");
    for (place, names) in [
        ("src/main.rs generate_handler!", in_handler()),
        ("build.rs AppManifest::commands", in_manifest()),
        ("capabilities/default.json (allow-…)", in_capability()),
    ] {
        let missing: Vec<&String> = invoked.difference(&names).collect();
        assert!(missing.is_empty(), "the window invokes {missing:?}, which {place} does not name");
    }
    assert_eq!(in_manifest(), in_handler(), "every command served has a permission, and only those");
}
