//! Request bodies bounded per route, in size and in time: a body larger than the route's limit is
//! answered 413 (at once when its length is declared), and one that is not all there within the
//! read timeout 408 — so a client trickling a body a byte at a time holds nothing for long. A
//! body within both reaches the route whole.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// A route's bound: at most `limit` bytes, all arrived within `within`.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub limit: usize,
    pub within: Duration,
}

/// `router` with every body bounded by `bound` (applied before routers are merged, so each part
/// keeps its own).
pub fn bounded<S: Clone + Send + Sync + 'static>(router: Router<S>, bound: Bound) -> Router<S> {
    router.layer(axum::middleware::from_fn_with_state(bound, read_whole))
}

async fn read_whole(State(bound): State<Bound>, request: Request, next: Next) -> Response {
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > bound.limit as u64) {
        return too_large(bound);
    }
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(bound.within, axum::body::to_bytes(body, bound.limit)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if is_over_limit(&e) => return too_large(bound),
        Ok(Err(e)) => {
            return (StatusCode::BAD_REQUEST, format!("the request's body could not be read: {e}")).into_response();
        }
        Err(_) => {
            let said = format!("the request's body did not arrive within {} s; send it again", bound.within.as_secs());
            return (StatusCode::REQUEST_TIMEOUT, said).into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn is_over_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

fn too_large(bound: Bound) -> Response {
    let said = format!("the request's body is larger than this address takes ({} KiB)", bound.limit.div_ceil(1024));
    (StatusCode::PAYLOAD_TOO_LARGE, said).into_response()
}
