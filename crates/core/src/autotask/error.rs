//! The one error type of the Autotask client: which operation on which entity failed, the HTTP
//! status, Autotask's own `errors` messages, and a message that says what to do about it.

use std::fmt;

/// What the client was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ZoneDiscovery,
    Get,
    Query,
    Count,
    Create,
    Update,
    FieldInformation,
    EntityInformation,
    ThresholdInformation,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::ZoneDiscovery => "discover the zone for",
            Operation::Get => "get",
            Operation::Query => "query",
            Operation::Count => "count",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::FieldInformation => "read the fields of",
            Operation::EntityInformation => "read what the API user may do with",
            Operation::ThresholdInformation => "read the request threshold of",
        })
    }
}

/// The class of failure, which decides the advice and whether a caller may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The settings are wrong before any request is made.
    Settings,
    /// 401: username, secret or integration code rejected.
    Credentials,
    /// 403: the API user's security level forbids this.
    Permission,
    /// 404 or an absent record.
    NotFound,
    /// A broken rule — 500 with an `errors` body, 400 and other 4xx: Autotask refused the
    /// content and wrote nothing; its messages say why. Sending it again cannot help.
    Rejected,
    /// 429 still after the allowed retries: the hourly request threshold is used up.
    ThresholdExceeded,
    /// 5xx still after the allowed retries.
    Server,
    /// The request did not complete (connection refused, reset, timed out).
    Network,
    /// A write failed in a way that leaves unknown whether Autotask carried it out.
    Ambiguous,
    /// Autotask answered something we could not read.
    UnexpectedResponse,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub operation: Operation,
    pub entity: String,
    pub status: Option<u16>,
    /// Autotask's own `errors` messages, verbatim.
    pub messages: Vec<String>,
    pub kind: ErrorKind,
    /// Extra detail from our side (a network error, a decoding problem), never a secret.
    pub detail: Option<String>,
}

impl Error {
    pub fn new(operation: Operation, entity: impl Into<String>, kind: ErrorKind) -> Error {
        Error { operation, entity: entity.into(), status: None, messages: Vec::new(), kind, detail: None }
    }

    /// Autotask refused a write made as an impersonated resource: its security level does not
    /// "Allow impersonation of resources with this security level", or it is API-only. The help
    /// and public clients give the words: HTTP 500, "…does not have the adequate permissions to
    /// create this entity type." (The API user's own lack of the right reads the same; a caller
    /// tells them apart by writing once without impersonation.)
    pub fn is_impersonation_refused(&self) -> bool {
        self.kind == ErrorKind::Rejected
            && self.messages.iter().any(|m| m.to_lowercase().contains("adequate permissions"))
    }

    pub fn settings(message: impl Into<String>) -> Error {
        Error::new(Operation::ZoneDiscovery, "", ErrorKind::Settings).with_detail(message)
    }

    pub fn with_status(mut self, status: u16) -> Error {
        self.status = Some(status);
        self
    }

    pub fn with_messages(mut self, messages: Vec<String>) -> Error {
        self.messages = messages;
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    /// Whether trying the same call later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::ThresholdExceeded | ErrorKind::Server | ErrorKind::Network)
    }

    /// Autotask's reasons, the status and what to do, without the operation — for callers that
    /// say themselves what was being written ("Autotask refused the time entry for …: <reason>").
    pub fn reason(&self) -> String {
        let status = self.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
        let mut said: Vec<&str> = self.messages.iter().map(String::as_str).collect();
        said.extend(self.detail.as_deref());
        format!("{}{status} — {}", said.join("; "), self.advice())
    }

    fn what_happened(&self) -> String {
        let status = self.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
        let mut said: Vec<&str> = self.messages.iter().map(String::as_str).collect();
        said.extend(self.detail.as_deref());
        let said = if said.is_empty() { String::new() } else { format!(": {}", said.join("; ")) };
        let what = match self.kind {
            ErrorKind::Settings => "Autotask settings are not usable",
            ErrorKind::Credentials => "Autotask rejected the API user",
            ErrorKind::Permission => "Autotask refused access",
            ErrorKind::NotFound => "Autotask has no such record",
            ErrorKind::Rejected => "Autotask rejected the request",
            ErrorKind::ThresholdExceeded => "Autotask's hourly request threshold is used up",
            ErrorKind::Server => "Autotask had a server error",
            ErrorKind::Network => "Autotask could not be reached",
            ErrorKind::Ambiguous => "the answer was lost, so it is unknown whether Autotask carried it out",
            ErrorKind::UnexpectedResponse => "Autotask answered something unexpected",
        };
        format!("{what}{status}{said}")
    }

