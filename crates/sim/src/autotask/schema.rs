//! The entities the stand-in serves, with their fields, lengths, picklists and rules,
//! as `shared/spec/autotask.md` describes them.

use serde_json::{Value, json};

/// What a field holds; strings carry their maximum length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Integer,
    Decimal,
    Boolean,
    DateTime,
    Text(usize),
}

#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub read_only: bool,
    pub picklist: Option<&'static [(i64, &'static str)]>,
    /// The entity an integer field points at; creates check that the record exists.
    pub reference: Option<&'static str>,
}

const fn field(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: false, read_only: false, picklist: None, reference: None }
}
const fn int(name: &'static str) -> Field {
    field(name, Kind::Integer)
}
const fn text(name: &'static str, max: usize) -> Field {
    field(name, Kind::Text(max))
}
const fn date(name: &'static str) -> Field {
    field(name, Kind::DateTime)
}
const fn boolean(name: &'static str) -> Field {
    field(name, Kind::Boolean)
}
const fn decimal(name: &'static str) -> Field {
    field(name, Kind::Decimal)
}

impl Field {
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }
    const fn picklist(mut self, values: &'static [(i64, &'static str)]) -> Self {
        self.picklist = Some(values);
        self
    }
    const fn refers_to(mut self, entity: &'static str) -> Self {
        self.reference = Some(entity);
        self
    }
}

