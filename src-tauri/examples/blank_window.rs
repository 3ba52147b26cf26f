//! The floor of the tray app's memory benchmark: a Tauri window showing a one-line page, with
//! the app's WebKit settings and nothing else — what any Tauri v2 app costs on this machine.
//! `cargo xtask bench` builds it (`--example blank_window --features bench-floor`).

#[path = "../src/webkit_env.rs"]
mod webkit_env;

use tauri::{WebviewUrl, WebviewWindowBuilder};

const PAGE: &[u8] = b"<!doctype html><meta charset=utf-8><title>blank</title><p>blank";

fn main() {
    webkit_env::lighten_webkit();
    let mut context = tauri::generate_context!();
    // The app's own window would load the app's page; this one loads the blank page instead.
    context.config_mut().app.windows.clear();
    let result = tauri::Builder::default()
        .register_uri_scheme_protocol("blank", |_, _| {
            tauri::http::Response::builder().header("content-type", "text/html").body(PAGE.to_vec()).unwrap_or_default()
        })
        .setup(|app| {
            let url = WebviewUrl::CustomProtocol("blank://localhost/".parse()?);
            WebviewWindowBuilder::new(app, "blank", url).title("blank").inner_size(560.0, 640.0).build()?;
            println!("blank window: ready");
            Ok(())
        })
        .run(context);
    if let Err(e) = result {
        eprintln!("blank_window: {e}");
        std::process::exit(1);
    }
}
