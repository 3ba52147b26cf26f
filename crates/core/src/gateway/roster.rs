//! Who a desk enrols at once: the departments and queues of its Autotask to pick from, and the
//! active resources of one, each with the BeyondTrust username they would enrol as — the local
//! part of their e-mail where its domain is the profile's `defaultDomain` (as a time entry finds
//! the rep by `<username>@<defaultDomain>`), otherwise none, for the admin to type.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::autotask::{self, AutotaskClient, Department, Filter, Query, Resource, ResourceRole, Ticket};
use crate::config::Profile;

/// Most resources one department or queue is taken with (Autotask's page).
const MOST: u32 = autotask::MAX_PAGE_SIZE;

/// A department or queue to enrol the resources of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    Department(i64),
    Queue(i64),
}

/// What there is to pick from, each by id and name.
#[derive(Debug, Default, Serialize)]
pub struct Groups {
    pub departments: Vec<(i64, String)>,
    pub queues: Vec<(i64, String)>,
}

/// A resource the admin may enrol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub resource_id: i64,
    pub name: String,
    pub email: String,
    /// The BeyondTrust username they would enrol as; none when their e-mail does not tell it.
    pub username: Option<String>,
}

/// The departments of the profile's Autotask and its ticket queues (the active ones).
pub async fn groups(autotask: &AutotaskClient) -> Result<Groups, autotask::Error> {
    let all = Query::all().include_fields(["id", "name"]).max_records(MOST);
    let (departments, fields) =
        futures::try_join!(autotask.query_page::<Department>(&all), autotask.fields::<Ticket>())?;
    let mut departments: Vec<(i64, String)> =
        departments.items.into_iter().filter_map(|d| Some((d.id?, d.name.unwrap_or_default()))).collect();
    departments.sort_by_key(|d| d.1.to_lowercase());
    let queues = fields
        .picklist("queueID")
        .map(|p| {
            let active = p.values.iter().filter(|v| v.is_active);
            active.filter_map(|v| Some((v.value.parse().ok()?, v.label.clone()))).collect()
        })
        .unwrap_or_default();
    Ok(Groups { departments, queues })
}

/// The active resources of a department or queue, by name.
pub async fn candidates(
    autotask: &AutotaskClient,
    profile: &Profile,
    group: Group,
) -> Result<Vec<Candidate>, autotask::Error> {
    let of = match group {
        Group::Department(id) => Filter::eq("departmentID", id),
        Group::Queue(id) => Filter::eq("queueID", id),
    };
    let roles = Query::new(Filter::all_of([of, Filter::eq("isActive", true)])).include_fields(["resourceID"]);
    let roles: Vec<ResourceRole> = autotask.query_all(roles.max_records(MOST)).await?;
    let ids: Vec<i64> = roles.iter().filter_map(|r| r.resource_id).collect::<BTreeSet<_>>().into_iter().collect();
    let mut found = Vec::new();
    for ids in ids.chunks(MOST as usize) {
        let people = Query::new(Filter::all_of([Filter::is_in("id", ids.to_vec()), Filter::eq("isActive", true)]))
            .include_fields(["id", "email", "firstName", "lastName", "isActive"])
            .max_records(MOST);
        let people: Vec<Resource> = autotask.query_all(people).await?;
        found.extend(people.into_iter().filter_map(|r| candidate(r, profile.time_entry_default_data.default_domain())));
    }
    found.sort_by_key(|c| c.name.to_lowercase());
    Ok(found)
}

fn candidate(resource: Resource, domain: Option<&str>) -> Option<Candidate> {
    let email = resource.email.filter(|e| e.contains('@'))?;
    let name = format!("{} {}", resource.first_name.unwrap_or_default(), resource.last_name.unwrap_or_default());
    Some(Candidate {
        resource_id: resource.id?,
        name: name.trim().to_owned(),
        username: username_of(&email, domain),
        email,
    })
}

/// The BeyondTrust username an e-mail tells: its local part, where its domain is the desk's.
pub fn username_of(email: &str, domain: Option<&str>) -> Option<String> {
    let (local, at) = email.trim().rsplit_once('@')?;
    let ours = domain.is_some_and(|d| d.trim().trim_start_matches('@').eq_ignore_ascii_case(at));
    (ours && !local.is_empty()).then(|| local.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_is_told_only_by_an_e_mail_of_the_desks_domain() {
        assert_eq!(username_of("sam.lee@example.com", Some("example.com")).as_deref(), Some("sam.lee"));
        assert_eq!(username_of("Sam.Lee@EXAMPLE.com", Some("example.com")).as_deref(), Some("Sam.Lee"));
        assert_eq!(username_of("sam.lee@contractor.net", Some("example.com")), None, "another domain: typed");
        assert_eq!(username_of("sam.lee@example.com", None), None, "no defaultDomain: typed");
        assert_eq!(username_of("@example.com", Some("example.com")), None);
    }
}
