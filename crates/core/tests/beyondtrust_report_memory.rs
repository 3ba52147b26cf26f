//! A 20 MB SupportSession report is read in bounded memory: sessions are produced one at a
//! time from a stream, so the heap never holds more than a session or two, whatever the size.
//! (Its own test binary, so the allocator counts nothing but this test.)

#![allow(clippy::unwrap_used)]

use std::io::{BufReader, Read};

use bta_core::beyondtrust::read_sessions;

#[path = "support/peak_heap.rs"]
mod peak_heap;

/// Produces `<session_list>` with `sessions` chatty sessions, without ever holding it whole.
struct GeneratedReport {
    sessions: usize,
    next: usize,
    chunk: Vec<u8>,
    at: usize,
    done: bool,
}

impl GeneratedReport {
    fn refill(&mut self) {
        self.chunk.clear();
        self.at = 0;
        if self.next == 0 {
            self.chunk
                .extend_from_slice(b"<session_list xmlns=\"https://www.beyondtrust.com/namespaces/API/reporting\">");
        } else if self.next <= self.sessions {
            let mut s =
                format!("<session lsid=\"{:032x}\"><session_type>support</session_type><session_details>", self.next);
            for i in 0..40 {
                s.push_str(&format!(
                    "<event timestamp=\"{i}\" event_type=\"Chat Message\"><performed_by gsnumber=\"1\" type=\"representative\">Rep</performed_by><body>Line {i} of a long conversation about printers.</body></event>"
                ));
            }
            s.push_str("</session_details></session>");
            self.chunk.extend_from_slice(s.as_bytes());
        } else if self.next == self.sessions + 1 {
            self.chunk.extend_from_slice(b"</session_list>");
        } else {
            self.done = true;
        }
        self.next += 1;
    }
}

impl Read for GeneratedReport {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.chunk.len() {
            self.refill();
        }
        if self.done {
            return Ok(0);
        }
        let n = out.len().min(self.chunk.len() - self.at);
        out[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn a_20_mb_report_streams_in_bounded_memory() {
    let sessions = 3_600; // about 5.9 KB each: over 20 MB in all
    let mut bytes = 0usize;
    let mut counter = GeneratedReport { sessions, next: 0, chunk: Vec::new(), at: 0, done: false };
    let mut buf = [0u8; 65536];
    while let Ok(n) = counter.read(&mut buf) {
        if n == 0 {
            break;
        }
        bytes += n;
    }
    assert!(bytes > 20_000_000, "the report is {bytes} bytes");

    let before = peak_heap::start();
    let input = GeneratedReport { sessions, next: 0, chunk: Vec::new(), at: 0, done: false };
    let (mut count, mut events) = (0, 0);
    for session in read_sessions(BufReader::new(input)) {
        let session = session.unwrap();
        events += session.events.len();
        count += 1;
    }
    let peak = peak_heap::rise_since(before);
    assert_eq!((count, events), (sessions, sessions * 40));
    assert!(peak < 512 * 1024, "reading {bytes} bytes peaked at {peak} bytes of heap");
}
