//! The stand-in's records: one table per entity, kept in memory, with the validation rules
//! the real service applies on create and update.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::filter::{Condition, parse_datetime};
use super::schema::{ENTITIES, Entity, Field, Kind, entity};
use super::system::{self, SystemSettings, Timesheets};

/// A write failed validation; each message says what was wrong.
pub type Rejection = Vec<String>;

#[derive(Debug, Default)]
pub struct Store {
    tables: HashMap<&'static str, BTreeMap<i64, Map<String, Value>>>,
    next_id: HashMap<&'static str, i64>,
    /// The desk's system settings that time entries and tickets meet.
    pub system: SystemSettings,
    pub timesheets: Timesheets,
    /// The last webhook callout's sequence number.
    pub callout_sequence: u64,
    /// How each webhook's deliveries went, by webhook id.
    pub deliveries: BTreeMap<i64, Deliveries>,
}

/// One webhook's deliveries: failed attempts in a row (Autotask turns the webhook off at
/// [`SystemSettings::webhook_failures_to_deactivate`]), and counts for the tests.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deliveries {
    pub consecutive_failures: u32,
    pub delivered: u32,
    pub deactivations: u32,
}

/// Who writes, and when: creates record these in read-only fields.
#[derive(Debug, Clone, Copy)]
pub struct WriteContext {
    pub resource_id: i64,
    /// The API user's resource when `resource_id` is a resource it impersonates.
    pub impersonator: Option<i64>,
    pub now: DateTime<Utc>,
}

