//! The console's pages, scripts and style, compiled into the worker from `console/` (plain HTML,
//! CSS and ES modules, no bundler, no inline script — the Content-Security-Policy allows none).

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub const LOGIN: &str = include_str!("../../../../console/login.html");
pub const INDEX: &str = include_str!("../../../../console/index.html");
pub const LOGIN_JS: &str = include_str!("../../../../console/login.js");
pub const CONSOLE_JS: &str = include_str!("../../../../console/console.js");
pub const CSS: &str = include_str!("../../../../console/console.css");
/// The tray app's own DOM helper and profile form, shared rather than copied.
pub const DOM_JS: &str = include_str!("../../../../ui/dom.js");
pub const FORM_JS: &str = include_str!("../../../../ui/form.js");

pub fn html(page: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

pub fn script(code: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], code).into_response()
}

pub fn style(css: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], css).into_response()
}
