//! Demo data: a small MSP's Autotask database with companies, contacts, reps, roles,
//! configuration items and open tickets, the same on every start.

use chrono::{Duration, TimeZone, Utc};
use serde_json::{Map, Value, json};

use super::schema::entity;
use super::store::{Store, format_datetime};
use crate::people::{DEMO_REPS, EMAIL_DOMAIN};

/// The API user's own resource; notes the API writes are created by it.
pub const API_RESOURCE_ID: i64 = 29682885;
pub const SAMPLE_ROLE_ID: i64 = 29683461;
const TECHNICIAN_ROLE_ID: i64 = 29683462;
const ENGINEER_ROLE_ID: i64 = 29683463;
/// The demo's work types (BillingCodes useType 1): remote work has an after-hours work type.
pub const REMOTE_SUPPORT_WORK_TYPE: i64 = 29682801;
const BILLING_CODES: &[(i64, &str, i64, Option<i64>, bool)] = &[
    (REMOTE_SUPPORT_WORK_TYPE, "Remote Support", 1, Some(29682803), true),
    (29682802, "Onsite", 1, None, true),
    (29682803, "Remote Support - After Hours", 1, None, true),
    (29682804, "Project Work", 1, None, true),
    (29682805, "Legacy Remote (retired)", 1, None, false),
    (29682811, "Internal Meeting", 3, None, true),
    (29682812, "Training", 3, None, true),
];

/// First demo rep's resource id; the others follow in `DEMO_REPS` order.
pub const FIRST_REP_RESOURCE_ID: i64 = 29684001;
/// The demo reps' department.
pub const SERVICE_DESK_DEPARTMENT_ID: i64 = 29683101;
/// The queue the demo reps work.
pub const LEVEL_ONE_QUEUE_ID: i64 = 8;

const COMPANIES: &[(i64, &str, &str, &str)] = &[
    (0, "Northwind IT Services", "northwind-it.example", "Seattle"),
    (174, "Contoso Ltd", "contoso.example", "Redmond"),
    (175, "Dynamo Corporation", "dynamo.example", "Chicago"),
    (176, "Fabrikam Inc", "fabrikam.example", "Austin"),
    (177, "Tailspin Toys", "tailspin.example", "Denver"),
    (178, "Woodgrove Bank", "woodgrove.example", "Boston"),
];

const CONTACT_NAMES: &[(&str, &str)] = &[
    ("Dana", "Whitfield"),
    ("Miguel", "Ortega"),
    ("Aisha", "Bello"),
    ("Tom", "Fischer"),
    ("Mei", "Tanaka"),
    ("Oliver", "Grant"),
    ("Sofia", "Rossi"),
    ("Ben", "Carter"),
    ("Hana", "Kovac"),
    ("Ravi", "Menon"),
    ("Lena", "Hoffmann"),
    ("Sam", "Okafor"),
];

const DEVICES: &[(&str, &str, &str)] = &[
    ("Dell Latitude 7440 - Front Desk", "WS-0042", "7H2KQ84"),
    ("HP EliteBook 840 G10 - Accounting", "WS-0107", "5CG3381LX2"),
    ("Lenovo ThinkCentre M90q - Warehouse", "WS-0215", "MJ0G7T21"),
    ("Dell OptiPlex 7010 - Reception", "WS-0031", "3RTP9Q3"),
    ("Windows Server 2022 - File Server", "SRV-FS01", "CZ2031ABCD"),
    ("MacBook Pro 14 - Design", "MAC-0008", "C02FK1Q5MD6R"),
    ("Surface Laptop 5 - Sales", "WS-0122", "0F3K7T9B"),
    ("Dell PowerEdge R650 - Hyper-V Host", "SRV-HV02", "9XK2Q73"),
];

