//! What Autotask had no ticket for, remembered for the whole desk. A search the desk's copy finds
//! nothing for is asked of Autotask ([`super::search`]); when Autotask finds nothing either, the
//! same search — or one typed on from it ("password r" → "password reset", "T2026120" →
//! "T20261201.0042") — is answered with nothing for a while, whichever rep types it, without
//! asking again. At a desk of hundreds, the words no title has are typed over and over; each
//! typing pause was a request.
//!
//! Why that hides nothing the copy would show: the copy holds every open ticket and every ticket
//! active within `search_copy_days`, kept by the looks and the webhooks, and is searched first. A
//! ticket made or changed after Autotask's answer (a new title, a new ticket) has a new last
//! activity, so it comes into the copy at the next look (within seconds by a webhook) and the
//! copy answers; one older than the answer was in it already. What the memory can hide is only
//! what the copy has not caught up with yet — its own lag, which every search from it has — and,
//! until it is forgotten, an old ticket of a company renamed since. It is forgotten after
//! [`LOOKS_KEPT`] looks' time (an hour at the default 180 s), and it is never used when the copy
//! is not filled or the rep asks all of Autotask.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ticket_search::Search;

/// For how many looks' time a search Autotask found nothing for is answered so.
pub const LOOKS_KEPT: u32 = 20;
/// Most searches remembered; the oldest is forgotten first.
const MOST: usize = 2_000;

/// The searches Autotask found nothing for lately, the oldest first.
#[derive(Debug)]
pub struct NothingFound {
    kept_for: Duration,
    asked: Mutex<VecDeque<(Search, Instant)>>,
}

impl NothingFound {
    /// A memory for a feed that looks every `look_every`.
    pub fn new(look_every: Duration) -> NothingFound {
        NothingFound { kept_for: look_every * LOOKS_KEPT, asked: Mutex::default() }
    }

    /// Whether Autotask found nothing lately for `search`, or for a search it types on from.
    pub fn knows(&self, search: &Search) -> bool {
        let search = search.lowercase();
        let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        self.forget_old(&mut asked, Instant::now());
        asked.iter().any(|(was, _)| *was == search || search.narrows(was))
    }

    /// Remembers that Autotask found nothing for `search` now.
    pub fn remember(&self, search: &Search) {
        let now = Instant::now();
        let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        self.forget_old(&mut asked, now);
        if asked.len() == MOST {
            asked.pop_front();
        }
        asked.push_back((search.lowercase(), now));
    }

    fn forget_old(&self, asked: &mut VecDeque<(Search, Instant)>, now: Instant) {
        while asked.front().is_some_and(|(_, at)| now.duration_since(*at) >= self.kept_for) {
            asked.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_found_answers_the_same_search_and_those_typed_on_from_it_whatever_the_case() {
        let memory = NothingFound::new(Duration::from_secs(180));
        memory.remember(&Search::parse("password r"));
        assert!(memory.knows(&Search::parse("password r")));
        assert!(memory.knows(&Search::parse("Password Reset")));
        assert!(!memory.knows(&Search::parse("password")), "a shorter search may find more");
        assert!(!memory.knows(&Search::parse("printer")));
        memory.remember(&Search::parse("T2026120"));
        assert!(memory.knows(&Search::parse("t20261201.0042")));
        memory.remember(&Search::parse("1005"));
        assert!(memory.knows(&Search::parse("1005")));
        assert!(!memory.knows(&Search::parse("10052")), "more digits are another id and another number's end");
    }

    #[test]
    fn it_forgets_after_its_looks_and_holds_a_bounded_number() {
        let memory = NothingFound::new(Duration::from_millis(1));
        memory.remember(&Search::parse("vpn"));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!memory.knows(&Search::parse("vpn")), "forgotten after {LOOKS_KEPT} looks' time");

        let memory = NothingFound::new(Duration::from_secs(180));
        for n in 0..MOST + 10 {
            memory.remember(&Search::parse(&format!("word{n}")));
        }
        assert_eq!(memory.asked.lock().unwrap().len(), MOST);
        assert!(!memory.knows(&Search::parse("word0")), "the oldest forgotten first");
        assert!(memory.knows(&Search::parse(&format!("word{}", MOST + 9))));
    }
}
