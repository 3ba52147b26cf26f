//! Warnings about what a client did wrong, said at most once a minute each with how many there
//! were: a flood of bad requests costs the log a line a minute, not a line a request.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How often each kind of warning may be said.
pub const EVERY: Duration = Duration::from_secs(60);

/// Per kind of warning: how many since it was last said, and when that was.
type Said = HashMap<&'static str, (u64, Option<Instant>)>;

/// Counts one of `what`; how many to say (this one included) when it is time to say them again.
pub fn due(what: &'static str) -> Option<u64> {
    static SAID: OnceLock<Mutex<Said>> = OnceLock::new();
    let mut said = SAID.get_or_init(Mutex::default).lock().unwrap_or_else(|e| e.into_inner());
    let (count, last) = said.entry(what).or_insert((0, None));
    *count += 1;
    if last.is_some_and(|at| at.elapsed() < EVERY) {
        return None;
    }
    let told = *count;
    *count = 0;
    *last = Some(Instant::now());
    Some(told)
}

/// A connection from a trusted proxy closed for want of a PROXY protocol header (the balancer is
/// not set to send one, or something else reached the port from its address).
pub fn proxy_refused(peer: std::net::SocketAddr, why: &str) {
    if let Some(count) = due("a trusted proxy's connection without a PROXY header") {
        tracing::warn!(
            %peer,
            count,
            "connection(s) from a trusted proxy closed: {why} (set the balancer to send-proxy-v2, or take its address out of trusted_proxies)"
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_is_said_and_the_rest_counted_until_the_minute_is_up() {
        assert_eq!(super::due("a test's own warning"), Some(1));
        assert_eq!(super::due("a test's own warning"), None);
        assert_eq!(super::due("a test's own warning"), None);
        assert_eq!(super::due("another test warning"), Some(1));
    }
}
