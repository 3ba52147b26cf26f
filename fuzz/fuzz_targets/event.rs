//! An outbound event body as the intake receives it: parsed or refused with a reason, never a
//! panic; an accepted support-session event always names its session.
#![no_main]

use bta_core::beyondtrust::{EventType, parse_event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    match parse_event(body) {
        Ok(event) if event.event_type != EventType::Other => {
            assert!(event.lsid.as_deref().is_some_and(|l| !l.is_empty()), "a session event without its lsid");
        }
        Ok(_) => {}
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
