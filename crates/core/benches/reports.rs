//! Report parsing benchmark: prints ratios measured in one run on a 10 MB SupportSession report.
//!
//! - time of our streaming typed parse against a DOM parse (`roxmltree`) into the same structs
//!   with the same content (goal: at least 2× faster), median of 9 runs each, drop included;
//! - peak heap of the streaming parse, holding every session, against the document's size
//!   (goal: at most 1.5×).

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use bta_core::beyondtrust::{
    CustomAttribute, Customer, EventKind, Party, PublicSite, Representative, SessionEvent, ShellRecording,
    SupportSession, SystemInfoCategory, Text, read_sessions_from_bytes, word,
};
use chrono::{TimeZone, Utc};

#[path = "../tests/support/peak_heap.rs"]
mod peak_heap;

/// About 10 MB: the realistic fixture session repeated with distinct lsids.
fn document() -> String {
    let fixture = include_str!("../tests/fixtures/support_session_rs.xml");
    let start = fixture.find("<session ").unwrap();
    let end = fixture.rfind("</session>").unwrap() + "</session>".len();
    let session = &fixture[start..end];
    let mut doc = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<session_list xmlns=\"https://www.beyondtrust.com/namespaces/API/reporting\">",
    );
    let mut i = 0u64;
    while doc.len() < 10 * 1024 * 1024 {
        doc.push_str(&session.replace("c69a8e10bea9428f816cfababe9815fe", &format!("{i:032x}")));
        i += 1;
    }
    doc.push_str("</session_list>");
    doc
}

/// The same structs filled from a roxmltree DOM: the straightforward alternative.
mod dom {
    use super::*;
    use roxmltree::Node;

    fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
        node.children().find(|c| c.tag_name().name() == name)
    }

    fn text(node: Node<'_, '_>, name: &str) -> Option<Text> {
        child(node, name).and_then(|c| c.text()).map(|t| Text::new(t.trim())).filter(|t| !t.is_empty())
    }

    fn time(node: Node<'_, '_>, name: &str) -> Option<chrono::DateTime<Utc>> {
        child(node, name)?.attribute("timestamp")?.parse().ok().and_then(|t| Utc.timestamp_opt(t, 0).single())
    }

    /// Children this model has no field for, as (name, text): kept, like the streaming parse does.
    fn unknown_children<'a>(node: Node<'a, '_>, known: &'a [&str]) -> impl Iterator<Item = (Text, Text)> + 'a {
        node.children()
            .filter(|c| c.is_element() && !known.contains(&c.tag_name().name()))
            .map(|c| (Text::new(c.tag_name().name()), Text::new(c.text().unwrap_or("").trim())))
    }

    const SESSION_FIELDS: &[&str] = &[
        "lseq",
        "session_type",
        "start_time",
        "end_time",
        "duration",
        "public_site",
        "external_key",
        "custom_attributes",
        "command_shell_recordings",
        "session_chat_view_url",
        "session_chat_download_url",
        "file_transfer_count",
        "primary_customer",
        "primary_rep",
        "customer_list",
        "rep_list",
        "session_details",
    ];

    fn party(node: Node<'_, '_>) -> Party {
        Party {
            gsnumber: node.attribute("gsnumber").map(Text::new),
            id: node.attribute("id").map(Text::new),
            kind: node.attribute("type").map(word),
            name: node.text().unwrap_or("").trim().into(),
        }
    }

    fn event(e: Node<'_, '_>) -> SessionEvent {
        let event_type = word(e.attribute("event_type").unwrap_or(""));
        let body = child(e, "body");
        SessionEvent {
            kind: EventKind::of(&event_type),
            event_type,
            timestamp: e
                .attribute("timestamp")
                .and_then(|t| t.parse().ok())
                .and_then(|t| Utc.timestamp_opt(t, 0).single()),
            performed_by: child(e, "performed_by").map(party),
            destination: child(e, "destination").map(party),
            body: body.and_then(|b| b.text()).map(|t| Text::new(t.trim())).filter(|t| !t.is_empty()),
            data: child(e, "data")
                .map(|d| {
                    d.children()
                        .filter(|v| v.tag_name().name() == "value")
                        .map(|v| (v.attribute("name").unwrap_or("").into(), v.attribute("value").unwrap_or("").into()))
                        .collect()
                })
                .unwrap_or_default(),
            system_info: body
                .map(|b| {
                    b.descendants()
                        .filter(|c| c.tag_name().name() == "category")
                        .map(|c| SystemInfoCategory {
                            name: c.attribute("name").unwrap_or("").into(),
                            rows: c
                                .descendants()
                                .filter(|r| r.tag_name().name() == "row")
                                .map(|r| {
                                    r.children()
                                        .filter(|f| f.tag_name().name() == "field")
                                        .map(|f| {
                                            (
                                                f.attribute("id").unwrap_or("").into(),
                                                f.text().unwrap_or("").trim().into(),
                                            )
                                        })
                                        .collect()
                                })
                                .collect(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            extra: unknown_children(e, &["performed_by", "destination", "body", "data"]).collect(),
        }
    }

    pub fn parse(xml: &str) -> Vec<SupportSession> {
        let doc = roxmltree::Document::parse(xml).unwrap();
        doc.root_element()
            .children()
            .filter(|n| n.tag_name().name() == "session")
            .map(|s| SupportSession {
                lsid: s.attribute("lsid").unwrap_or("").into(),
                lseq: text(s, "lseq").and_then(|t| t.parse().ok()),
                session_type: text(s, "session_type"),
                start_time: time(s, "start_time"),
                end_time: time(s, "end_time"),
                duration: text(s, "duration"),
                external_key: text(s, "external_key"),
                primary_customer: child(s, "primary_customer").map(party),
                primary_rep: child(s, "primary_rep").map(party),
                customers: child(s, "customer_list")
                    .map(|l| {
                        l.children()
                            .filter(|c| c.tag_name().name() == "customer")
                            .map(|c| Customer {
                                gsnumber: c.attribute("gsnumber").map(Text::new),
                                username: text(c, "username"),
                                public_ip: text(c, "public_ip"),
                                private_ip: text(c, "private_ip"),
                                hostname: text(c, "hostname"),
                                os: text(c, "os"),
                                primary: text(c, "primary_cust").as_deref() == Some("1"),
                                info: child(c, "info")
                                    .map(|i| {
                                        i.children()
                                            .filter(|f| f.is_element())
                                            .map(|f| (word(f.tag_name().name()), f.text().unwrap_or("").trim().into()))
                                            .collect()
                                    })
                                    .unwrap_or_default(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                reps: child(s, "rep_list")
                    .map(|l| {
                        l.children()
                            .filter(|r| r.tag_name().name() == "representative")
                            .map(|r| Representative {
                                gsnumber: r.attribute("gsnumber").map(Text::new),
                                id: r.attribute("id").map(Text::new),
                                username: text(r, "username"),
                                display_name: text(r, "display_name"),
                                public_ip: text(r, "public_ip"),
                                private_ip: text(r, "private_ip"),
                                hostname: text(r, "hostname"),
                                os: text(r, "os"),
                                primary: text(r, "primary_rep").as_deref() == Some("1"),
                                seconds_involved: text(r, "seconds_involved").and_then(|t| t.parse().ok()),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                events: child(s, "session_details")
                    .map(|d| d.children().filter(|e| e.tag_name().name() == "event").map(event).collect())
                    .unwrap_or_default(),
                chat_view_url: text(s, "session_chat_view_url"),
                chat_download_url: text(s, "session_chat_download_url"),
                file_transfer_count: text(s, "file_transfer_count").and_then(|t| t.parse().ok()),
                public_site: child(s, "public_site").map(|p| PublicSite {
                    id: p.attribute("id").map(Text::new),
                    name: Text::new(p.text().unwrap_or("").trim()),
                }),
                custom_attributes: child(s, "custom_attributes")
                    .map(|l| {
                        l.children()
                            .filter(|a| a.tag_name().name() == "custom_attribute")
                            .map(|a| CustomAttribute {
                                code_name: Text::new(a.attribute("code_name").unwrap_or("")),
                                display_name: a.attribute("display_name").map(Text::new),
                                value: Text::new(a.text().unwrap_or("").trim()),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                other_urls: unknown_children(s, SESSION_FIELDS).filter(|(name, _)| name.ends_with("_url")).collect(),
                shell_recordings: child(s, "command_shell_recordings")
                    .map(|l| {
                        l.children()
                            .filter(|r| r.tag_name().name() == "command_shell_recording")
                            .map(|r| ShellRecording {
                                instance: text(r, "instance"),
                                view_url: text(r, "view_url"),
                                download_url: text(r, "download_url"),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                extra: unknown_children(s, SESSION_FIELDS).filter(|(name, _)| !name.ends_with("_url")).collect(),
            })
            .collect()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn streaming(xml: &str) -> Vec<SupportSession> {
    read_sessions_from_bytes(xml.as_bytes()).collect::<Result<_, _>>().unwrap()
}

fn main() {
    let xml = document();
    let size = xml.len();
    let ours = streaming(&xml);
    let theirs = dom::parse(&xml);
    assert_eq!(ours.len(), theirs.len());
    // Field for field, so both sides do the same work.
    assert!(ours == theirs, "both parses must read the same content");
    let sessions = ours.len();
    // Timed with nothing else held, as each parse would run in the worker.
    drop((ours, theirs));

    let (mut stream_times, mut dom_times) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        let t = Instant::now();
        std::hint::black_box(streaming(&xml));
        stream_times.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::hint::black_box(dom::parse(&xml));
        dom_times.push(t.elapsed().as_secs_f64());
    }
    let (s, d) = (median(stream_times), median(dom_times));
    let speedup = d / s;

    let before = peak_heap::start();
    let held = streaming(&xml);
    let peak = peak_heap::rise_since(before);
    drop(held);
    let memory = peak as f64 / size as f64;

    println!(
        "Report parsing benchmark ({:.1} MB SupportSession report, {} sessions, one run)",
        size as f64 / 1e6,
        sessions
    );
    println!(
        "time: streaming typed parse {:.0} ms, roxmltree DOM into the same structs {:.0} ms → {speedup:.2}× faster (goal ≥ 2×: {})",
        s * 1e3,
        d * 1e3,
        if speedup >= 2.0 { "meets the goal" } else { "MISSES the goal" }
    );
    println!(
        "memory: peak heap holding every session {:.1} MB for a {:.1} MB document → {memory:.2}× (goal ≤ 1.5×: {})",
        peak as f64 / 1e6,
        size as f64 / 1e6,
        if memory <= 1.5 { "meets the goal" } else { "MISSES the goal" }
    );
}
