//! A typed builder for Autotask queries: every filter operator of the API, nested `and`/`or`
//! groups, user-defined fields, `IncludeFields` and `MaxRecords`, serialised as the API wants.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

/// Most records Autotask returns in one page.
pub const MAX_PAGE_SIZE: u32 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::NotEq => "noteq",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::BeginsWith => "beginsWith",
            Op::EndsWith => "endsWith",
            Op::Contains => "contains",
            Op::Exist => "exist",
            Op::NotExist => "notExist",
            Op::In => "in",
            Op::NotIn => "notIn",
        }
    }
}

/// One filter condition, or a group of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Condition { op: Op, field: String, value: Option<Value>, udf: bool },
    And(Vec<Filter>),
    Or(Vec<Filter>),
}

macro_rules! comparisons {
    ($($name:ident => $op:ident),* $(,)?) => {
        $(
            #[doc = concat!("`", stringify!($name), "`: the field compared with `value`.")]
            pub fn $name(field: impl Into<String>, value: impl Into<Value>) -> Filter {
                Filter::Condition { op: Op::$op, field: field.into(), value: Some(value.into()), udf: false }
            }
        )*
    };
}

impl Filter {
    comparisons! {
        eq => Eq, noteq => NotEq, gt => Gt, gte => Gte, lt => Lt, lte => Lte,
        begins_with => BeginsWith, ends_with => EndsWith, contains => Contains,
    }

    /// The field has a value (is not null).
    pub fn exist(field: impl Into<String>) -> Filter {
        Filter::Condition { op: Op::Exist, field: field.into(), value: None, udf: false }
    }

    /// The field is null.
    pub fn not_exist(field: impl Into<String>) -> Filter {
        Filter::Condition { op: Op::NotExist, field: field.into(), value: None, udf: false }
    }

    /// The field equals one of `values`.
    pub fn is_in<V: Into<Value>>(field: impl Into<String>, values: impl IntoIterator<Item = V>) -> Filter {
        let list = Value::Array(values.into_iter().map(Into::into).collect());
        Filter::Condition { op: Op::In, field: field.into(), value: Some(list), udf: false }
    }

    /// The field equals none of `values`.
    pub fn not_in<V: Into<Value>>(field: impl Into<String>, values: impl IntoIterator<Item = V>) -> Filter {
        let list = Value::Array(values.into_iter().map(Into::into).collect());
        Filter::Condition { op: Op::NotIn, field: field.into(), value: Some(list), udf: false }
    }

    pub fn all_of(items: impl IntoIterator<Item = Filter>) -> Filter {
        Filter::And(items.into_iter().collect())
    }

    pub fn any_of(items: impl IntoIterator<Item = Filter>) -> Filter {
        Filter::Or(items.into_iter().collect())
    }

    /// Marks a condition as naming a user-defined field (`"udf": true`).
    pub fn udf(self) -> Filter {
        match self {
            Filter::Condition { op, field, value, .. } => Filter::Condition { op, field, value, udf: true },
            group => group,
        }
    }
}

impl Serialize for Filter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            Filter::Condition { op, field, value, udf } => {
                map.serialize_entry("op", op.as_str())?;
                map.serialize_entry("field", field)?;
                if let Some(value) = value {
                    map.serialize_entry("value", value)?;
                }
                if *udf {
                    map.serialize_entry("udf", &true)?;
                }
            }
            Filter::And(items) => {
                map.serialize_entry("op", "and")?;
                map.serialize_entry("items", items)?;
            }
            Filter::Or(items) => {
                map.serialize_entry("op", "or")?;
                map.serialize_entry("items", items)?;
            }
        }
        map.end()
    }
}

/// A query: the conditions (all must hold), which fields to return, and the page size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Query {
    #[serde(rename = "MaxRecords", skip_serializing_if = "Option::is_none")]
    max_records: Option<u32>,
    #[serde(rename = "IncludeFields", skip_serializing_if = "Vec::is_empty")]
    include_fields: Vec<String>,
    filter: Vec<Filter>,
}

impl Query {
    pub fn new(filter: Filter) -> Query {
        Query { max_records: None, include_fields: Vec::new(), filter: vec![filter] }
    }

    /// Every record: Autotask needs at least one condition, so this asks for `id >= 0`.
    pub fn all() -> Query {
        Query::new(Filter::gte("id", 0))
    }

    /// Adds a condition that must hold as well.
    pub fn and(mut self, filter: Filter) -> Query {
        self.filter.push(filter);
        self
    }

    /// Returns only these fields (and `id`), which makes pages much smaller.
    pub fn include_fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Query {
        self.include_fields = fields.into_iter().map(Into::into).collect();
        self
    }

    /// Records per page, 1 to 500; checked when the query is sent.
    pub fn max_records(mut self, n: u32) -> Query {
        self.max_records = Some(n);
        self
    }

    pub(crate) fn page_size_problem(&self) -> Option<String> {
        self.max_records
            .filter(|n| !(1..=MAX_PAGE_SIZE).contains(n))
            .map(|n| format!("MaxRecords must be from 1 to {MAX_PAGE_SIZE}, got {n}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_as_the_api_expects() {
        let q = Query::new(Filter::eq("ticketNumber", "T20261124.0042"))
            .and(Filter::any_of([Filter::is_in("status", [1, 8]), Filter::not_exist("completedDate")]))
            .and(Filter::eq("Device Name", "WS-0042").udf())
            .include_fields(["id", "title"])
            .max_records(50);
        assert_eq!(
            serde_json::to_value(&q).unwrap(),
            json!({
                "MaxRecords": 50,
                "IncludeFields": ["id", "title"],
                "filter": [
                    {"op": "eq", "field": "ticketNumber", "value": "T20261124.0042"},
                    {"op": "or", "items": [
                        {"op": "in", "field": "status", "value": [1, 8]},
                        {"op": "notExist", "field": "completedDate"}
                    ]},
                    {"op": "eq", "field": "Device Name", "value": "WS-0042", "udf": true}
                ]
            })
        );
    }

    #[test]
    fn page_size_is_checked() {
        assert!(Query::all().max_records(501).page_size_problem().is_some());
        assert!(Query::all().max_records(0).page_size_problem().is_some());
        assert!(Query::all().max_records(500).page_size_problem().is_none());
    }
}