const TITLES: &[&str] = &[
    "Outlook keeps asking for password",
    "VPN disconnects every 10 minutes",
    "Printer on 2nd floor shows offline",
    "New starter laptop setup - Accounting",
    "Cannot open shared drive S:",
    "Teams camera not detected",
    "Slow computer after Windows update",
    "Reset MFA for user",
    "QuickBooks crashes on startup",
    "Scanner to e-mail not working",
    "Install Adobe Acrobat Pro",
    "Wi-Fi drops in conference room",
    "Excel add-in missing after upgrade",
    "Blue screen on boot",
    "Request access to HR folder",
    "Backup job failed on file server",
    "Phone app will not sign in",
    "Monitor flickering on docking station",
    "Password expired, cannot log in remotely",
    "Browser redirects to unknown search page",
    "Set up mailbox forwarding",
    "Remote desktop to server refused",
    "Label printer prints blank labels",
    "Calendar invites not syncing on phone",
];

fn record(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn insert(store: &mut Store, entity_name: &str, value: Value) -> i64 {
    match entity(entity_name) {
        Some(e) => store.insert_raw(e, record(value)),
        None => 0,
    }
}

/// Loads the demo database; `api_username` becomes the API user's resource e-mail.
pub fn load(store: &mut Store, api_username: &str) {
    let created = |day: u32, hour: u32| Utc.with_ymd_and_hms(2026, 11, day, hour, 12, 0).single().unwrap_or_default();
    for (id, name, _, city) in COMPANIES {
        insert(
            store,
            "Companies",
            json!({"id": id, "companyName": name, "companyType": if *id == 0 { 7 } else { 1 },
                   "city": city, "phone": "555-0100", "isActive": true,
                   "createDate": format_datetime(created(2, 9)), "lastActivityDate": format_datetime(created(20, 9))}),
        );
    }
    let mut contacts = Vec::new();
    for (i, (first, last)) in CONTACT_NAMES.iter().enumerate() {
        let (company, _, domain, _) = COMPANIES[1 + i % (COMPANIES.len() - 1)];
        let email = format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase());
        let id = insert(
            store,
            "Contacts",
            json!({"id": 30684001 + i as i64, "companyID": company, "firstName": first, "lastName": last,
                   "emailAddress": email, "phone": format!("555-01{:02}", i), "isActive": true,
                   "createDate": format_datetime(created(3, 10))}),
        );
        contacts.push((id, company));
    }
    load_people(store, api_username);
    for (id, name, use_type, after_hours, active) in BILLING_CODES {
        insert(
            store,
            "BillingCodes",
            json!({"id": id, "name": name, "description": name, "useType": use_type,
                   "afterHoursWorkType": after_hours, "isActive": active}),
        );
    }
    let mut devices = Vec::new();
    for (i, (title, device_name, serial)) in DEVICES.iter().enumerate() {
        let (company, ..) = COMPANIES[1 + i % (COMPANIES.len() - 1)];
        let id = insert(
            store,
            "ConfigurationItems",
            json!({"id": 28301 + i as i64, "companyID": company, "referenceTitle": title,
                   "referenceNumber": format!("CI-{:05}", 1200 + i), "serialNumber": serial, "isActive": true,
                   "createDate": format_datetime(created(4, 11)),
                   "userDefinedFields": [{"name": "Device Name", "value": device_name}]}),
        );
        devices.push((id, company));
    }
    load_tickets(store, &contacts, &devices);
}

