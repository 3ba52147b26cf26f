//! Autotask PSA: a typed REST client for ATServicesRest v1.0 (`shared/spec/autotask.md`).
//!
//! ```no_run
//! # async fn example() -> Result<(), bta_core::autotask::Error> {
//! use bta_core::autotask::{AutotaskClient, AutotaskSettings, Filter, Query, Ticket};
//! let settings = AutotaskSettings::new("api@example.com", "secret".into(), "CODE".into());
//! let client = AutotaskClient::new(settings)?;
//! let open: Vec<Ticket> = client.query_all(Query::new(Filter::noteq("status", 5))).await?;
//! # Ok(()) }
//! ```

mod client;
mod error;
mod limiter;
mod models;
mod picklist;
mod query;
mod settings;

pub use client::{AutotaskClient, Page, PageDetails, ThresholdInformation, Zone, ticket_number_url, ticket_url};
pub use error::{Error, ErrorKind, Operation};
pub use limiter::{Pressure, Usage};
pub use models::{
    BillingCode, ChildEntity, Company, ConfigurationItem, Contact, Department, Entity, Resource, ResourceRole,
    ResourceServiceDeskRole, Role, TICKET_COMPLETE, Ticket, TicketNote, TimeEntry, UserDefinedField, WORK_TYPE,
    udf_text,
};
pub use picklist::{EntityAccess, EntityFields, EntityInformation, FieldInfo, Picklist, PicklistValue};
pub use query::{Filter, MAX_PAGE_SIZE, Op, Query};
pub use settings::{AutotaskSettings, DEFAULT_DISCOVERY_URL, Limits, services_root, web_root_for};