#[derive(Debug)]
pub struct Entity {
    /// Canonical name as it appears in URLs (`Tickets`).
    pub name: &'static str,
    pub fields: &'static [Field],
    pub user_defined_fields: bool,
    pub can_create: bool,
    pub can_update: bool,
    /// For child entities: (parent entity, child path segment, field naming the parent).
    pub parent: Option<(&'static str, &'static str, &'static str)>,
}

impl Entity {
    /// Looks a field up the way Autotask does: without regard to case.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

pub const TICKET_STATUS: &[(i64, &str)] = &[
    (1, "New"),
    (5, "Complete"),
    (7, "Waiting Customer"),
    (8, "In Progress"),
    (9, "Waiting Materials"),
    (10, "Dispatched"),
    (12, "Waiting Vendor"),
    (13, "On Hold"),
];
pub const TICKET_PRIORITY: &[(i64, &str)] = &[(1, "High"), (2, "Medium"), (3, "Low"), (4, "Critical")];
pub const TICKET_QUEUE: &[(i64, &str)] = &[
    (5, "Client Portal"),
    (6, "Post Sale"),
    (8, "Level I Support"),
    (29682833, "Level II Support"),
    (29682969, "Monitoring Alert"),
];
pub const TICKET_ISSUE_TYPE: &[(i64, &str)] =
    &[(1, "Hardware"), (2, "Software"), (3, "Network"), (4, "Account Access"), (5, "VPN Access")];
pub const TICKET_SOURCE: &[(i64, &str)] =
    &[(-2, "Insourced"), (1, "Other"), (2, "Phone"), (4, "E-mail"), (6, "Client Portal"), (11, "Remote Support")];
pub const TICKET_TYPE: &[(i64, &str)] =
    &[(1, "Service Request"), (2, "Incident"), (3, "Problem"), (4, "Change Request"), (5, "Alert")];
pub const NOTE_TYPE: &[(i64, &str)] = &[
    (1, "Task Detail"),
    (2, "Task Notes"),
    (3, "Task Summary"),
    (13, "Internal Notes"),
    (18, "Remote Support Session"),
];
pub const NOTE_PUBLISH: &[(i64, &str)] =
    &[(1, "All Autotask Users"), (2, "Internal Project Team"), (4, "Internal & Co-Managed")];
pub const TIME_ENTRY_TYPE: &[(i64, &str)] = &[(2, "Ticket"), (6, "Task"), (7, "Regular")];
pub const COMPANY_TYPE: &[(i64, &str)] =
    &[(1, "Customer"), (2, "Lead"), (3, "Prospect"), (4, "Dead"), (5, "Cancellation"), (6, "Vendor"), (7, "Partner")];

const TICKET_FIELDS: &[Field] = &[
    int("id").read_only(),
    text("ticketNumber", 50).read_only(),
    text("title", 255).required(),
    text("description", 8000),
    int("status").required().picklist(TICKET_STATUS),
    int("priority").required().picklist(TICKET_PRIORITY),
    int("companyID").required().refers_to("Companies"),
    int("contactID").refers_to("Contacts"),
    int("configurationItemID").refers_to("ConfigurationItems"),
    int("assignedResourceID").refers_to("Resources"),
    int("assignedResourceRoleID").refers_to("Roles"),
    int("queueID").picklist(TICKET_QUEUE),
    date("dueDateTime").required(),
    date("createDate").read_only(),
    date("lastActivityDate").read_only(),
    date("completedDate").read_only(),
    int("creatorResourceID").read_only(),
    int("issueType").picklist(TICKET_ISSUE_TYPE),
    int("subIssueType"),
    int("source").picklist(TICKET_SOURCE),
    int("ticketType").picklist(TICKET_TYPE),
    int("billingCodeID").refers_to("BillingCodes"),
    decimal("estimatedHours"),
];

const TICKET_NOTE_FIELDS: &[Field] = &[
    int("id").read_only(),
    int("ticketID").required().refers_to("Tickets"),
    text("title", 250).required(),
    text("description", 32000).required(),
    int("noteType").required().picklist(NOTE_TYPE),
    int("publish").required().picklist(NOTE_PUBLISH),
    date("createDateTime").read_only(),
    date("lastActivityDate").read_only(),
    int("creatorResourceID").read_only(),
    int("impersonatorCreatorResourceID").read_only(),
];

const TIME_ENTRY_FIELDS: &[Field] = &[
    int("id").read_only(),
    int("ticketID").refers_to("Tickets"),
    int("resourceID").required().refers_to("Resources"),
    int("roleID").required().refers_to("Roles"),
    date("dateWorked").required(),
    date("startDateTime"),
    date("endDateTime"),
    decimal("hoursWorked").required(),
    decimal("hoursToBill"),
    text("summaryNotes", 8000),
    text("internalNotes", 8000),
    int("billingCodeID").refers_to("BillingCodes"),
    decimal("offsetHours"),
    boolean("isNonBillable"),
    int("timeEntryType").read_only().picklist(TIME_ENTRY_TYPE),
    date("createDateTime").read_only(),
    int("creatorUserID").read_only(),
    int("impersonatorCreatorResourceID").read_only(),
];

const RESOURCE_FIELDS: &[Field] = &[
    int("id").read_only(),
    text("email", 254),
    text("userName", 32),
    text("firstName", 50),
    text("lastName", 50),
    text("title", 50),
    boolean("isActive"),
];

/// BillingCodes' `useType`: 1 a work type (ticket labour), 3 internal (regular) time.
pub const BILLING_CODE_USE_TYPE: &[(i64, &str)] =
    &[(1, "Tickets (Labor)"), (2, "Expenses"), (3, "Regular (Internal) Time"), (4, "Material"), (5, "Services")];

const BILLING_CODE_FIELDS: &[Field] = &[
    int("id").read_only(),
    text("name", 200),
    text("description", 500),
    int("useType").read_only().picklist(BILLING_CODE_USE_TYPE),
    int("afterHoursWorkType").refers_to("BillingCodes"),
    boolean("isActive"),
];

const ROLE_FIELDS: &[Field] =
    &[int("id").read_only(), text("name", 200), text("description", 200), boolean("isActive")];

/// A resource's role in a department, or a service desk queue they work (ResourceRoles, query
/// only: what ResourceRoleDepartments and ResourceRoleQueues hold, in one list).
const RESOURCE_ROLE_FIELDS: &[Field] = &[
    int("id").read_only(),
    int("resourceID").refers_to("Resources"),
    int("roleID").refers_to("Roles"),
    int("departmentID").refers_to("Departments"),
    int("queueID").picklist(TICKET_QUEUE),
    boolean("isActive"),
];

const DEPARTMENT_FIELDS: &[Field] =
    &[int("id").read_only(), text("name", 100), text("description", 1000), text("number", 50)];

/// A resource's service desk roles, one of them its default (ResourceServiceDeskRoles; the
/// default's behaviour is unconfirmed).
const RESOURCE_SERVICE_DESK_ROLE_FIELDS: &[Field] = &[
    int("id").read_only(),
    int("resourceID").refers_to("Resources"),
    int("roleID").refers_to("Roles"),
    boolean("isDefault"),
    boolean("isActive"),
];

const CONTACT_FIELDS: &[Field] = &[
    int("id").read_only(),
    int("companyID").required().refers_to("Companies"),
    text("firstName", 50).required(),
    text("lastName", 50).required(),
    text("emailAddress", 254),
    text("phone", 25),
    boolean("isActive"),
    date("createDate").read_only(),
    date("lastActivityDate").read_only(),
];

const COMPANY_FIELDS: &[Field] = &[
    int("id").read_only(),
    text("companyName", 100).required(),
    int("companyType").picklist(COMPANY_TYPE),
    text("phone", 25),
    text("city", 30),
    boolean("isActive"),
    date("createDate").read_only(),
    date("lastActivityDate").read_only(),
];

const CONFIGURATION_ITEM_FIELDS: &[Field] = &[
    int("id").read_only(),
    int("companyID").required().refers_to("Companies"),
    text("referenceTitle", 200),
    text("referenceNumber", 50),
    text("serialNumber", 100),
    boolean("isActive"),
    date("createDate").read_only(),
    date("lastActivityDate").read_only(),
];

/// A ticket webhook (Autotask's `<EntityName>Webhooks`): where the stand-in posts a callout
/// when a ticket is made or changed, signed with its secret key.
const TICKET_WEBHOOK_FIELDS: &[Field] = &[
    int("id").read_only(),
    text("name", 50).required(),
    text("webhookUrl", 500).required(),
    text("deactivationUrl", 500).required(),
    text("secretKey", 64).required(),
    boolean("isActive"),
    boolean("isReady").read_only(),
    boolean("isSubscribedToCreateEvents"),
    boolean("isSubscribedToUpdateEvents"),
    boolean("isSubscribedToDeleteEvents"),
    text("notificationEmailAddress", 150),
    boolean("sendThresholdExceededNotification"),
    int("ownerResourceID").read_only(),
];

/// The ticket fields a webhook can name, by Autotask's internal field id: the `fieldID`
/// picklist of `TicketWebhookFields`. The ids are the stand-in's own; that the labels are the
/// REST field names is *unconfirmed* (integrators' code reads them so).
pub const TICKET_WEBHOOK_FIELD_IDS: &[(i64, &str)] = &[
    (1201, "ticketNumber"),
    (1202, "title"),
    (1203, "description"),
    (1204, "status"),
    (1205, "priority"),
    (1206, "companyID"),
    (1207, "contactID"),
    (1208, "configurationItemID"),
    (1209, "assignedResourceID"),
    (1210, "assignedResourceRoleID"),
    (1211, "queueID"),
    (1212, "dueDateTime"),
    (1213, "lastActivityDate"),
    (1214, "completedDate"),
    (1215, "issueType"),
    (1216, "subIssueType"),
    (1217, "source"),
    (1218, "ticketType"),
];

/// A ticket field a webhook names (`TicketWebhookFields`): a change to a subscribed one makes a
/// callout; a display-always one is in every callout's payload.
const WEBHOOK_FIELD_FIELDS: &[Field] = &[
    int("id").read_only(),
    int("webhookID").required().refers_to("TicketWebhooks"),
    int("fieldID").required().picklist(TICKET_WEBHOOK_FIELD_IDS),
    boolean("isSubscribedField"),
    boolean("isDisplayAlwaysField"),
];

pub const ENTITIES: &[Entity] = &[
    Entity {
        name: "TicketWebhooks",
        fields: TICKET_WEBHOOK_FIELDS,
        user_defined_fields: false,
        can_create: true,
        can_update: true,
        parent: None,
    },
    Entity {
        name: "TicketWebhookFields",
        fields: WEBHOOK_FIELD_FIELDS,
        user_defined_fields: false,
        can_create: true,
        can_update: true,
        parent: Some(("TicketWebhooks", "Fields", "webhookID")),
    },
    Entity {
        name: "Tickets",
        fields: TICKET_FIELDS,
        user_defined_fields: true,
        can_create: true,
        can_update: true,
        parent: None,
    },
    Entity {
        name: "TicketNotes",
        fields: TICKET_NOTE_FIELDS,
        user_defined_fields: false,
        can_create: true,
        can_update: true,
        parent: Some(("Tickets", "Notes", "ticketID")),
    },
    Entity {
        name: "TimeEntries",
        fields: TIME_ENTRY_FIELDS,
        user_defined_fields: false,
        can_create: true,
        can_update: true,
        parent: None,
    },
    Entity {
        name: "Resources",
        fields: RESOURCE_FIELDS,
        user_defined_fields: true,
        can_create: false,
        can_update: false,
        parent: None,
    },
    Entity {
        name: "BillingCodes",
        fields: BILLING_CODE_FIELDS,
        user_defined_fields: false,
        can_create: false,
        can_update: false,
        parent: None,
    },
    Entity {
        name: "Roles",
        fields: ROLE_FIELDS,
        user_defined_fields: false,
        can_create: false,
        can_update: false,
        parent: None,
    },
    Entity {
        name: "Departments",
        fields: DEPARTMENT_FIELDS,
        user_defined_fields: false,
        can_create: false,
        can_update: false,
        parent: None,
    },
    Entity {
        name: "ResourceRoles",
        fields: RESOURCE_ROLE_FIELDS,
        user_defined_fields: false,
        can_create: false,
        can_update: false,
        parent: None,
    },
    Entity {
        name: "ResourceServiceDeskRoles",
        fields: RESOURCE_SERVICE_DESK_ROLE_FIELDS,
        user_defined_fields: false,
        can_create: false,
        can_update: false,
        parent: None,
    },
    Entity {
        name: "Contacts",
        fields: CONTACT_FIELDS,
        user_defined_fields: true,
        can_create: true,
        can_update: true,
        parent: Some(("Companies", "Contacts", "companyID")),
    },
    Entity {
        name: "Companies",
        fields: COMPANY_FIELDS,
        user_defined_fields: true,
        can_create: true,
        can_update: true,
        parent: None,
    },
    Entity {
        name: "ConfigurationItems",
        fields: CONFIGURATION_ITEM_FIELDS,
        user_defined_fields: true,
        can_create: true,
        can_update: true,
        parent: None,
    },
];

/// Finds an entity by its URL name, ignoring case as the real service does.
pub fn entity(name: &str) -> Option<&'static Entity> {
    ENTITIES.iter().find(|e| e.name.eq_ignore_ascii_case(name))
}

/// Finds the child entity served at `<parent>/<id>/<child path>`.
pub fn child_entity(parent: &str, child: &str) -> Option<&'static Entity> {
    ENTITIES
        .iter()
        .find(|e| e.parent.is_some_and(|(p, c, _)| p.eq_ignore_ascii_case(parent) && c.eq_ignore_ascii_case(child)))
}