pub fn format_datetime(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Store {
    pub fn table(&self, entity: &Entity) -> impl Iterator<Item = &Map<String, Value>> {
        self.tables.get(entity.name).into_iter().flat_map(|t| t.values())
    }

    pub fn get(&self, entity: &Entity, id: i64) -> Option<&Map<String, Value>> {
        self.tables.get(entity.name)?.get(&id)
    }

    pub fn get_mut(&mut self, entity: &Entity, id: i64) -> Option<&mut Map<String, Value>> {
        self.tables.get_mut(entity.name)?.get_mut(&id)
    }

    fn exists(&self, entity_name: &str, id: i64) -> bool {
        entity(entity_name).is_some_and(|e| self.get(e, id).is_some())
    }

    /// Inserts a record as given (demo data, bulk loads): only fills in missing fields and the id.
    pub fn insert_raw(&mut self, entity: &'static Entity, mut record: Map<String, Value>) -> i64 {
        let id = match record.get("id").and_then(Value::as_i64) {
            Some(id) => id,
            None => self.allocate_id(entity),
        };
        let next = self.next_id.entry(entity.name).or_insert(1);
        *next = (*next).max(id + 1);
        record.insert("id".to_owned(), json!(id));
        let full = complete(entity, record);
        self.tables.entry(entity.name).or_default().insert(id, full);
        id
    }

    fn allocate_id(&mut self, entity: &Entity) -> i64 {
        let next = self.next_id.entry(entity.name).or_insert(1);
        let id = *next;
        *next += 1;
        id
    }

    /// Every record matching the condition with an id above `after` (all when `None`), in id order.
    pub fn select<'a>(
        &'a self,
        entity: &Entity,
        condition: &'a Condition,
        after: Option<i64>,
    ) -> impl Iterator<Item = &'a Map<String, Value>> + 'a {
        let start = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        self.tables
            .get(entity.name)
            .into_iter()
            .flat_map(move |t| t.range((start, std::ops::Bound::Unbounded)).map(|(_, r)| r))
            .filter(move |r| condition.matches(r))
    }

    pub fn create(&mut self, entity: &'static Entity, body: &Value, ctx: WriteContext) -> Result<i64, Rejection> {
        let mut record = self.validate(entity, body, Mode::Create)?;
        self.apply_create_rules(entity, &mut record, ctx)?;
        let id = self.allocate_id(entity);
        record.insert("id".to_owned(), json!(id));
        let parent_ticket = record.get("ticketID").and_then(Value::as_i64);
        self.tables.entry(entity.name).or_default().insert(id, complete(entity, record));
        if let Some(ticket) = parent_ticket {
            self.touch_ticket(ticket, ctx.now);
        }
        Ok(id)
    }

    pub fn update(&mut self, entity: &'static Entity, body: &Value, ctx: WriteContext) -> Result<i64, Rejection> {
        let id = body
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("id")))
            .and_then(|(_, v)| v.as_i64())
            .ok_or_else(|| vec!["An update must name the record's 'id'.".to_owned()])?;
        if self.get(entity, id).is_none() {
            return Err(vec![format!("No {} with id {id} exists.", entity.name)]);
        }
        let mut changes = self.validate(entity, body, Mode::Update)?;
        // A workflow rule that keeps a ticket's status: the update answers 200 all the same.
        if entity.name == "Tickets" && self.system.workflow_keeps_status_of.contains(&id) {
            changes.remove("status");
        }
        if entity.name == "Tickets" {
            let mut merged = self.get(entity, id).cloned().unwrap_or_default();
            merged.extend(changes.clone());
            if changes.keys().any(|k| k.starts_with("assignedResource")) {
                self.check_assignment(&merged)?;
            }
            self.check_ticket_work_type(&merged)?;
        }
        let table = self.tables.entry(entity.name).or_default();
        if let Some(record) = table.get_mut(&id) {
            for (k, v) in changes {
                record.insert(k, v);
            }
            if record.contains_key("lastActivityDate") {
                record.insert("lastActivityDate".to_owned(), json!(format_datetime(ctx.now)));
            }
        }
        Ok(id)
    }

    fn touch_ticket(&mut self, ticket: i64, now: DateTime<Utc>) {
        if let Some(t) = self.tables.get_mut("Tickets").and_then(|t| t.get_mut(&ticket)) {
            t.insert("lastActivityDate".to_owned(), json!(format_datetime(now)));
        }
    }

    /// Checks a create or update body field by field; returns it with canonical field names.
    fn validate(&self, entity: &Entity, body: &Value, mode: Mode) -> Result<Map<String, Value>, Rejection> {
        let Some(object) = body.as_object() else {
            return Err(vec![format!("The request body must be a JSON object describing one {}.", entity.name)]);
        };
        let mut errors = Vec::new();
        let mut record = Map::new();
        let mut rejected = Vec::new();
        for (name, value) in object {
            if name.eq_ignore_ascii_case("userDefinedFields") && entity.user_defined_fields {
                match check_udfs(value) {
                    Ok(v) => {
                        record.insert("userDefinedFields".to_owned(), v);
                    }
                    Err(e) => errors.push(e),
                }
                continue;
            }
            let Some(field) = entity.field(name) else {
                errors.push(format!("Unable to find {name} in the {} Entity.", entity.name));
                continue;
            };
            if field.name == "id" {
                if mode == Mode::Create && value.as_i64().is_some_and(|id| id != 0) {
                    errors.push("The 'id' of a new record must be 0 or absent.".to_owned());
                }
                continue;
            }
            if field.read_only {
                continue; // the real service ignores read-only fields on writes
            }
            match self.check_value(field, value) {
                Ok(v) => {
                    record.insert(field.name.to_owned(), v);
                }
                Err(e) => {
                    errors.push(e);
                    rejected.push(field.name);
                }
            }
        }
        for field in entity.fields.iter().filter(|f| f.required && !rejected.contains(&f.name)) {
            let missing = record.get(field.name).is_none_or(Value::is_null);
            let named = record.contains_key(field.name);
            if (mode == Mode::Create && missing) || (mode == Mode::Update && named && missing) {
                errors.push(missing_required(entity, field));
            }
        }
        if errors.is_empty() { Ok(record) } else { Err(errors) }
    }

    fn check_value(&self, field: &Field, value: &Value) -> Result<Value, String> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let name = field.name;
        let checked = match field.kind {
            // Autotask reads bodies with Json.NET, whose words these are.
            Kind::Integer => match value {
                Value::String(text) => {
                    return Err(format!("Could not convert string to integer: {text}. Path '{name}'."));
                }
                _ => value
                    .as_i64()
                    .map(Value::from)
                    .ok_or_else(|| format!("Could not convert {value} to integer. Path '{name}'."))?,
            },
            Kind::Decimal => {
                value.as_f64().map(Value::from).ok_or_else(|| format!("{name} must be a number, got {value}."))?
            }
            Kind::Boolean => match value {
                Value::Bool(b) => Value::Bool(*b),
                Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                    Value::Bool(n.as_i64() == Some(1))
                }
                _ => return Err(format!("{name} must be true or false, got {value}.")),
            },
            Kind::DateTime => {
                let text = value.as_str().ok_or_else(|| format!("{name} must be an ISO 8601 date, got {value}."))?;
                let parsed =
                    parse_datetime(text).ok_or_else(|| format!("{name} must be an ISO 8601 date, got '{text}'."))?;
                Value::String(format_datetime(parsed))
            }
            Kind::Text(max) => {
                let text = value.as_str().ok_or_else(|| format!("{name} must be a string, got {value}."))?;
                let length = text.chars().count();
                if length > max {
                    return Err(format!("{name} is {length} characters long; the maximum is {max}."));
                }
                Value::String(text.to_owned())
            }
        };
        if let (Some(list), Some(v)) = (field.picklist, checked.as_i64())
            && !list.iter().any(|(value, _)| *value == v)
        {
            return Err(format!("Picklist value [{v}] does not exist for {name}"));
        }
        if let (Some(target), Some(id)) = (field.reference, checked.as_i64())
            && !self.exists(target, id)
        {
            return Err(if target == "Roles" {
                "Role does not exist or is invalid".to_owned()
            } else {
                format!("Value does not reference an existing entity for {name}.")
            });
        }
        Ok(checked)
    }

    fn apply_create_rules(
        &self,
        entity: &Entity,
        record: &mut Map<String, Value>,
        ctx: WriteContext,
    ) -> Result<(), Rejection> {
        let now = json!(format_datetime(ctx.now));
        let has = |r: &Map<String, Value>, k: &str| r.get(k).is_some_and(|v| !v.is_null());
        match entity.name {
            "Tickets" => {
                self.check_assignment(record)?;
                self.check_ticket_work_type(record)?;
                if !has(record, "queueID") && !has(record, "assignedResourceID") {
                    return Err(vec![
                        "A ticket needs a queueID, or an assignedResourceID together with an assignedResourceRoleID."
                            .to_owned(),
                    ]);
                }
                record.insert("ticketNumber".to_owned(), json!(self.next_ticket_number(ctx.now)));
                record.insert("createDate".to_owned(), now.clone());
                record.insert("lastActivityDate".to_owned(), now);
                record.insert("creatorResourceID".to_owned(), json!(ctx.resource_id));
            }
            "TicketNotes" => {
                record.insert("createDateTime".to_owned(), now.clone());
                record.insert("lastActivityDate".to_owned(), now);
                record.insert("creatorResourceID".to_owned(), json!(ctx.resource_id));
                record.insert("impersonatorCreatorResourceID".to_owned(), json!(ctx.impersonator));
            }
            "TimeEntries" => {
                self.check_time_entry(record, ctx)?;
                record.insert("timeEntryType".to_owned(), json!(2));
                record.insert("createDateTime".to_owned(), now);
                record.insert("creatorUserID".to_owned(), json!(ctx.resource_id));
                record.insert("impersonatorCreatorResourceID".to_owned(), json!(ctx.impersonator));
            }
            "TicketWebhooks" => {
                record.insert("isReady".to_owned(), json!(true));
                record.insert("ownerResourceID".to_owned(), json!(ctx.resource_id));
            }
            _ => {
                if entity.field("createDate").is_some() {
                    record.insert("createDate".to_owned(), now.clone());
                    record.insert("lastActivityDate".to_owned(), now);
                }
            }
        }
        Ok(())
    }

    /// A ticket assigned to a resource needs a role the resource holds (on create and update).
    fn check_assignment(&self, record: &Map<String, Value>) -> Result<(), Rejection> {
        let id = |k: &str| record.get(k).and_then(Value::as_i64);
        match (id("assignedResourceID"), id("assignedResourceRoleID")) {
            (None, None) => Ok(()),
            (Some(resource), Some(role)) if self.holds_role(resource, role) => Ok(()),
            (Some(_), Some(_)) => Err(vec![PAIR_NOT_DEFINED.to_owned()]),
            _ => Err(vec![
                "When assigning a Resource, you must assign both a assignedResourceID and assignedResourceRoleID."
                    .to_owned(),
            ]),
        }
    }

    /// A ticket's work type: a BillingCode of useType 1, and required where the desk says so.
    fn check_ticket_work_type(&self, record: &Map<String, Value>) -> Result<(), Rejection> {
        match record.get("billingCodeID").and_then(Value::as_i64) {
            None if self.system.require_work_type => Err(vec![system::TICKET_WORK_TYPE_REQUIRED.to_owned()]),
            Some(code) if self.work_type(code).is_none() => Err(vec![NOT_A_WORK_TYPE.to_owned()]),
            _ => Ok(()),
        }
    }

    /// The active work type (BillingCodes useType 1) with this id.
    fn work_type(&self, id: i64) -> Option<system::WorkType> {
        let code = entity("BillingCodes").and_then(|e| self.get(e, id))?;
        let work_type =
            code.get("useType").and_then(Value::as_i64) == Some(1) && code.get("isActive") != Some(&Value::Bool(false));
        let after_hours = code.get("afterHoursWorkType").is_some_and(|v| !v.is_null());
        work_type.then_some(system::WorkType { after_hours })
    }

    fn check_time_entry(&self, record: &Map<String, Value>, ctx: WriteContext) -> Result<(), Rejection> {
        let mut errors = Vec::new();
        if record.get("ticketID").is_none_or(Value::is_null) {
            errors.push("ticketID is required: this service records time against tickets.".to_owned());
        }
        if record.get("summaryNotes").and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
            errors.push("TimeEntry.summaryNotes can not be blank.".to_owned());
        }
        let hours = record.get("hoursWorked").and_then(Value::as_f64).unwrap_or(0.0);
        if !(hours > 0.0 && hours <= 24.0) {
            errors.push("hoursWorked greater than 24 hours or less than zero hours".to_owned());
        }
        let start = record.get("startDateTime").and_then(Value::as_str).and_then(parse_datetime);
        let end = record.get("endDateTime").and_then(Value::as_str).and_then(parse_datetime);
        if let (Some(s), Some(e)) = (start, end)
            && e <= s
        {
            errors.push("endDateTime must be after startDateTime.".to_owned());
        }
        let resource = record.get("resourceID").and_then(Value::as_i64);
        let role = record.get("roleID").and_then(Value::as_i64);
        if let (Some(resource), Some(role)) = (resource, role) {
            if let Some(r) = entity("Resources").and_then(|e| self.get(e, resource))
                && r.get("isActive") == Some(&Value::Bool(false))
            {
                errors.push(format!("Resource {resource} is inactive and cannot record time."));
            }
            if !self.holds_role(resource, role) {
                errors.push(PAIR_NOT_DEFINED.to_owned());
            }
        }
        let code = record.get("billingCodeID").and_then(Value::as_i64);
        let work_type = code.and_then(|c| self.work_type(c));
        if code.is_some() && work_type.is_none() {
            errors.push(NOT_A_WORK_TYPE.to_owned());
        }
        if let Some(resource_id) = resource {
            let date = |k: &str| record.get(k).and_then(Value::as_str).and_then(parse_datetime);
            let entry = system::Entry { resource_id, start, end, date_worked: date("dateWorked"), work_type };
            errors.extend(self.system.refusals(&entry, ctx.resource_id, &self.timesheets));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn holds_role(&self, resource: i64, role: i64) -> bool {
        entity("ResourceRoles").is_some_and(|e| {
            self.table(e).any(|r| {
                r.get("resourceID").and_then(Value::as_i64) == Some(resource)
                    && r.get("roleID").and_then(Value::as_i64) == Some(role)
                    && r.get("isActive") != Some(&Value::Bool(false))
            })
        })
    }

    /// `T<yyyymmdd>.<nnnn>`, numbered per day of creation.
    fn next_ticket_number(&self, now: DateTime<Utc>) -> String {
        let prefix = format!("T{}.", now.format("%Y%m%d"));
        let today = ENTITIES
            .iter()
            .find(|e| e.name == "Tickets")
            .map(|e| {
                self.table(e)
                    .filter(|t| t.get("ticketNumber").and_then(Value::as_str).is_some_and(|n| n.starts_with(&prefix)))
                    .count()
            })
            .unwrap_or(0);
        format!("{prefix}{:04}", today + 1)
    }

    /// Everything, as `{"Tickets": [...], ...}`.
    pub fn dump(&self) -> Value {
        let mut out = Map::new();
        for e in ENTITIES {
            out.insert(e.name.to_owned(), Value::Array(self.table(e).cloned().map(Value::Object).collect()));
        }
        Value::Object(out)
    }
}

