//! The Reporting API's XML readers (SupportSession, SupportSessionListing, exit surveys) on any
//! bytes: they must end, never panic, and the streaming and in-memory session readers must agree.
#![no_main]

use bta_core::beyondtrust::{read_listing, read_sessions, read_sessions_from_bytes, read_surveys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Every record needs bytes of its own, so more records than bytes means a reader that loops.
    let bound = data.len() + 2;
    let streamed: Vec<_> = read_sessions(data).take(bound).collect();
    assert!(streamed.len() < bound, "the session reader did not end");
    let in_memory: Vec<_> = read_sessions_from_bytes(data).take(bound).collect();
    assert_eq!(streamed, in_memory, "the streaming and in-memory readers disagree");
    assert!(read_listing(data).take(bound).count() < bound, "the listing reader did not end");
    assert!(read_surveys(data).take(bound).count() < bound, "the survey reader did not end");
});