    fn advice(&self) -> &'static str {
        if self.kind == ErrorKind::Rejected
            && let Some(advice) = rule_advice(&self.messages)
        {
            return advice;
        }
        match self.kind {
            ErrorKind::Settings => "correct the Autotask settings",
            ErrorKind::Credentials => {
                "check Settings › Autotask: API username, secret and API integration code (tracking identifier)"
            }
            ErrorKind::Permission => {
                "give the API user's security level access to this entity in Autotask (Admin › Resources)"
            }
            ErrorKind::NotFound => "check the id or number, and that the API user can see the record",
            ErrorKind::Rejected => "correct the data named in Autotask's message",
            ErrorKind::ThresholdExceeded => {
                "Autotask allows 10,000 requests per hour for all integrations together; it resumes when the hour rolls"
            }
            ErrorKind::Server => "Autotask may be having an outage; try again later",
            ErrorKind::Network => "check the network connection and the Autotask Services URL",
            ErrorKind::Ambiguous => "check in Autotask whether it was written before writing it again",
            ErrorKind::UnexpectedResponse => {
                "check that the Services URL points at Autotask's REST API (ATServicesRest)"
            }
        }
    }
}

/// What to fix for the rule violations integrations meet most, recognised by Autotask's wording.
fn rule_advice(messages: &[String]) -> Option<&'static str> {
    let said = messages.join(" ").to_ascii_lowercase();
    let has = |words: &str| said.contains(words);
    if has("adequate permissions") {
        // Reported against the live service: a create the security level forbids answers 500.
        Some("give the API user's security level (and an impersonated resource's) the right to add this entity")
    } else if has("integrationcode is invalid") {
        Some("check Settings › Autotask: the API integration code (tracking identifier)")
    } else if has("combination is not currently defined")
        || has("must have a roleid")
        || has("role does not exist")
        || has("must assign both a assignedresourceid and assignedresourceroleid")
    {
        Some(
            "the resource must hold the role: give it that role in Autotask (Admin › Resources › the resource › \
             Roles), or name a role it holds",
        )
    } else if has("could not convert string to integer") || has("picklist value") {
        Some("picklist fields take their numeric value, not the label (`bt-autotask-worker check` lists them)")
    } else if has("summarynotes can not be blank") {
        Some("give summaryNotes a text in Time Entry Default Data")
    } else {
        None
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == ErrorKind::Settings {
            return write!(f, "{} — {}", self.what_happened(), self.advice());
        }
        write!(f, "Could not {} {}: {} — {}", self.operation, self.entity, self.what_happened(), self.advice())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_operation_entity_status_messages_and_advice() {
        let e = Error::new(Operation::Create, "TicketNotes", ErrorKind::Rejected)
            .with_status(400)
            .with_messages(vec!["title is required for TicketNotes.".into()]);
        let text = e.to_string();
        assert!(text.starts_with("Could not create TicketNotes"), "{text}");
        assert!(text.contains("HTTP 400"), "{text}");
        assert!(text.contains("title is required for TicketNotes."), "{text}");
        assert!(text.contains("correct the data"), "{text}");
    }

    #[test]
    fn known_rule_violations_say_what_to_fix() {
        let e = Error::new(Operation::Create, "TimeEntries", ErrorKind::Rejected).with_status(500).with_messages(vec![
            "The specified AssignedResourceID and AssignedRoleID combination is not currently defined".into(),
        ]);
        let text = e.to_string();
        assert!(text.contains("HTTP 500"), "{text}");
        assert!(text.contains("combination is not currently defined"), "{text}");
        assert!(text.contains("give it that role in Autotask"), "{text}");
        assert!(!e.is_transient());
        assert!(e.reason().starts_with("The specified AssignedResourceID"), "{}", e.reason());
        assert!(e.reason().contains("(HTTP 500) — the resource must hold the role"), "{}", e.reason());
        let label = Error::new(Operation::Create, "Tickets", ErrorKind::Rejected)
            .with_messages(vec!["Could not convert string to integer: High. Path 'priority'.".into()]);
        assert!(label.to_string().contains("numeric value, not the label"), "{label}");
        let forbidden = Error::new(Operation::Create, "TimeEntries", ErrorKind::Rejected).with_messages(vec![
            "The logged in Resource does not have the adequate permissions to create this entity type.".into(),
        ]);
        assert!(forbidden.to_string().contains("security level"), "{forbidden}");
    }

    #[test]
    fn credentials_point_at_the_settings() {
        let e = Error::new(Operation::Query, "Tickets", ErrorKind::Credentials).with_status(401);
        assert!(e.to_string().contains("Settings › Autotask"), "{e}");
        assert!(!e.is_transient());
    }
}
