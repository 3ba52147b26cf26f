use chrono::Utc;

use super::*;
use crate::beyondtrust::{read_sessions, read_surveys};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn session() -> SupportSession {
    read_sessions(fixture("support_session_rs.xml").as_bytes()).next().unwrap().unwrap()
}

#[test]
fn a_session_note_holds_transcript_notes_files_system_information_and_its_marker() {
    let notes = Renderer::new(None).unwrap().session_notes(&session(), &Utc).unwrap();
    assert_eq!(notes.len(), 1);
    let note = &notes[0];
    assert_eq!(note.title, "Remote support session 2026-11-24 10:00 · Dana Whitfield · 15 min");
    let text = &note.description;
    for expected in [
        "BeyondTrust Remote Support session c69a8e10bea9428f816cfababe9815fe",
        "Started 2026-11-24 10:00:00 +00:00 — ended 2026-11-24 10:15:02 +00:00 (15 min 2 s) on Default & Main",
        "Representative: Alex Morgan, Sam Lee",
        "Customer: Dana Whitfield, Contoso Ltd on WS-0042 (Windows 11 Pro (x64) Version 24H2)",
        "Issue: Outlook / E-mail",
        "Details: Outlook keeps asking for my password <every> 5 minutes",
        "customer_email: dana.whitfield@contoso.example",
        "[10:00:12] Alex Morgan: Hi Dana, I'm connecting now. Please accept the prompt.",
        "[10:00:30] Dana Whitfield: Done — it says \"5 < 6\" now?",
        "[10:03:20] Alex Morgan: File Transferred: outlook-fix.reg",
        "[10:06:40] Session: Screen Sharing Started",
        "[10:08:20] Alex Morgan: Holographic Handshake",
        "[10:00:00] Session: Conference Owner Changed → Alex Morgan",
        "== Session notes ==\n[10:05:00] Alex Morgan: Reset the credential manager entry for Outlook.",
        "outlook-fix.reg (2048 bytes)",
        "-- General --\nComputer Name: WS-0042\nOS: Windows 11 Pro",
        "-- Disk --\nDrive: C:\nFree: 112 GB\nDrive: D:",
    ] {
        assert!(text.contains(expected), "missing «{expected}» in:\n{text}");
    }
    assert!(text.ends_with(&marker(&session().lsid, "session", 1, 1)));
}

#[test]
fn the_recordings_are_linked_in_the_note_unless_the_profile_leaves_them_out() {
    let s = session();
    assert_eq!(s.shell_recordings.len(), 1, "read from command_shell_recordings");
    assert_eq!(s.shell_recordings[0].instance.as_deref(), Some("1"));
    let text = Renderer::new(None).unwrap().session_notes(&s, &Utc).unwrap().remove(0).description;
    let recordings = "== Recordings ==\n\
        Screen recording: https://support.example.com/session_download?lsid=c69a&dl_action=recording\n\
        Command shell 1: https://support.example.com/session_download?lsid=c69a&dl_action=shell&view=1\n";
    assert!(text.contains(recordings), "{text}");
    let without = Renderer::new(None).unwrap().with_recording_links(false).session_notes(&s, &Utc).unwrap();
    assert!(!without[0].description.contains("Recordings"), "{}", without[0].description);
    assert!(without[0].description.contains("Full chat: "), "the chat link stays");
}

/// The fixture's session with 3,000 lines of chat more: several notes' worth.
fn long_session() -> SupportSession {
    let mut s = session();
    let chat = s.events[1].clone();
    for i in 0..3000 {
        let mut line = chat.clone();
        line.body = Some(format!("Line {i:04} of a very long troubleshooting conversation.").into());
        s.events.push(line);
    }
    s
}

