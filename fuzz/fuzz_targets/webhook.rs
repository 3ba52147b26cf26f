//! An Autotask ticket callout's body as the worker's webhook receives it: its signature checked
//! (any header value), then read into the ticket it names — or refused with a reason — never a
//! panic. A read callout keeps the id it came with.
#![no_main]

use bta_core::gateway::webhook::{CalloutChange, read_callout, signed};
use bta_core::store::WebhookKeys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys =
        WebhookKeys { secret: "the desk's secret, which the input never holds".into(), deactivation_key: "k".into() };
    let (signature, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (std::str::from_utf8(&data[..at]).ok(), &data[at + 1..]),
        None => (None, data),
    };
    assert!(!signed(&keys, body, signature), "a signature made without the desk's secret");
    match read_callout(body) {
        Ok(read) => {
            if let CalloutChange::Whole(ticket) = &read.change {
                assert_eq!(ticket.id, Some(read.id), "the ticket keeps the callout's id");
            }
        }
        Err(e) => assert!(!e.is_empty()),
    }
});
