//! Hands URLs to the OS opener (`xdg-open`, `open`, `start`). The app opens only what it built
//! itself: http(s) pages of a configured appliance or Autotask web UI, and the invitation
//! `mailto:` it made; anything else is refused and logged.

use url::Url;

use crate::state::AppState;

/// Opens an appliance or Autotask page.
pub async fn open_page(state: &AppState, url: &Url) -> Result<(), String> {
    if !state.may_open(url).await {
        tracing::warn!(
            scheme = url.scheme(),
            host = url.host_str().unwrap_or(""),
            "refused to open a URL outside the configured hosts"
        );
        return Err(format!(
            "{} is not a configured appliance or Autotask address, so it was not opened",
            url.host_str().unwrap_or(url.scheme())
        ));
    }
    launch(url)
}

/// Opens a ticket of a profile in the Autotask web UI.
pub async fn open_ticket(state: &AppState, profile: &str, ticket_id: i64) -> Result<(), String> {
    let url = state.desk(profile)?.ticket_url(ticket_id).await.map_err(|e| e.to_string())?;
    open_page(state, &url).await
}

/// Opens the invitation e-mail in the rep's mail program.
pub fn open_mail(url: &Url) -> Result<(), String> {
    if url.scheme() != "mailto" {
        tracing::warn!(scheme = url.scheme(), "refused to open an invitation that is not an e-mail");
        return Err("the invitation is not an e-mail address".into());
    }
    launch(url)
}

fn launch(url: &Url) -> Result<(), String> {
    // The query may hold a session key: log where, never the whole URL.
    tracing::info!(scheme = url.scheme(), host = url.host_str().unwrap_or(""), "opening");
    let mut command = opener_command();
    command.arg(url.as_str());
    command.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null());
    match command.spawn() {
        // Reap the opener when it exits, off the caller's thread.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
            Ok(())
        }
        Err(e) => Err(format!("the system could not open the link ({e}); is xdg-utils installed?")),
    }
}

#[cfg(target_os = "linux")]
fn opener_command() -> std::process::Command {
    std::process::Command::new("xdg-open")
}

#[cfg(target_os = "macos")]
fn opener_command() -> std::process::Command {
    std::process::Command::new("open")
}

#[cfg(target_os = "windows")]
fn opener_command() -> std::process::Command {
    let mut command = std::process::Command::new("rundll32");
    command.arg("url.dll,FileProtocolHandler");
    command
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn opener_command() -> std::process::Command {
    std::process::Command::new("xdg-open")
}
