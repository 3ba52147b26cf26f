//! Plain serde models of the Autotask entities bt-autotask reads and writes. Every field is
//! optional (a query may include only some), and fields we do not model are kept in `extra`,
//! so a record read and written back loses nothing.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An Autotask entity with its URL name (`Tickets`).
pub trait Entity: DeserializeOwned + Serialize + Send + Sync + 'static {
    const NAME: &'static str;
}

/// An entity created under its parent: `POST <Parent>/<id>/<CHILD_PATH>`.
pub trait ChildEntity: Entity {
    const PARENT: &'static str;
    const CHILD_PATH: &'static str;
}

/// A user-defined field as the API carries it: `{"name": "Device Name", "value": "WS-0042"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDefinedField {
    pub name: String,
    #[serde(default)]
    pub value: Option<Value>,
}

/// The text of the user-defined field `name` (matched without regard to case), if set.
pub fn udf_text(fields: &[UserDefinedField], name: &str) -> Option<String> {
    let value = fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))?.value.as_ref()?;
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Null => return None,
        other => other.to_string(),
    };
    Some(text).filter(|t| !t.is_empty())
}

/// Dates: Autotask sends ISO 8601 in UTC, sometimes without the `Z`; both are read as UTC.
pub mod utc {
    use chrono::{DateTime, NaiveDateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn parse(text: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(text)
            .map(|d| d.with_timezone(&Utc))
            .ok()
            .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc()))
    }

    pub fn serialize<S: Serializer>(value: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_str(&d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) if text.is_empty() => Ok(None),
            Some(text) => parse(&text)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("'{text}' is not an ISO 8601 date"))),
        }
    }
}