/// A billingCodeID on a ticket or its time that is no active work type (ours; unconfirmed).
const NOT_A_WORK_TYPE: &str = "billingCodeID must reference an active Work Type (a BillingCode with useType 1).";

/// Autotask's answer to a resource and role that are not a pair in ResourceRoles.
const PAIR_NOT_DEFINED: &str =
    "The specified AssignedResourceID and AssignedRoleID combination is not currently defined";

/// Autotask's words for a required field left out: its general form, and the rules it words its own way.
fn missing_required(entity: &Entity, field: &Field) -> String {
    match (entity.name, field.name) {
        ("TimeEntries", "roleID") => "TimeEntries for Tickets must have a roleID".to_owned(),
        ("TimeEntries", "hoursWorked") => {
            "Must have at least one of hoursWorked or startDateTime/endDateTime".to_owned()
        }
        (_, name) => format!("Value does not exist for the required field {name}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Create,
    Update,
}

fn check_udfs(value: &Value) -> Result<Value, String> {
    let list = value.as_array().ok_or("userDefinedFields must be an array of {name, value}.")?;
    for udf in list {
        if udf.get("name").and_then(Value::as_str).is_none() {
            return Err(format!("Each user-defined field needs a 'name'; got {udf}."));
        }
    }
    Ok(value.clone())
}

/// Fills every field of the entity (null where unset), in schema order, as the service returns them.
fn complete(entity: &Entity, mut record: Map<String, Value>) -> Map<String, Value> {
    let mut full = Map::new();
    for f in entity.fields {
        full.insert(f.name.to_owned(), record.remove(f.name).unwrap_or(Value::Null));
    }
    if entity.user_defined_fields {
        full.insert("userDefinedFields".to_owned(), record.remove("userDefinedFields").unwrap_or_else(|| json!([])));
    }
    full
}
