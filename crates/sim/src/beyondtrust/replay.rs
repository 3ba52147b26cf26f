//! `POST /_sim/reports`: real SupportSession documents replayed verbatim. The document is split
//! into its `<session>` elements, byte for byte, and each is stored with the few facts the
//! stand-in needs to select it (lsid, times, external key, primary rep).

use chrono::{DateTime, TimeZone, Utc};
use quick_xml::Reader;
use quick_xml::events::Event;

use super::sessions::{Body, Session};

/// Splits a `session_list` document into stored sessions; the error says where it broke.
pub fn split(document: &str) -> Result<Vec<Session>, String> {
    let mut reader = Reader::from_str(document);
    let mut sessions = Vec::new();
    let mut root = String::new();
    let mut depth = 0usize;
    let mut current: Option<(usize, Session)> = None;
    let mut text = String::new();
    let mut timestamp: Option<DateTime<Utc>> = None;
    let mut in_primary_rep_flag = false;
    let mut rep_username: Option<String> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let event =
            reader.read_event().map_err(|e| format!("not well-formed XML at byte {}: {e}", reader.error_position()))?;
        let after = reader.buffer_position() as usize;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.local_name().as_ref().to_owned();
                let attr = |n: &str| {
                    e.attributes().flatten().find(|a| a.key.local_name().as_ref() == n).map(|a| a.value.to_string())
                };
                if depth == 0 {
                    if name != "session_list" {
                        return Err(format!("expected a <session_list> document, got <{name}>"));
                    }
                    root = document[before..after].to_owned();
                } else if depth == 1 && name == "session" {
                    let lsid = attr("lsid").ok_or("a <session> has no lsid attribute")?;
                    current = Some((before, blank(lsid)));
                }
                timestamp =
                    attr("timestamp").and_then(|t| t.parse().ok()).and_then(|t| Utc.timestamp_opt(t, 0).single());
                in_primary_rep_flag = name == "primary_rep" && depth == 4;
                text.clear();
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                } else if depth == 1
                    && let Some((start, session)) = current.take()
                {
                    sessions.push(finish(session, &root, &document[start..after]));
                }
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => text.push_str(&format!("&{};", &*r)),
            Event::End(ref e) => {
                depth = depth.saturating_sub(1);
                let name = e.local_name().as_ref().to_owned();
                if let Some((start, session)) = current.as_mut() {
                    match (depth, name.as_str()) {
                        (2, "start_time") => session.start = timestamp.unwrap_or(session.start),
                        (2, "end_time") => {
                            session.end = timestamp;
                            session.end_reported_from = None;
                        }
                        (2, "external_key") => session.external_key = text.trim().to_owned(),
                        (4, "username") => rep_username = Some(text.trim().to_owned()),
                        (4, "primary_rep") if in_primary_rep_flag && text.trim() == "1" => {
                            session.primary_rep = rep_username.clone();
                        }
                        (1, "session") => {
                            let start = *start;
                            if let Some((_, done)) = current.take() {
                                sessions.push(finish(done, &root, &document[start..after]));
                            }
                        }
                        _ => {}
                    }
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err("the document ended before its elements were closed".into());
    }
    Ok(sessions)
}

fn blank(lsid: String) -> Session {
    Session {
        lsid,
        start: Utc::now(),
        end: None,
        end_reported_from: None,
        external_key: String::new(),
        custom: Default::default(),
        primary_rep: None,
        body: Body::Verbatim { root: String::new(), xml: String::new() },
        surveys: Vec::new(),
    }
}

fn finish(mut session: Session, root: &str, xml: &str) -> Session {
    let root = root.trim_end_matches("/>").trim_end_matches('>').to_owned() + ">";
    session.body = Body::Verbatim { root, xml: xml.to_owned() };
    session
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_split_byte_for_byte() {
        let doc = r#"<?xml version="1.0"?><b:session_list xmlns:b="urn:x"><b:session lsid="a"><b:external_key>7</b:external_key><b:end_time timestamp="100">x</b:end_time></b:session><b:session lsid="b"><b:value name="x"/></b:session><b:session lsid="c"/></b:session_list>"#;
        let sessions = split(doc).unwrap();
        assert_eq!(sessions.len(), 3);
        assert_eq!(sessions[0].external_key, "7");
        assert_eq!(sessions[0].end.map(|e| e.timestamp()), Some(100));
        assert!(
            matches!(&sessions[0].body, Body::Verbatim { root, xml } if root == r#"<b:session_list xmlns:b="urn:x">"# && xml.starts_with("<b:session lsid=\"a\">") && xml.ends_with("</b:session>"))
        );
    }
}