fn data_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Integer => "integer",
        Kind::Decimal => "decimal",
        Kind::Boolean => "boolean",
        Kind::DateTime => "datetime",
        Kind::Text(_) => "string",
    }
}

/// The `entityInformation/fields` document for an entity.
pub fn fields_document(entity: &Entity) -> Value {
    let fields: Vec<Value> = entity
        .fields
        .iter()
        .map(|f| {
            let picklist_values: Value = match f.picklist {
                Some(values) => values
                    .iter()
                    .enumerate()
                    .map(|(i, (value, label))| {
                        json!({
                            "value": value.to_string(),
                            "label": label,
                            "isDefaultValue": i == 0,
                            "sortOrder": i,
                            "parentValue": "",
                            "isActive": true,
                            "isSystem": true,
                        })
                    })
                    .collect(),
                None => Value::Null,
            };
            json!({
                "name": f.name,
                "dataType": data_type(f.kind),
                "length": match f.kind { Kind::Text(n) => n, _ => 0 },
                "isRequired": f.required,
                "isReadOnly": f.read_only,
                "isQueryable": true,
                "isReference": f.reference.is_some(),
                "referenceEntityType": f.reference.unwrap_or(""),
                "isPickList": f.picklist.is_some(),
                "picklistValues": picklist_values,
                "picklistParentValueField": "",
                "isSupportedWebhookField": entity.name == "Tickets"
                    && TICKET_WEBHOOK_FIELD_IDS.iter().any(|(_, name)| *name == f.name),
            })
        })
        .collect();
    json!({ "fields": fields })
}