#[test]
fn a_note_written_for_a_rep_begins_with_whom_and_stays_within_the_limit() {
    let s = long_session();
    let long_name = format!("{}@example.com", "r".repeat(2000));
    for note in Renderer::new(None).unwrap().session_notes(&s, &Utc).unwrap() {
        let written = written_for(&note, &format!("Written by the API user for {long_name}"));
        assert!(written.description.starts_with("Written by the API user for rrr"));
        assert!(written.description.chars().count() <= DESCRIPTION_LIMIT, "{}", written.description.len());
        assert!(written.description.ends_with(&marker(&s.lsid, "session", note.part, note.parts)));
    }
}

#[test]
fn a_long_transcript_is_split_into_numbered_parts_within_the_limit() {
    let s = long_session();
    let notes = Renderer::new(None).unwrap().session_notes(&s, &Utc).unwrap();
    assert!(notes.len() >= 6, "{} parts", notes.len());
    let parts = notes.len() as u32;
    let mut all = String::new();
    for (i, note) in notes.iter().enumerate() {
        assert!(note.description.chars().count() <= DESCRIPTION_LIMIT);
        assert_eq!((note.part, note.parts), (i as u32 + 1, parts));
        assert!(note.title.ends_with(&format!("(part {} of {parts})", i + 1)), "{}", note.title);
        assert!(note.description.ends_with(&marker(&s.lsid, "session", i as u32 + 1, parts)));
        all.push_str(&note.description);
    }
    let positions: Vec<usize> = (0..3000).map(|i| all.find(&format!("Line {i:04} of")).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "every line once, in order");
}

#[test]
fn a_profile_template_replaces_the_built_in_one_and_a_broken_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("session.hbs"), "Session {{lsid}} by {{primary_rep}}").unwrap();
    let notes = Renderer::new(Some(dir.path())).unwrap().session_notes(&session(), &Utc).unwrap();
    assert!(notes[0].description.starts_with("Session c69a8e10bea9428f816cfababe9815fe by Alex Morgan"));

    std::fs::write(dir.path().join("rep_survey.hbs"), "{{#each questions}}").unwrap();
    let err = Renderer::new(Some(dir.path())).unwrap_err().to_string();
    assert!(err.contains("rep_survey.hbs") && err.contains("cannot be used"), "{err}");
}

#[test]
fn a_survey_note_lists_every_question_with_its_answers() {
    let survey = read_surveys(fixture("exit_surveys.xml").as_bytes()).next().unwrap().unwrap();
    let note = Renderer::new(None).unwrap().survey_note(&survey, &Utc).unwrap();
    assert!(note.title.starts_with("Customer exit survey · Dana Whitfield · 2026-11-24 "), "{}", note.title);
    for expected in [
        "BeyondTrust customer exit survey for session c69a8e10bea9428f816cfababe9815fe",
        "by Dana Whitfield — representative Alex Morgan",
        "How satisfied were you?\n  Very satisfied",
        "What did we help with?\n  E-mail, Passwords",
        "Anything else?\n  (no answer)",
    ] {
        assert!(note.description.contains(expected), "missing «{expected}» in:\n{}", note.description);
    }
    assert!(note.description.ends_with(&marker(&survey.lsid, "customer survey", 1, 1)));
}

#[test]
fn a_session_id_longer_than_a_note_still_renders_within_the_limit() {
    let mut s = session();
    s.lsid = "7".repeat(40_000).into();
    let notes = Renderer::new(None).unwrap().session_notes(&s, &Utc).unwrap();
    for note in &notes {
        assert!(note.description.chars().count() <= DESCRIPTION_LIMIT, "{} chars", note.description.len());
        assert!(note.description.ends_with(&marker(&s.lsid, "session", note.part, note.parts)));
    }
    // Shortened, and never the same for two different ids.
    let other = "7".repeat(39_999) + "8";
    assert!(marked_id(&s.lsid).len() <= 64);
    assert_ne!(marked_id(&s.lsid), marked_id(&other));
    assert_eq!(marked_id("c69a8e10bea9428f816cfababe9815fe"), "c69a8e10bea9428f816cfababe9815fe");
}
