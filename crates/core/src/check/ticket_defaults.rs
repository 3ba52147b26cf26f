//! Ticket Default Data against Autotask's own rules, before a rep joins a session: every field
//! Autotask's tickets have, picklist values by label or number, numbers where numbers go, the
//! company, and an assignment whose resource holds its role.

use serde_json::{Map, Value};

use super::Report;
use super::autotask::settle;
use crate::autotask::{AutotaskClient, Company, EntityFields, Error, Filter, Query, ResourceRole, Role, Ticket};
use crate::config::Profile;

/// Settings of Ticket Default Data that the worker reads itself rather than sending as they are.
const OURS: &[&str] = &[
    "companyName",
    "assignedResourceRoleName",
    "workTypeName",
    "defaultContactID",
    "contactID",
    "title",
    "description",
];

pub(super) async fn check(client: &AutotaskClient, profile: &Profile, r: &mut Report<'_>) -> Result<(), Error> {
    let data = &profile.ticket_default_data;
    let Some(fields) = settle(r, client.fields::<Ticket>().await)? else { return Ok(()) };
    let failures = r.failures;
    let problems = field_problems(&fields, data);
    for problem in &problems {
        r.fail(format!("Ticket Default Data: {problem}"));
    }
    company(client, data, r).await?;
    assignment(client, data, r).await?;
    work_type(client, data, r).await?;
    if r.failures == failures {
        r.pass("Ticket Default Data: its fields, picklist values, company and assignment match Autotask");
    }
    Ok(())
}

fn get<'a>(data: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    data.iter().find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_null()).map(|(_, v)| v)
}

fn is_integer(field: &crate::autotask::FieldInfo) -> bool {
    let kind = field.data_type.as_deref().unwrap_or_default().to_ascii_lowercase();
    ["integer", "long", "short", "int", "byte"].contains(&kind.as_str())
}

/// What Autotask would refuse in the fields sent as they are.
fn field_problems(fields: &EntityFields, data: &Map<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, value) in data.iter().filter(|(k, v)| !v.is_null() && !OURS.iter().any(|o| o.eq_ignore_ascii_case(k))) {
        let Some(field) = fields.field(name) else {
            problems.push(format!("Autotask's tickets have no field {name}; remove it or correct its name"));
            continue;
        };
        match (fields.picklist(name), value) {
            (Some(list), Value::String(label)) if list.value_of(label).is_none() => problems.push(format!(
                "\"{label}\" is not a {name} in Autotask; use one of: {}",
                list.labels().collect::<Vec<_>>().join(", ")
            )),
            (Some(list), Value::Number(n)) if n.as_i64().and_then(|v| list.label_of(v)).is_none() => problems.push(
                format!("Picklist value [{n}] does not exist for {name}; use one of: {}", list.labels().collect::<Vec<_>>().join(", ")),
            ),
            (None, Value::String(text)) if is_integer(field) && text.trim().parse::<i64>().is_err() => problems.push(
                format!("{name} takes a number, not \"{text}\" (Autotask would answer \"Could not convert string to integer\")"),
            ),
            _ => {}
        }
    }
    problems
}

async fn company(client: &AutotaskClient, data: &Map<String, Value>, r: &mut Report<'_>) -> Result<(), Error> {
    let Some(name) = get(data, "companyName").and_then(Value::as_str) else { return Ok(()) };
    let query = Query::new(Filter::eq("companyName", name)).include_fields(["id"]).max_records(1);
    if let Some(page) = settle(r, client.query_page::<Company>(&query).await)?
        && page.items.is_empty()
    {
        r.fail(format!("Ticket Default Data: Autotask has no company named \"{name}\"; correct companyName"));
    }
    Ok(())
}

/// Autotask takes an assigned resource only with a role, and only a role the resource holds.
async fn assignment(client: &AutotaskClient, data: &Map<String, Value>, r: &mut Report<'_>) -> Result<(), Error> {
    let resource = get(data, "assignedResourceID").and_then(Value::as_i64);
    let role_name = get(data, "assignedResourceRoleName").and_then(Value::as_str);
    let mut role = get(data, "assignedResourceRoleID").and_then(Value::as_i64);
    if let (None, Some(name)) = (role, role_name) {
        let query = Query::new(Filter::eq("name", name)).include_fields(["id"]);
        let Some(found) = settle(r, client.query_all::<Role>(query).await)? else { return Ok(()) };
        role = found.into_iter().find_map(|role| role.id);
        if role.is_none() {
            r.fail(format!(
                "Ticket Default Data: Autotask has no role named \"{name}\"; correct assignedResourceRoleName"
            ));
            return Ok(());
        }
    }
    match (resource, role) {
        (None, None) => {}
        (None, Some(_)) if role_name.is_some() => {
            r.say("Ticket Default Data: created tickets are assigned to the session's rep in assignedResourceRoleName")
        }
        (Some(_), None) | (None, Some(_)) => r.fail(
            "Ticket Default Data: When assigning a Resource, you must assign both a assignedResourceID and assignedResourceRoleID — give assignedResourceID together with assignedResourceRoleName (or assignedResourceRoleID), or neither",
        ),
        (Some(resource), Some(role)) => {
            let pair = Query::new(Filter::eq("resourceID", resource))
                .and(Filter::eq("roleID", role))
                .and(Filter::eq("isActive", true))
                .include_fields(["id"]);
            if let Some(found) = settle(r, client.query_all::<ResourceRole>(pair).await)?
                && found.is_empty()
            {
                let role = role_name.map_or_else(|| role.to_string(), |n| format!("\"{n}\""));
                r.fail(format!(
                    "Ticket Default Data: resource {resource} does not hold the role {role}, so Autotask would refuse the ticket (\"combination is not currently defined\") — give the resource that role in Autotask, or assign a role it holds"
                ));
            }
        }
    }
    Ok(())
}

/// `workTypeName` names one of Autotask's active work types.
async fn work_type(client: &AutotaskClient, data: &Map<String, Value>, r: &mut Report<'_>) -> Result<(), Error> {
    let Some(name) = get(data, "workTypeName").and_then(Value::as_str) else { return Ok(()) };
    let Some(types) = settle(r, super::autotask::work_types(client).await)? else { return Ok(()) };
    if !types.iter().any(|(_, n)| n.eq_ignore_ascii_case(name)) {
        r.fail(format!(
            "Ticket Default Data: Autotask has no active work type named \"{name}\"; set workTypeName to one of: {}",
            types.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(())
}