fn load_people(store: &mut Store, api_username: &str) {
    insert(
        store,
        "Resources",
        json!({"id": API_RESOURCE_ID, "email": api_username, "userName": "bta-api", "firstName": "BeyondTrust",
               "lastName": "Integration", "title": "API User", "isActive": true}),
    );
    for (id, name) in
        [(SAMPLE_ROLE_ID, "Sample Role"), (TECHNICIAN_ROLE_ID, "Technician"), (ENGINEER_ROLE_ID, "Engineer")]
    {
        insert(store, "Roles", json!({"id": id, "name": name, "description": name, "isActive": true}));
    }
    for (id, name) in [(SERVICE_DESK_DEPARTMENT_ID, "Service Desk"), (SERVICE_DESK_DEPARTMENT_ID + 1, "Projects")] {
        insert(store, "Departments", json!({"id": id, "name": name, "description": name}));
    }
    let mut assignment = 1;
    for (i, rep) in DEMO_REPS.iter().enumerate() {
        let resource = FIRST_REP_RESOURCE_ID + i as i64;
        insert(
            store,
            "Resources",
            json!({"id": resource, "email": format!("{}@{EMAIL_DOMAIN}", rep.username), "userName": rep.username,
                   "firstName": rep.first_name, "lastName": rep.last_name, "title": "Support Technician",
                   "isActive": rep.active}),
        );
        // Every rep holds the seed's "Sample Role" (the demo is a desk set up right; tests add a
        // rep without it); the last one is an engineer rather than a technician.
        let roles: &[i64] = if i + 1 < DEMO_REPS.len() {
            &[SAMPLE_ROLE_ID, TECHNICIAN_ROLE_ID]
        } else {
            &[SAMPLE_ROLE_ID, ENGINEER_ROLE_ID]
        };
        for role in roles {
            insert(
                store,
                "ResourceRoles",
                json!({"id": assignment, "resourceID": resource, "roleID": role,
                       "departmentID": SERVICE_DESK_DEPARTMENT_ID, "isActive": true}),
            );
            assignment += 1;
        }
        insert(
            store,
            "ResourceRoles",
            json!({"id": assignment, "resourceID": resource, "queueID": LEVEL_ONE_QUEUE_ID, "isActive": true}),
        );
        assignment += 1;
        // Their service desk role, by default the one they hold besides the seed's.
        insert(
            store,
            "ResourceServiceDeskRoles",
            json!({"id": assignment, "resourceID": resource, "roleID": roles[1], "isDefault": true, "isActive": true}),
        );
        assignment += 1;
    }
}

fn load_tickets(store: &mut Store, contacts: &[(i64, i64)], devices: &[(i64, i64)]) {
    let statuses = [1, 8, 1, 7, 8, 1, 13, 8, 5, 1, 8, 7];
    let priorities = [2, 1, 3, 2];
    let active_reps = DEMO_REPS.iter().filter(|r| r.active).count() as i64;
    for (i, title) in TITLES.iter().enumerate() {
        let (contact, company) = contacts[(i * 5) % contacts.len()];
        let device = devices.iter().find(|(_, c)| *c == company).map(|(id, _)| *id);
        let day = 24 - (i as u32 % 15);
        let created = Utc.with_ymd_and_hms(2026, 11, day, 8 + (i as u32 % 9), 5 * (i as u32 % 12), 0).single();
        let created = created.unwrap_or_default();
        let number = format!("T{}.{:04}", created.format("%Y%m%d"), 40 + (i * 7) % 50 + if i == 0 { 2 } else { 0 });
        let rep = FIRST_REP_RESOURCE_ID + (i as i64 % active_reps);
        let id = 7201 + i as i64;
        insert(
            store,
            "Tickets",
            json!({
                "id": id, "ticketNumber": number, "title": title,
                "description": format!("{title}. Reported by phone; customer available all day."),
                "status": statuses[i % statuses.len()], "priority": priorities[i % priorities.len()],
                "companyID": company, "contactID": contact, "configurationItemID": device,
                "assignedResourceID": rep, "assignedResourceRoleID": TECHNICIAN_ROLE_ID,
                "queueID": 8, "issueType": 1 + (i as i64 % 5), "source": 2, "ticketType": 2,
                "billingCodeID": REMOTE_SUPPORT_WORK_TYPE,
                "dueDateTime": format_datetime(created + Duration::days(3)),
                "createDate": format_datetime(created),
                "lastActivityDate": format_datetime(created + Duration::hours(2)),
                "creatorResourceID": rep,
                "userDefinedFields": [],
            }),
        );
        insert(
            store,
            "TicketNotes",
            json!({"ticketID": id, "title": "Initial triage",
                   "description": "Spoke with the customer and confirmed the issue. Scheduling a remote session.",
                   "noteType": 1, "publish": 1, "creatorResourceID": rep,
                   "createDateTime": format_datetime(created + Duration::hours(1)),
                   "lastActivityDate": format_datetime(created + Duration::hours(1))}),
        );
    }
}
