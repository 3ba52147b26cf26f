//! Reading Reporting API documents: every namespace, a document shaped like a real appliance's,
//! every event kind, empty and missing elements, malformed XML, hostile entities, and a large
//! report read in bounded memory.

#![allow(clippy::unwrap_used)]

use bta_core::beyondtrust::{
    EventKind, ReportError, SupportSession, SurveyKind, read_listing, read_sessions, read_surveys,
};

fn sessions(xml: &str) -> Vec<SupportSession> {
    read_sessions(xml.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn a_remote_support_report_reads_into_every_field() {
    let s = sessions(&fixture("support_session_rs.xml")).remove(0);
    assert_eq!(s.lsid, "c69a8e10bea9428f816cfababe9815fe");
    assert_eq!(s.lseq, Some(4211));
    assert_eq!(s.session_type.as_deref(), Some("support"));
    assert_eq!(s.start_time.unwrap().timestamp(), 1795514400);
    assert_eq!(s.end_time.unwrap().timestamp(), 1795515302);
    assert_eq!(s.duration_seconds(), Some(902));
    assert_eq!(s.external_key.as_deref(), Some("7201"));
    assert_eq!(s.public_site.as_ref().unwrap().name, "Default & Main");
    assert_eq!(s.custom("customer_email"), Some("dana.whitfield@contoso.example"));
    assert!(s.chat_view_url.as_deref().unwrap().ends_with("dl_action=chat&view=1"));
    assert_eq!(s.other_urls[0].0, "session_recording_view_url");
    assert_eq!(s.extra, [("lseq_note".into(), "kept as an unknown element".into())]);
    assert_eq!(s.primary_rep.as_ref().unwrap().name, "Alex Morgan");

    let customer = &s.customers[0];
    assert_eq!(customer.hostname.as_deref(), Some("WS-0042"));
    assert_eq!(customer.public_ip.as_deref(), Some("[2a01:4f8:c2c:1234::1]:56722"));
    assert!(customer.primary);
    assert_eq!(customer.info("issue"), Some("Outlook / E-mail"));
    assert_eq!(customer.info("details"), Some("Outlook keeps asking for my password <every> 5 minutes"));
    assert_eq!(customer.info("customer_email"), Some("dana.whitfield@contoso.example"));

    assert_eq!(s.reps.len(), 2);
    let primary = s.primary_representative().unwrap();
    assert_eq!(primary.username.as_deref(), Some("alex.morgan"));
    assert_eq!(primary.seconds_involved, Some(902));
    assert!(!s.reps[1].primary);

    let kinds: Vec<EventKind> = s.events.iter().map(|e| e.kind).collect();
    use EventKind::*;
    assert_eq!(kinds, [Other, ChatMessage, ChatMessage, SystemInformation, FileTransfer, SessionNote, Other, Other]);
    assert_eq!(s.events[0].destination.as_ref().unwrap().kind.as_deref(), Some("representative"));
    assert_eq!(s.events[2].body.as_deref(), Some("Done — it says \"5 < 6\" now?"));
    assert_eq!(s.events[2].performed_by.as_ref().unwrap().kind.as_deref(), Some("customer"));
    let info = &s.events[3].system_info;
    assert_eq!(info.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["General", "Disk"]);
    assert_eq!(info[1].rows[1], [("Drive".into(), "D:".into()), ("Free".into(), "410 GB".into())]);
    assert_eq!(s.events[3].body, None, "a body holding only tables has no text");
    assert_eq!(s.events[4].data("filename"), Some("outlook-fix.reg"));
    assert_eq!(s.events[6].event_type, "Screen Sharing Started");
    assert_eq!(s.events[7].event_type, "Holographic Handshake", "unknown event types are kept");
    assert_eq!(s.events[7].extra, [("sparkle".into(), "bright".into())]);
}

#[test]
fn a_document_shaped_like_a_real_appliances_reads_with_its_empty_elements() {
    let s = sessions(&fixture("support_session_pra_shape.xml")).remove(0);
    assert_eq!(s.external_key, None, "an empty external_key is no key");
    assert!(s.custom_attributes.is_empty());
    assert_eq!(s.reps[0].public_ip.as_deref(), Some("[2a01:111:f400::5]:56722"));
    assert_eq!(s.reps[0].private_ip.as_deref(), Some("Unknown"));
    assert_eq!(s.customers[0].info("issue"), Some(""));
    assert_eq!(s.events.len(), 2);
    assert!(s.events.iter().all(|e| e.body.is_none() && e.performed_by.is_none()));
    assert_eq!(s.duration.as_deref(), Some("00:15:02"));
}

#[test]
fn prefixed_legacy_namespaces_read_by_local_name() {
    let s = sessions(&fixture("support_session_legacy.xml")).remove(0);
    assert_eq!(s.external_key.as_deref(), Some("T20261124.0042"));
    assert_eq!(s.end_time, None, "a session not yet finished has no end time");
    assert_eq!(s.events[0].body.as_deref(), Some("Hello from an old appliance"));
}

#[test]
fn missing_elements_leave_fields_empty() {
    let s = sessions(r#"<session_list><session lsid="x"/></session_list>"#).remove(0);
    assert_eq!(s, SupportSession { lsid: "x".into(), ..Default::default() });
    assert!(sessions("<session_list></session_list>").is_empty());
}

#[test]
fn attributes_read_in_every_way_xml_allows_them_to_be_written() {
    let xml = "<session_list><session lsid = 'a&amp;b'><session_details>\
        <event\ttimestamp=\"1795514400\"\n event_type='Chat &quot;Message&quot;'>\
        <performed_by bt:gsnumber=\"7\" type=\"customer\" id='x>y'>Dana</performed_by></event>\
        <event event_type=\"File Transferred\"><data><value name=\"Filename\" value=\"a&#x20;b.txt\"/>\
        <value name=\"Note\" junk value=\"2\"/></data></event>\
        </session_details></session></session_list>";
    let s = sessions(xml).remove(0);
    assert_eq!(s.lsid, "a&b", "spaces around = and single quotes");
    let chat = &s.events[0];
    assert_eq!(chat.event_type, "Chat \"Message\"");
    assert_eq!(chat.timestamp.map(|t| t.timestamp()), Some(1795514400), "a tab and a newline between attributes");
    let by = chat.performed_by.as_ref().unwrap();
    assert_eq!(
        (by.gsnumber.as_deref(), by.kind.as_deref(), by.id.as_deref()),
        (Some("7"), Some("customer"), Some("x>y"))
    );
    // A malformed attribute ends that element's attributes; the report still reads.
    assert_eq!(s.events[1].data("Filename"), Some("a b.txt"));
    assert_eq!(s.events[1].data[1], ("Note".into(), "".into()));
}

#[test]
fn exit_surveys_read_with_questions_and_answers_as_attributes_or_elements() {
    let surveys: Vec<_> = read_surveys(fixture("exit_surveys.xml").as_bytes()).collect::<Result<_, _>>().unwrap();
    let survey = &surveys[0];
    assert_eq!(survey.kind(), Some(SurveyKind::Customer));
    assert_eq!(survey.lsid, "c69a8e10bea9428f816cfababe9815fe");
    assert_eq!(survey.primary_rep.as_ref().unwrap().name, "Alex Morgan");
    let q = &survey.questions;
    assert_eq!(q[0].title(), "How satisfied were you?");
    assert_eq!(q[0].answers, ["Very satisfied"]);
    assert_eq!(q[1].question_type.as_deref(), Some("checkbox"));
    assert_eq!(q[1].answers, ["E-mail", "Passwords"]);
    assert!(q[2].answers.is_empty());
}

#[test]
fn a_listing_reads_summaries() {
    let xml = r#"<session_summary_list xmlns="https://www.beyondtrust.com/namespaces/API/reporting">
        <session_summary lsid="a1" has_recording="1"><end_time timestamp="1795515302">…</end_time><duration>00:01:00</duration></session_summary>
        <session_summary lsid="b2" has_recording="0"/></session_summary_list>"#;
    let list: Vec<_> = read_listing(xml.as_bytes()).collect::<Result<_, _>>().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list[0].has_recording && !list[1].has_recording);
    assert_eq!(list[0].end_time.unwrap().timestamp(), 1795515302);
    assert_eq!(list[0].fields, [("duration".into(), "00:01:00".into())]);
}

#[test]
fn an_error_document_becomes_the_appliances_message() {
    let err = read_sessions("<error>Invalid lsid</error>".as_bytes()).next().unwrap().unwrap_err();
    assert_eq!(err, ReportError::Appliance("Invalid lsid".into()));
    let wrong = read_sessions("<exit_survey_list/>".as_bytes()).next().unwrap().unwrap_err();
    assert!(matches!(wrong, ReportError::UnexpectedRoot { .. }), "{wrong}");
}

#[test]
fn malformed_xml_reports_the_byte_position() {
    let xml = r#"<session_list><session lsid="x"><lseq>1</lseq_oops></session></session_list>"#;
    match read_sessions(xml.as_bytes()).next().unwrap() {
        Err(ReportError::Malformed { position, message }) => {
            assert!((38..=50).contains(&position), "position {position}: {message}");
        }
        other => panic!("expected a malformed error, got {other:?}"),
    }
    let truncated = r#"<session_list><session lsid="x"><lseq>1</lseq>"#;
    let err = read_sessions(truncated.as_bytes()).last().unwrap().unwrap_err();
    assert!(matches!(err, ReportError::Malformed { position, .. } if position as usize == truncated.len()), "{err}");
}

#[test]
fn entities_are_never_expanded_and_dtds_never_read() {
    let laughs = format!(
        r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">{}]>
        <session_list><session lsid="x"><external_key>&lol9;</external_key></session></session_list>"#,
        (1..10).map(|i| format!("<!ENTITY lol{i} \"{}\">", format!("&lol{};", i - 1).repeat(10))).collect::<String>()
    );
    let s = sessions(&laughs).remove(0);
    assert_eq!(s.external_key.as_deref(), Some("&lol9;"), "kept as written, not a billion laughs");

    let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
        <session_list><session lsid="x"><external_key>&xxe;</external_key></session></session_list>"#;
    let s = sessions(xxe).remove(0);
    assert_eq!(s.external_key.as_deref(), Some("&xxe;"));
}
