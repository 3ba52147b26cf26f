//! Notes rendered from a hostile report (markup, template syntax, huge fields, odd Unicode):
//! every note must fit Autotask's limits, be numbered in order and end with its marker, so the
//! worker can always write it and always find it again.
#![no_main]

use bta_core::beyondtrust::{SurveyKind, read_sessions_from_bytes, read_surveys};
use bta_core::render::{DESCRIPTION_LIMIT, NoteText, Renderer, TITLE_LIMIT, marker};
use libfuzzer_sys::fuzz_target;

fn check(notes: &[NoteText], lsid: &str, kind: &str) {
    let parts = notes.len() as u32;
    for (i, note) in notes.iter().enumerate() {
        let part = i as u32 + 1;
        assert_eq!((note.part, note.parts), (part, parts), "parts out of order");
        assert!(note.description.chars().count() <= DESCRIPTION_LIMIT, "a note above Autotask's limit");
        assert!(note.title.chars().count() <= TITLE_LIMIT, "a title above Autotask's limit");
        assert!(note.description.ends_with(&marker(lsid, kind, part, parts)), "a note without its marker");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(renderer) = Renderer::new(None) else { return };
    for session in read_sessions_from_bytes(data).take(64).flatten() {
        if let Ok(notes) = renderer.session_notes(&session, &chrono::Utc) {
            check(&notes, &session.lsid, "session");
        }
    }
    for survey in read_surveys(data).take(64).flatten() {
        if let Ok(note) = renderer.survey_note(&survey, &chrono::Utc) {
            let kind = if survey.kind() == Some(SurveyKind::Representative) { "rep survey" } else { "customer survey" };
            check(std::slice::from_ref(&note), &survey.lsid, kind);
        }
    }
});
