//! Tauri's build step, with an application manifest so the window may call only the app's own
//! commands listed here (each gets an `allow-<command>` permission for the capability file).

fn main() {
    // The window's files and icons are embedded at compile time.
    println!("cargo:rerun-if-changed=../ui");
    println!("cargo:rerun-if-changed=../icons");
    let manifest = tauri_build::AppManifest::new().commands(&[
        "search",
        "session_key",
        "copy_key",
        "send_invitation",
        "jump",
        "open_ticket",
        "open_ticket_number",
        "activity",
        "retry_job",
        "unlinked",
        "attach_session",
        "dismiss_session",
        "check_now",
        "worker_status",
        "set_paused",
        "settings",
        "save_profile",
        "remove_profile",
        "enrol_preview",
        "enrol",
        "pending_enrolment",
        "leave",
        "store_secret",
        "test_connection",
        "set_autostart",
        "set_global_shortcut",
        "set_release_window_after",
        "hide_window",
        "window_ready",
    ]);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        panic!("tauri build step failed: {e:#}");
    }
}
