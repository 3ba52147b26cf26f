//! Reads typed values out of a TOML table while collecting every problem, so a configuration
//! with five mistakes reports five, each with its place and what to do.

use toml::{Table, Value};

/// A table being read, with where it is (`profile 'Production'`) and which keys were used.
pub struct Section<'a> {
    table: &'a Table,
    place: String,
    used: Vec<&'static str>,
    problems: &'a mut Vec<String>,
}

impl<'a> Section<'a> {
    pub fn new(table: &'a Table, place: impl Into<String>, problems: &'a mut Vec<String>) -> Section<'a> {
        Section { table, place: place.into(), used: Vec::new(), problems }
    }

    pub fn problem(&mut self, key: &str, message: impl std::fmt::Display) {
        self.problems.push(format!("{}, key '{key}': {message}", self.place));
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.push(key);
        self.table.get(key)
    }

    /// Whether the key is present at all (and marks it as known).
    pub fn has(&mut self, key: &'static str) -> bool {
        self.get(key).is_some()
    }

    pub fn string(&mut self, key: &'static str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::String(_) => {
                self.problem(key, "is empty; give a value or remove the key");
                None
            }
            other => {
                self.problem(key, format!("must be text in quotes, not {}", other.type_str()));
                None
            }
        }
    }

    pub fn required_string(&mut self, key: &'static str, what: &str) -> String {
        let present = self.table.contains_key(key);
        match self.string(key) {
            Some(s) => s,
            None => {
                if !present {
                    self.problem(key, format!("is missing; give {what}"));
                }
                String::new()
            }
        }
    }

    pub fn bool(&mut self, key: &'static str, default: bool) -> bool {
        match self.get(key) {
            None => default,
            Some(Value::Boolean(b)) => *b,
            Some(other) => {
                self.problem(key, format!("must be true or false, not {}", other.type_str()));
                default
            }
        }
    }

    pub fn integer(&mut self, key: &'static str, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
        match self.get(key)? {
            Value::Integer(n) if range.contains(n) => Some(*n),
            Value::Integer(n) => {
                self.problem(key, format!("is {n}; it must be from {} to {}", range.start(), range.end()));
                None
            }
            other => {
                self.problem(key, format!("must be a whole number, not {}", other.type_str()));
                None
            }
        }
    }

    /// A whole or fractional number within `range`.
    pub fn number(&mut self, key: &'static str, range: std::ops::RangeInclusive<f64>) -> Option<f64> {
        let n = match self.get(key)? {
            Value::Integer(n) => *n as f64,
            Value::Float(f) => *f,
            other => {
                self.problem(key, format!("must be a number, not {}", other.type_str()));
                return None;
            }
        };
        if range.contains(&n) {
            Some(n)
        } else {
            self.problem(key, format!("is {n}; it must be from {} to {}", range.start(), range.end()));
            None
        }
    }

    pub fn strings(&mut self, key: &'static str) -> Option<Vec<String>> {
        match self.get(key)? {
            Value::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    match item.as_str() {
                        Some(s) => out.push(s.trim().to_owned()),
                        None => self.problem(key, format!("must list text values, found {}", item.type_str())),
                    }
                }
                Some(out)
            }
            other => {
                self.problem(key, format!("must be a list like [\"a\", \"b\"], not {}", other.type_str()));
                None
            }
        }
    }

    /// A table, or a JSON object written as a string (as the seed's plugin shows it).
    pub fn object(&mut self, key: &'static str) -> Option<serde_json::Map<String, serde_json::Value>> {
        let value = self.get(key)?;
        let json = match value {
            Value::String(text) => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v) => v,
                Err(e) => {
                    self.problem(key, format!("is not valid JSON ({e}); write it as a TOML table or a JSON object"));
                    return None;
                }
            },
            other => match serde_json::to_value(other) {
                Ok(v) => v,
                Err(e) => {
                    self.problem(key, format!("cannot be read ({e})"));
                    return None;
                }
            },
        };
        match json {
            serde_json::Value::Object(map) => Some(map),
            other => {
                self.problem(key, format!("must be an object of fields, not {other}"));
                None
            }
        }
    }

    /// Reports every key of the table that was never asked for.
    pub fn finish(self, known_hint: &str) {
        for key in self.table.keys() {
            if !self.used.contains(&key.as_str()) {
                self.problems.push(format!(
                    "{}, key '{key}': is not a known setting; check the spelling ({known_hint})",
                    self.place
                ));
            }
        }
    }
}
