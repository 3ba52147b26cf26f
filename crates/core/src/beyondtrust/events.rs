//! Outbound events: the form-encoded messages an appliance POSTs to `/ERSPost`, read into a
//! typed event. The seven support-session events are named; anything else is kept as "other"
//! with all of its fields.

use chrono::{DateTime, TimeZone, Utc};

/// The support-session events of the spec, by their appliance names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    SessionBegin,
    SessionEnd,
    MemberAdded,
    MemberDeparted,
    OwnerChanged,
    CustomerExitSurveyCompleted,
    RepExitSurveyCompleted,
    Other,
}

impl EventType {
    pub const SUPPORT: [EventType; 7] = [
        EventType::SessionBegin,
        EventType::SessionEnd,
        EventType::MemberAdded,
        EventType::MemberDeparted,
        EventType::OwnerChanged,
        EventType::CustomerExitSurveyCompleted,
        EventType::RepExitSurveyCompleted,
    ];

    /// The `event` value the appliance sends.
    pub fn name(self) -> &'static str {
        match self {
            EventType::SessionBegin => "support_conference_begin",
            EventType::SessionEnd => "support_conference_end",
            EventType::MemberAdded => "support_conference_member_added",
            EventType::MemberDeparted => "support_conference_member_departed",
            EventType::OwnerChanged => "support_conference_owner_changed",
            EventType::CustomerExitSurveyCompleted => "support_conference_customer_exit_survey_completed",
            EventType::RepExitSurveyCompleted => "support_conference_rep_exit_survey_completed",
            EventType::Other => "other",
        }
    }

    /// The name the seed's configuration screen uses ("Support Session End", …).
    pub fn seed_label(self) -> &'static str {
        match self {
            EventType::SessionBegin => "Support Session Start",
            EventType::SessionEnd => "Support Session End",
            EventType::MemberAdded => "Someone Joins a Support Session",
            EventType::MemberDeparted => "Someone Leaves a Support Session",
            EventType::OwnerChanged => "Support Session Ownership Changes",
            EventType::CustomerExitSurveyCompleted => "Customer Exit Survey is Completed",
            EventType::RepExitSurveyCompleted => "Representative Survey is Completed",
            EventType::Other => "Other",
        }
    }

    pub fn from_name(name: &str) -> EventType {
        EventType::SUPPORT.into_iter().find(|t| t.name() == name).unwrap_or(EventType::Other)
    }
}

/// Who joined or left (member events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub username: Option<String>,
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    /// `customer` or `representative`.
    pub kind: Option<String>,
}

impl Member {
    pub fn is_representative(&self) -> bool {
        self.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("representative"))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboundEvent {
    pub event_type: EventType,
    /// The `event` value as received.
    pub name: String,
    pub version: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    pub lsid: Option<String>,
    pub external_key: Option<String>,
    pub appliance_id: Option<String>,
    pub member: Option<Member>,
    /// Every field as received, in order.
    pub fields: Vec<(String, String)>,
}

impl OutboundEvent {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Why an event body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outbound event not understood: {0}")]
pub struct EventError(pub String);

/// Reads a form-encoded event body.
pub fn parse_event(body: &[u8]) -> Result<OutboundEvent, EventError> {
    if std::str::from_utf8(body).is_err() {
        return Err(EventError("the body is not UTF-8 text".into()));
    }
    let fields: Vec<(String, String)> =
        url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let name = get("event").ok_or_else(|| EventError("it has no 'event' field".into()))?;
    let event_type = EventType::from_name(&name);
    let lsid = get("lsid");
    if event_type != EventType::Other && lsid.is_none() {
        return Err(EventError(format!("the {name} event has no 'lsid'")));
    }
    let timestamp = match get("timestamp") {
        Some(t) => Some(
            t.parse::<i64>()
                .ok()
                .and_then(|t| Utc.timestamp_opt(t, 0).single())
                .ok_or_else(|| EventError(format!("'timestamp' is not a unix time: {t}")))?,
        ),
        None => None,
    };
    let member = matches!(event_type, EventType::MemberAdded | EventType::MemberDeparted).then(|| Member {
        username: get("username"),
        user_id: get("user_id"),
        display_name: get("display_name"),
        kind: get("type"),
    });
    Ok(OutboundEvent {
        event_type,
        version: get("version"),
        timestamp,
        lsid,
        external_key: get("external_key"),
        appliance_id: get("appliance_id"),
        member,
        name,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_support_event_reads_and_others_are_kept() {
        for t in EventType::SUPPORT {
            let body = format!(
                "event={}&version=3&timestamp=1795515302&lsid=abc&external_key=7201&appliance_id=default",
                t.name()
            );
            let e = parse_event(body.as_bytes()).unwrap();
            assert_eq!(e.event_type, t);
            assert_eq!(e.lsid.as_deref(), Some("abc"));
            assert_eq!(e.timestamp.unwrap().timestamp(), 1795515302);
        }
        let other = parse_event(b"event=rep_login&username=alex.morgan&who=x%20y").unwrap();
        assert_eq!(other.event_type, EventType::Other);
        assert_eq!(other.field("who"), Some("x y"));
    }

    #[test]
    fn member_events_carry_the_member() {
        let e = parse_event(
            b"event=support_conference_member_added&lsid=abc&username=alex.morgan&user_id=3&display_name=Alex+Morgan&type=representative",
        )
        .unwrap();
        let m = e.member.unwrap();
        assert!(m.is_representative());
        assert_eq!(m.display_name.as_deref(), Some("Alex Morgan"));
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        assert!(parse_event(b"lsid=abc").unwrap_err().0.contains("no 'event'"));
        assert!(parse_event(b"event=support_conference_end").unwrap_err().0.contains("no 'lsid'"));
        assert!(
            parse_event(b"event=support_conference_end&lsid=a&timestamp=soon").unwrap_err().0.contains("timestamp")
        );
        assert!(parse_event(&[0xff, 0xfe]).is_err());
    }
}
