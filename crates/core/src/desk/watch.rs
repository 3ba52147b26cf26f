//! The app's own watch of the rep's open tickets, for a profile without the desk's worker.

use std::collections::HashMap;

use super::error::DeskError;
use crate::autotask::{self, AutotaskClient, Filter, Query, Ticket};

/// Watches the rep's open tickets for changes made in Autotask, with one query per look.
#[derive(Debug, Default)]
pub struct TicketWatch {
    seen: Option<HashMap<i64, Option<chrono::DateTime<chrono::Utc>>>>,
    looks: u64,
}

/// A ticket of mine that changed since the last look.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketChange {
    pub id: i64,
    pub number: String,
    pub title: String,
}

impl TicketWatch {
    /// Looks once: the first look only remembers; later ones return what changed or newly
    /// appeared. Notifications never take the requests a desk's other integrations need: past
    /// half of Autotask's hourly threshold only every other look asks, past three-quarters none.
    pub async fn check(&mut self, autotask: &AutotaskClient, me: i64) -> Result<Vec<TicketChange>, DeskError> {
        self.looks += 1;
        match autotask.pressure() {
            autotask::Pressure::Normal => {}
            autotask::Pressure::AboveHalf if self.looks % 2 == 1 => {}
            _ => return Ok(Vec::new()),
        }
        let query = Query::new(Filter::eq("assignedResourceID", me))
            .and(Filter::noteq("status", crate::autotask::TICKET_COMPLETE))
            .include_fields(["ticketNumber", "title", "lastActivityDate"]);
        let tickets: Vec<Ticket> = autotask.query_all(query).await?;
        let now: HashMap<i64, Option<chrono::DateTime<chrono::Utc>>> =
            tickets.iter().filter_map(|t| Some((t.id?, t.last_activity_date))).collect();
        let changes = match &self.seen {
            None => Vec::new(),
            Some(before) => tickets
                .iter()
                .filter(|t| t.id.is_some_and(|id| before.get(&id) != Some(&t.last_activity_date)))
                .filter_map(|t| {
                    Some(TicketChange {
                        id: t.id?,
                        number: t.ticket_number.clone().unwrap_or_default(),
                        title: t.title.clone().unwrap_or_default(),
                    })
                })
                .collect(),
        };
        self.seen = Some(now);
        Ok(changes)
    }
}
