//! Query filters as the spec describes them: the leaf operators, `and`/`or` groups and
//! user-defined fields, parsed from JSON and evaluated against stored records.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::schema::{Entity, Field, Kind};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    NotEq,
    Gt,
    Gte,
    Lt,
    Lte,
    BeginsWith,
    EndsWith,
    Contains,
    Exist,
    NotExist,
    In,
    NotIn,
}

impl Op {
    fn parse(name: &str) -> Option<Op> {
        let op = match name.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "noteq" => Op::NotEq,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "beginswith" => Op::BeginsWith,
            "endswith" => Op::EndsWith,
            "contains" => Op::Contains,
            "exist" => Op::Exist,
            "notexist" => Op::NotExist,
            "in" => Op::In,
            "notin" => Op::NotIn,
            _ => return None,
        };
        Some(op)
    }
}

#[derive(Debug)]
pub enum Target {
    Field(&'static Field),
    Udf(String),
}

/// A parsed filter, ready to test records with.
#[derive(Debug)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Leaf { target: Target, op: Op, value: Value },
}

/// Parses the `filter` array of a query; every problem found is reported.
pub fn parse(entity: &Entity, filter: &Value) -> Result<Condition, Vec<String>> {
    let mut errors = Vec::new();
    let condition = match filter {
        Value::Array(items) if !items.is_empty() => {
            Condition::All(items.iter().filter_map(|i| parse_item(entity, i, &mut errors)).collect())
        }
        Value::Array(_) | Value::Null => {
            errors.push("A query must contain at least one filter condition.".to_owned());
            Condition::All(Vec::new())
        }
        _ => {
            errors.push("'filter' must be an array of filter conditions.".to_owned());
            Condition::All(Vec::new())
        }
    };
    if errors.is_empty() { Ok(condition) } else { Err(errors) }
}

fn key<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn parse_item(entity: &Entity, item: &Value, errors: &mut Vec<String>) -> Option<Condition> {
    let Some(object) = item.as_object() else {
        errors.push(format!("A filter condition must be an object, got {item}."));
        return None;
    };
    let Some(op_name) = key(object, "op").and_then(Value::as_str) else {
        errors.push(format!("Filter condition {item} has no 'op'."));
        return None;
    };
    if op_name.eq_ignore_ascii_case("and") || op_name.eq_ignore_ascii_case("or") {
        let Some(items) = key(object, "items").and_then(Value::as_array).filter(|i| !i.is_empty()) else {
            errors.push(format!("The '{op_name}' group needs a non-empty 'items' array."));
            return None;
        };
        let children = items.iter().filter_map(|i| parse_item(entity, i, errors)).collect();
        return Some(if op_name.eq_ignore_ascii_case("and") {
            Condition::All(children)
        } else {
            Condition::Any(children)
        });
    }
    let Some(op) = Op::parse(op_name) else {
        errors.push(format!("Unknown filter operator '{op_name}'."));
        return None;
    };
    let Some(field_name) = key(object, "field").and_then(Value::as_str) else {
        errors.push(format!("Filter condition {item} has no 'field'."));
        return None;
    };
    let is_udf = key(object, "udf").is_some_and(|u| u.as_bool() == Some(true));
    let target = if is_udf {
        if !entity.user_defined_fields {
            errors.push(format!("{} has no user-defined fields.", entity.name));
            return None;
        }
        Target::Udf(field_name.to_owned())
    } else {
        match entity.field(field_name) {
            Some(field) => Target::Field(field),
            None => {
                errors.push(format!("Unable to find {field_name} in the {} Entity.", entity.name));
                return None;
            }
        }
    };
    let value = key(object, "value").cloned().unwrap_or(Value::Null);
    match op {
        Op::Exist | Op::NotExist => {}
        Op::In | Op::NotIn if !value.is_array() => {
            errors.push(format!("Operator '{op_name}' on {field_name} needs an array value."));
            return None;
        }
        Op::In | Op::NotIn => {}
        _ if value.is_null() || value.is_array() || value.is_object() => {
            errors.push(format!("Operator '{op_name}' on {field_name} needs a single value."));
            return None;
        }
        Op::BeginsWith | Op::EndsWith | Op::Contains => {
            if let Target::Field(f) = target
                && !matches!(f.kind, Kind::Text(_))
            {
                errors.push(format!("Operator '{op_name}' works on text fields; {field_name} is not one."));
                return None;
            }
        }
        _ => {}
    }
    Some(Condition::Leaf { target, op, value })
}

