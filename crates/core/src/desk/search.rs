//! The tray app's own search, when it asks Autotask itself: who the rep is, then the finding
//! every search shares ([`crate::ticket_search`]).

use super::error::DeskError;
use crate::autotask::{AutotaskClient, Filter, Query, Resource};
use crate::desk_api::TicketRow;
use crate::ticket_search::{Lookups, find};

/// The rep's own Autotask resource, by e-mail.
pub async fn my_resource_id(autotask: &AutotaskClient, email: &str) -> Result<i64, DeskError> {
    let query = Query::new(Filter::eq("email", email)).include_fields(["id"]).max_records(1);
    let page = autotask.query_page::<Resource>(&query).await?;
    page.items.into_iter().find_map(|r| r.id).ok_or_else(|| DeskError::UnknownRep(email.to_owned()))
}

/// Finds tickets; `me` is the rep's resource id (needed for "my open tickets").
pub async fn search(autotask: &AutotaskClient, text: &str, me: Option<i64>) -> Result<Vec<TicketRow>, DeskError> {
    Ok(find(autotask, text, me, &[], &Lookups::default()).await?)
}
