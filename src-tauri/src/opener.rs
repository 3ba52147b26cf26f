//! Hands URLs to the OS's default handler through the `open` crate (`xdg-open` and its kin on
//! Linux, `ShellExecuteW` on Windows, `open` on macOS). The app opens only what it built itself: http(s) pages of a configured appliance or Autotask web UI, and the invitation
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
    launch(url).await
}

/// Opens a ticket of a profile in the Autotask web UI.
pub async fn open_ticket(state: &AppState, profile: &str, ticket_id: i64) -> Result<(), String> {
    let url = state.desk(profile)?.ticket_url(ticket_id).await.map_err(|e| e.to_string())?;
    open_page(state, &url).await
}

/// Opens the invitation e-mail in the rep's mail program.
pub async fn open_mail(url: &Url) -> Result<(), String> {
    if url.scheme() != "mailto" {
        tracing::warn!(scheme = url.scheme(), "refused to open an invitation that is not an e-mail");
        return Err("the invitation is not an e-mail address".into());
    }
    launch(url).await
}

async fn launch(url: &Url) -> Result<(), String> {
    // The query may hold a session key: log where, never the whole URL.
    tracing::info!(scheme = url.scheme(), host = url.host_str().unwrap_or(""), "opening");
    // On Linux the crate waits a moment to see whether a launcher fails, so off the async threads.
    let target = url.as_str().to_owned();
    match tauri::async_runtime::spawn_blocking(move || open::that_detached(target)).await {
        Ok(Ok(())) => Ok(()),
        // The crate's message names the launcher with the whole URL: say only what kind of failure.
        Ok(Err(e)) => Err(format!("the system could not open the link ({}); {OPENER_HINT}", e.kind())),
        Err(e) => Err(format!("the link could not be handed to the system: {e}")),
    }
}

/// What to check when no handler took the link.
#[cfg(windows)]
const OPENER_HINT: &str = "check the default browser and e-mail apps in Windows Settings › Apps › Default apps";
#[cfg(target_os = "macos")]
const OPENER_HINT: &str = "check the default browser and mail apps";
#[cfg(not(any(windows, target_os = "macos")))]
const OPENER_HINT: &str = "is xdg-utils installed?";