macro_rules! entity {
    ($(#[$meta:meta])* $name:ident = $url:literal { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub id: Option<i64>,
            $($body)*
            /// Fields this model does not name, kept as received.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }
        impl Entity for $name {
            const NAME: &'static str = $url;
        }
    };
}

/// The ticket status Autotask uses for "Complete".
pub const TICKET_COMPLETE: i64 = 5;

entity! {
    /// A service ticket.
    Ticket = "Tickets" {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ticket_number: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub priority: Option<i64>,
        #[serde(rename = "companyID", default, skip_serializing_if = "Option::is_none")]
        pub company_id: Option<i64>,
        #[serde(rename = "contactID", default, skip_serializing_if = "Option::is_none")]
        pub contact_id: Option<i64>,
        #[serde(rename = "configurationItemID", default, skip_serializing_if = "Option::is_none")]
        pub configuration_item_id: Option<i64>,
        #[serde(rename = "assignedResourceID", default, skip_serializing_if = "Option::is_none")]
        pub assigned_resource_id: Option<i64>,
        #[serde(rename = "assignedResourceRoleID", default, skip_serializing_if = "Option::is_none")]
        pub assigned_resource_role_id: Option<i64>,
        #[serde(rename = "queueID", default, skip_serializing_if = "Option::is_none")]
        pub queue_id: Option<i64>,
        #[serde(with = "utc", default, skip_serializing_if = "Option::is_none")]
        pub due_date_time: Option<DateTime<Utc>>,
        #[serde(with = "utc", default, skip_serializing_if = "Option::is_none")]
        pub create_date: Option<DateTime<Utc>>,
        #[serde(with = "utc", default, skip_serializing_if = "Option::is_none")]
        pub last_activity_date: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub issue_type: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub sub_issue_type: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub source: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ticket_type: Option<i64>,
        #[serde(rename = "billingCodeID", default, skip_serializing_if = "Option::is_none")]
        pub billing_code_id: Option<i64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub user_defined_fields: Vec<UserDefinedField>,
    }
}

entity! {
    /// A note on a ticket; created under the ticket (`Tickets/<id>/Notes`).
    TicketNote = "TicketNotes" {
        #[serde(rename = "ticketID", default, skip_serializing_if = "Option::is_none")]
        pub ticket_id: Option<i64>,
        /// At most 250 characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub title: Option<String>,
        /// At most 32,000 characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub note_type: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub publish: Option<i64>,
        #[serde(with = "utc", default, skip_serializing_if = "Option::is_none")]
        pub create_date_time: Option<DateTime<Utc>>,
        #[serde(rename = "creatorResourceID", default, skip_serializing_if = "Option::is_none")]
        pub creator_resource_id: Option<i64>,
    }
}

impl ChildEntity for TicketNote {
    const PARENT: &'static str = "Tickets";
    const CHILD_PATH: &'static str = "Notes";
}

entity! {
    /// Time worked by a resource on a ticket.
    TimeEntry = "TimeEntries" {
        #[serde(rename = "ticketID", default, skip_serializing_if = "Option::is_none")]
        pub ticket_id: Option<i64>,
        #[serde(rename = "resourceID", default, skip_serializing_if = "Option::is_none")]
        pub resource_id: Option<i64>,
        #[serde(rename = "roleID", default, skip_serializing_if = "Option::is_none")]
        pub role_id: Option<i64>,
        #[serde(with = "utc", default, skip_serializing_if = "Option::is_none")]
        pub date_worked: Option<DateTime<Utc>>,
        #[serde(with = "utc", default, skip_serializing_if = "Option::is_none")]
        pub start_date_time: Option<DateTime<Utc>>,
        #[serde(with = "utc", default, skip_serializing_if = "Option::is_none")]
        pub end_date_time: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub hours_worked: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub hours_to_bill: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub summary_notes: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub internal_notes: Option<String>,
        #[serde(rename = "billingCodeID", default, skip_serializing_if = "Option::is_none")]
        pub billing_code_id: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub offset_hours: Option<f64>,
        #[serde(with = "flag", default, skip_serializing_if = "Option::is_none")]
        pub is_non_billable: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub time_entry_type: Option<i64>,
    }
}

entity! {
    /// A user of Autotask (a rep, the API user).
    Resource = "Resources" {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub email: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub user_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub first_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub last_name: Option<String>,
        #[serde(with = "flag", default, skip_serializing_if = "Option::is_none")]
        pub is_active: Option<bool>,
    }
}

entity! {
    /// A department of the organisation's own resources.
    Department = "Departments" {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
    }
}

entity! {
    /// A role a resource works in (time entries need one).
    Role = "Roles" {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(with = "flag", default, skip_serializing_if = "Option::is_none")]
        pub is_active: Option<bool>,
    }
}

entity! {
    /// A billing code; those of `use_type` 1 are work types (ticket labour).
    BillingCode = "BillingCodes" {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub use_type: Option<i64>,
        #[serde(with = "flag", default, skip_serializing_if = "Option::is_none")]
        pub is_active: Option<bool>,
    }
}

/// BillingCodes' `useType` of a work type.
pub const WORK_TYPE: i64 = 1;

entity! {
    /// Which resource holds which role in which department, or works which service desk queue
    /// (query only; Autotask answers only the active ones).
    ResourceRole = "ResourceRoles" {
        #[serde(rename = "resourceID", default, skip_serializing_if = "Option::is_none")]
        pub resource_id: Option<i64>,
        #[serde(rename = "roleID", default, skip_serializing_if = "Option::is_none")]
        pub role_id: Option<i64>,
        #[serde(rename = "departmentID", default, skip_serializing_if = "Option::is_none")]
        pub department_id: Option<i64>,
        #[serde(rename = "queueID", default, skip_serializing_if = "Option::is_none")]
        pub queue_id: Option<i64>,
        #[serde(with = "flag", default, skip_serializing_if = "Option::is_none")]
        pub is_active: Option<bool>,
    }
}

entity! {
    /// A resource's service desk role; one of a resource's is its default (`isDefault`).
    ResourceServiceDeskRole = "ResourceServiceDeskRoles" {
        #[serde(rename = "resourceID", default, skip_serializing_if = "Option::is_none")]
        pub resource_id: Option<i64>,
        #[serde(rename = "roleID", default, skip_serializing_if = "Option::is_none")]
        pub role_id: Option<i64>,
        #[serde(with = "flag", default, skip_serializing_if = "Option::is_none")]
        pub is_default: Option<bool>,
        #[serde(with = "flag", default, skip_serializing_if = "Option::is_none")]
        pub is_active: Option<bool>,
    }
}