impl Condition {
    /// Whether a stored record satisfies the condition.
    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        match self {
            Condition::All(items) => items.iter().all(|c| c.matches(record)),
            Condition::Any(items) => items.iter().any(|c| c.matches(record)),
            Condition::Leaf { target, op, value } => {
                let (actual, kind) = match target {
                    Target::Field(f) => (record.get(f.name).unwrap_or(&Value::Null), f.kind),
                    Target::Udf(name) => (udf_value(record, name), Kind::Text(usize::MAX)),
                };
                leaf_matches(actual, kind, *op, value)
            }
        }
    }
}

fn udf_value<'a>(record: &'a Map<String, Value>, name: &str) -> &'a Value {
    record
        .get("userDefinedFields")
        .and_then(Value::as_array)
        .and_then(|udfs| {
            udfs.iter().find(|u| u.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name)))
        })
        .and_then(|u| u.get("value"))
        .unwrap_or(&Value::Null)
}

fn is_empty(value: &Value) -> bool {
    value.is_null() || value.as_str().is_some_and(str::is_empty)
}

fn leaf_matches(actual: &Value, kind: Kind, op: Op, wanted: &Value) -> bool {
    match op {
        Op::Exist => !is_empty(actual),
        Op::NotExist => is_empty(actual),
        Op::In => wanted.as_array().is_some_and(|list| list.iter().any(|w| compare(actual, kind, w) == Some(0))),
        Op::NotIn => wanted.as_array().is_some_and(|list| list.iter().all(|w| compare(actual, kind, w) != Some(0))),
        Op::NotEq => compare(actual, kind, wanted) != Some(0),
        Op::Eq => compare(actual, kind, wanted) == Some(0),
        Op::Gt => compare(actual, kind, wanted).is_some_and(|c| c > 0),
        Op::Gte => compare(actual, kind, wanted).is_some_and(|c| c >= 0),
        Op::Lt => compare(actual, kind, wanted).is_some_and(|c| c < 0),
        Op::Lte => compare(actual, kind, wanted).is_some_and(|c| c <= 0),
        Op::BeginsWith | Op::EndsWith | Op::Contains => {
            let (Some(a), Some(w)) = (text_of(actual), text_of(wanted)) else {
                return false;
            };
            let (a, w) = (a.to_lowercase(), w.to_lowercase());
            match op {
                Op::BeginsWith => a.starts_with(&w),
                Op::EndsWith => a.ends_with(&w),
                _ => a.contains(&w),
            }
        }
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// Parses the date forms Autotask accepts: RFC 3339, or a bare date-time taken as UTC.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
        .map(|n| n.and_utc())
}

/// Orders two values by the field's kind; `None` when they cannot be compared (a null, a mismatch).
fn compare(actual: &Value, kind: Kind, wanted: &Value) -> Option<i8> {
    if actual.is_null() || wanted.is_null() {
        return None;
    }
    let ordering = match kind {
        Kind::Integer | Kind::Decimal | Kind::Boolean => number_of(actual)?.partial_cmp(&number_of(wanted)?)?,
        Kind::DateTime => parse_datetime(actual.as_str()?)?.cmp(&parse_datetime(wanted.as_str()?)?),
        Kind::Text(_) => text_of(actual)?.to_lowercase().cmp(&text_of(wanted)?.to_lowercase()),
    };
    Some(ordering as i8)
}
