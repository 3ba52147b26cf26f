//! Field information from `entityInformation/fields`: which fields are picklists and their
//! values, so settings can name a note type or status by its label. And `entityInformation`:
//! what the API user's security level lets it do with an entity.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldInfo {
    pub name: String,
    #[serde(default)]
    pub data_type: Option<String>,
    #[serde(default)]
    pub length: Option<u32>,
    #[serde(default)]
    pub is_required: bool,
    #[serde(default)]
    pub is_read_only: bool,
    #[serde(default)]
    pub is_pick_list: bool,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub picklist_values: Vec<PicklistValue>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PicklistValue {
    /// Autotask sends picklist values as strings ("1"); numbers are accepted too.
    #[serde(deserialize_with = "text_or_number")]
    pub value: String,
    pub label: String,
    #[serde(default = "yes")]
    pub is_active: bool,
}

fn yes() -> bool {
    true
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PicklistValue>, D::Error> {
    Ok(Option::<Vec<PicklistValue>>::deserialize(d)?.unwrap_or_default())
}

fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("picklist value {other} is neither text nor a number"))),
    }
}

/// All fields of one entity.
#[derive(Debug, Clone, Deserialize)]
pub struct EntityFields {
    pub fields: Vec<FieldInfo>,
}

impl EntityFields {
    pub fn field(&self, name: &str) -> Option<&FieldInfo> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The picklist of `field`, if it is one.
    pub fn picklist(&self, field: &str) -> Option<Picklist<'_>> {
        self.field(field).filter(|f| f.is_pick_list).map(|f| Picklist { values: &f.picklist_values })
    }
}

/// A picklist's values, looked up either way.
#[derive(Debug, Clone, Copy)]
pub struct Picklist<'a> {
    pub values: &'a [PicklistValue],
}

impl Picklist<'_> {
    /// The value of an active entry whose label matches (ignoring case and surrounding space).
    pub fn value_of(&self, label: &str) -> Option<i64> {
        let label = label.trim();
        self.values
            .iter()
            .filter(|v| v.is_active)
            .find(|v| v.label.trim().eq_ignore_ascii_case(label))?
            .value
            .parse()
            .ok()
    }

    /// The label of a value.
    pub fn label_of(&self, value: i64) -> Option<&str> {
        let text = value.to_string();
        self.values.iter().find(|v| v.value == text).map(|v| v.label.as_str())
    }

    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.values.iter().filter(|v| v.is_active).map(|v| v.label.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_and_values_both_ways() {
        let fields: EntityFields = serde_json::from_value(json!({"fields": [
            {"name": "noteType", "isPickList": true, "picklistValues": [
                {"value": "1", "label": "Task Detail", "isActive": true},
                {"value": 18, "label": "Remote Support Session", "isActive": true},
                {"value": "99", "label": "Retired", "isActive": false}
            ]},
            {"name": "title", "isPickList": false, "picklistValues": null}
        ]}))
        .unwrap();
        let p = fields.picklist("NoteType").unwrap();
        assert_eq!(p.value_of(" remote support session "), Some(18));
        assert_eq!(p.label_of(1), Some("Task Detail"));
        assert_eq!(p.value_of("Retired"), None);
        assert!(fields.picklist("title").is_none());
    }
}

/// `entityInformation`: what the API user's security level lets it do with an entity.
#[derive(Debug, Clone, Deserialize)]
pub struct EntityInformation {
    pub info: EntityAccess,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityAccess {
    #[serde(default)]
    pub can_create: bool,
    /// 0 none, 1 all, 2 restricted (to conditions of the security level); absent when not said.
    #[serde(default)]
    pub user_access_for_create: Option<u8>,
}