entity! {
    /// A person at a customer company.
    Contact = "Contacts" {
        #[serde(rename = "companyID", default, skip_serializing_if = "Option::is_none")]
        pub company_id: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub first_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub last_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub email_address: Option<String>,
        #[serde(with = "flag", default, skip_serializing_if = "Option::is_none")]
        pub is_active: Option<bool>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub user_defined_fields: Vec<UserDefinedField>,
    }
}

entity! {
    /// A customer company.
    Company = "Companies" {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub company_name: Option<String>,
        #[serde(with = "flag", default, skip_serializing_if = "Option::is_none")]
        pub is_active: Option<bool>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub user_defined_fields: Vec<UserDefinedField>,
    }
}

entity! {
    /// A device or other asset at a customer; the seed's Jump reads its "Device Name" UDF.
    ConfigurationItem = "ConfigurationItems" {
        #[serde(rename = "companyID", default, skip_serializing_if = "Option::is_none")]
        pub company_id: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reference_title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reference_number: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub serial_number: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub user_defined_fields: Vec<UserDefinedField>,
    }
}

impl ConfigurationItem {
    /// The name to Jump to: the "Device Name" UDF, else the reference title.
    pub fn device_name(&self) -> Option<String> {
        udf_text(&self.user_defined_fields, "Device Name")
            .or_else(|| self.reference_title.clone().filter(|t| !t.trim().is_empty()))
    }
}

/// Flags: some entities send `isActive` as true/false, others as 1/0; both are read.
pub mod flag {
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(value: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(b) => s.serialize_bool(*b),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => Ok(Some(n.as_i64() == Some(1))),
            Some(other) => Err(serde::de::Error::custom(format!("{other} is not a flag"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let input = json!({
            "id": 7, "ticketNumber": "T20261124.0042", "title": "x", "companyID": 174,
            "dueDateTime": "2026-11-24T14:03:00Z", "someNewField": {"a": 1}, "userDefinedFields": []
        });
        let t: Ticket = serde_json::from_value(input).unwrap();
        assert_eq!(t.company_id, Some(174));
        assert_eq!(t.extra.get("someNewField"), Some(&json!({"a": 1})));
        let back = serde_json::to_value(&t).unwrap();
        assert_eq!(back["someNewField"], json!({"a": 1}));
        assert_eq!(back["companyID"], json!(174));
        assert_eq!(back["dueDateTime"], json!("2026-11-24T14:03:00.000Z"));
    }

    #[test]
    fn dates_without_zone_are_utc() {
        let t: Ticket = serde_json::from_value(json!({"createDate": "2026-11-24T14:03:00.25"})).unwrap();
        assert_eq!(t.create_date.unwrap().to_rfc3339(), "2026-11-24T14:03:00.250+00:00");
        assert!(serde_json::from_value::<Ticket>(json!({"createDate": "yesterday"})).is_err());
    }

    #[test]
    fn flags_read_as_bool_or_number() {
        let c: Contact = serde_json::from_value(json!({"isActive": 1})).unwrap();
        assert_eq!(c.is_active, Some(true));
        let r: Resource = serde_json::from_value(json!({"isActive": false})).unwrap();
        assert_eq!(r.is_active, Some(false));
    }

    #[test]
    fn device_name_prefers_the_udf() {
        let ci: ConfigurationItem = serde_json::from_value(json!({
            "referenceTitle": "Dell Latitude", "userDefinedFields": [{"name": "device name", "value": "WS-0042"}]
        }))
        .unwrap();
        assert_eq!(ci.device_name().as_deref(), Some("WS-0042"));
        let bare: ConfigurationItem = serde_json::from_value(json!({"referenceTitle": "Dell Latitude"})).unwrap();
        assert_eq!(bare.device_name().as_deref(), Some("Dell Latitude"));
    }
}
