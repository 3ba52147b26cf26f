//! The Autotask client against the stand-in over loopback: zone discovery, paging, every
//! filter operator, get / count / create / update / child create, picklists.

#![allow(clippy::unwrap_used)]

mod helpers;

use bta_core::autotask::{AutotaskClient, Contact, ErrorKind, Filter, Query, Ticket, TicketNote, Zone};
use futures::TryStreamExt;
use helpers::Autotask;
use serde_json::json;

#[tokio::test]
async fn zone_is_discovered_once_and_cached() {
    let at = Autotask::start().await;
    let client = at.client();
    let zone: Zone = client.zone().await.unwrap().clone();
    assert_eq!(zone.api_root.as_str(), format!("{}/atservicesrest/v1.0/", at.sim.base_url));
    assert_eq!(zone.web_root.as_str(), format!("{}/", at.sim.base_url));
    client.get::<Ticket>(7201).await.unwrap();
    client.get::<Ticket>(7202).await.unwrap();
    assert_eq!(at.requests_to("zoneInformation").await.len(), 1, "discovery is asked once");
}

#[tokio::test]
async fn a_services_url_skips_discovery() {
    let at = Autotask::start().await;
    let mut settings = at.settings();
    settings.services_url = Some(format!("{}/ATServicesRest", at.sim.base_url));
    settings.discovery_url = "https://discovery.invalid/".into();
    let client = AutotaskClient::new(settings).unwrap();
    let ticket = client.get::<Ticket>(7201).await.unwrap().unwrap();
    assert_eq!(ticket.ticket_number.as_deref(), Some("T20261124.0042"));
    assert!(at.requests_to("zoneInformation").await.is_empty());
}

#[tokio::test]
async fn discovery_for_an_unknown_user_says_which_setting_to_fix() {
    let at = Autotask::start().await;
    let mut settings = at.settings();
    settings.username = "nobody@example.com".into();
    let err = AutotaskClient::new(settings).unwrap().zone().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Credentials);
    let text = err.to_string();
    assert!(text.contains("nobody@example.com") && text.contains("Settings › Autotask"), "{text}");
}

fn ticket_rows(n: usize) -> serde_json::Value {
    let rows: Vec<_> = (0..n)
        .map(|i| {
            json!({"id": 100_000 + i, "ticketNumber": format!("T20300101.{:04}", i), "title": format!("Bulk {i}"),
                   "status": 1, "priority": 2, "companyID": 174, "queueID": 8,
                   "dueDateTime": "2030-01-02T00:00:00Z"})
        })
        .collect();
    json!(rows)
}

#[tokio::test]
async fn a_stream_follows_next_page_urls_over_more_than_500_records() {
    let at = Autotask::start().await;
    at.insert("Tickets", ticket_rows(1234)).await;
    let client = at.client();
    let query = Query::new(Filter::begins_with("ticketNumber", "T20300101")).include_fields(["ticketNumber"]);
    let tickets: Vec<Ticket> = client.query(query.clone()).try_collect().await.unwrap();
    assert_eq!(tickets.len(), 1234);
    let ids: Vec<i64> = tickets.iter().map(|t| t.id.unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend without repeats");
    assert_eq!(ids[0], 100_000);
    assert_eq!(*ids.last().unwrap(), 101_233);
    assert!(tickets.iter().all(|t| t.title.is_none()), "IncludeFields limits the fields");
    assert_eq!(at.requests_to("/query").await.len(), 3, "one POST and two next pages");
    assert_eq!(client.count::<Ticket>(&query).await.unwrap(), 1234);
}

#[tokio::test]
async fn page_size_above_500_is_refused_before_sending() {
    let at = Autotask::start().await;
    let err = at.client().query_page::<Ticket>(&Query::all().max_records(501)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert!(err.to_string().contains("MaxRecords"), "{err}");
    assert!(at.requests_to("/query").await.is_empty());
}

async fn contact_ids(client: &AutotaskClient, filter: Filter) -> Vec<i64> {
    let contacts: Vec<Contact> = client.query_all(Query::new(filter)).await.unwrap();
    contacts.into_iter().map(|c| c.id.unwrap()).collect()
}

#[tokio::test]
async fn every_filter_operator_selects_what_the_spec_says() {
    let at = Autotask::start_empty().await;
    at.insert("Companies", json!([{"id": 1, "companyName": "Acme"}])).await;
    at.insert(
        "Contacts",
        json!([
            {"id": 1, "companyID": 1, "firstName": "Ada", "lastName": "Lovelace", "emailAddress": "ada@acme.example",
             "userDefinedFields": [{"name": "Badge", "value": "A-1"}]},
            {"id": 2, "companyID": 1, "firstName": "Alan", "lastName": "Turing", "emailAddress": "alan@acme.example"},
            {"id": 3, "companyID": 1, "firstName": "Grace", "lastName": "Hopper", "emailAddress": null},
            {"id": 4, "companyID": 1, "firstName": "Edsger", "lastName": "Dijkstra", "emailAddress": "ed@tue.example",
             "userDefinedFields": [{"name": "Badge", "value": "B-2"}]},
        ]),
    )
    .await;
    let c = at.client();
    assert_eq!(contact_ids(&c, Filter::eq("FirstName", "ada")).await, [1], "eq ignores case of field and value");
    assert_eq!(contact_ids(&c, Filter::noteq("firstName", "Ada")).await, [2, 3, 4]);
    assert_eq!(contact_ids(&c, Filter::gt("id", 2)).await, [3, 4]);
    assert_eq!(contact_ids(&c, Filter::gte("id", 2)).await, [2, 3, 4]);
    assert_eq!(contact_ids(&c, Filter::lt("id", 2)).await, [1]);
    assert_eq!(contact_ids(&c, Filter::lte("id", 2)).await, [1, 2]);
    assert_eq!(contact_ids(&c, Filter::begins_with("lastName", "tu")).await, [2]);
    assert_eq!(contact_ids(&c, Filter::ends_with("emailAddress", "@acme.example")).await, [1, 2]);
    assert_eq!(contact_ids(&c, Filter::contains("lastName", "OPP")).await, [3]);
    assert_eq!(contact_ids(&c, Filter::exist("emailAddress")).await, [1, 2, 4]);
    assert_eq!(contact_ids(&c, Filter::not_exist("emailAddress")).await, [3]);
    assert_eq!(contact_ids(&c, Filter::is_in("id", [1, 4, 9])).await, [1, 4]);
    assert_eq!(contact_ids(&c, Filter::not_in("id", [1, 4])).await, [2, 3]);
    assert_eq!(contact_ids(&c, Filter::eq("Badge", "b-2").udf()).await, [4], "user-defined field");
    let nested = Filter::any_of([
        Filter::all_of([Filter::begins_with("firstName", "A"), Filter::contains("lastName", "ring")]),
        Filter::eq("id", 3),
    ]);
    assert_eq!(contact_ids(&c, nested).await, [2, 3], "nested and/or");
    let two_conditions = Query::new(Filter::exist("emailAddress")).and(Filter::begins_with("firstName", "a"));
    let contacts: Vec<Contact> = c.query_all(two_conditions).await.unwrap();
    assert_eq!(contacts.len(), 2, "top-level conditions all hold");
}

#[tokio::test]
async fn a_filter_on_an_unknown_field_is_rejected_with_autotasks_words() {
    let at = Autotask::start().await;
    let err = at.client().query_all::<Ticket>(Query::new(Filter::eq("colour", "red"))).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert_eq!(err.status, Some(500), "Autotask answers a broken rule 500");
    assert_eq!(err.messages, ["Unable to find colour in the Tickets Entity."]);
    assert_eq!(at.requests_to("Tickets/query").await.len(), 1, "a rejected query is not sent again");
}

#[tokio::test]
async fn get_create_child_create_and_update_round_trip() {
    let at = Autotask::start().await;
    let client = at.client();
    assert!(client.get::<Ticket>(999_999).await.unwrap().is_none());

    let note = TicketNote {
        title: Some("Remote session 42".into()),
        description: Some("Chat transcript…".into()),
        note_type: Some(1),
        publish: Some(2),
        ..Default::default()
    };
    let note_id = client.create_child(7201, &note).await.unwrap();
    let stored = client.get::<TicketNote>(note_id).await.unwrap().unwrap();
    assert_eq!(stored.ticket_id, Some(7201));
    assert_eq!(stored.title.as_deref(), Some("Remote session 42"));
    assert!(stored.create_date_time.is_some());

    let ticket = Ticket {
        title: Some("Printer jam".into()),
        company_id: Some(174),
        status: Some(1),
        priority: Some(2),
        queue_id: Some(8),
        due_date_time: Some(chrono::Utc::now()),
        ..Default::default()
    };
    let id = client.create(&ticket).await.unwrap();
    let created = client.get::<Ticket>(id).await.unwrap().unwrap();
    assert!(created.ticket_number.as_deref().unwrap().starts_with('T'));

    let change = Ticket { id: Some(id), title: Some("Printer jam on floor 2".into()), ..Default::default() };
    client.update(&change).await.unwrap();
    let updated = client.get::<Ticket>(id).await.unwrap().unwrap();
    assert_eq!(updated.title.as_deref(), Some("Printer jam on floor 2"));
    assert_eq!(updated.company_id, Some(174), "an update leaves other fields alone");
}

#[tokio::test]
async fn fields_the_models_do_not_name_are_kept() {
    let at = Autotask::start().await;
    let ticket = at.client().get::<Ticket>(7201).await.unwrap().unwrap();
    assert!(ticket.extra.contains_key("estimatedHours"), "{:?}", ticket.extra.keys());
    assert!(ticket.extra.contains_key("completedDate"));
}

#[tokio::test]
async fn picklists_map_labels_to_values_and_are_cached() {
    let at = Autotask::start().await;
    let client = at.client();
    let fields = client.fields::<TicketNote>().await.unwrap();
    let publish = fields.picklist("publish").unwrap();
    assert_eq!(publish.value_of("Internal Project Team"), Some(2));
    assert_eq!(fields.picklist("noteType").unwrap().label_of(1), Some("Task Detail"));
    client.fields::<TicketNote>().await.unwrap();
    assert_eq!(at.requests_to("entityInformation").await.len(), 1);
}

#[tokio::test]
async fn open_ticket_link_points_at_the_zones_web_ui() {
    let at = Autotask::start().await;
    let zone = at.client().zone().await.unwrap().clone();
    assert_eq!(
        zone.ticket_url(7201).as_str(),
        format!("{}/Autotask/AutotaskExtend/ExecuteCommand.aspx?Code=OpenTicketDetail&TicketID=7201", at.sim.base_url)
    );
}

#[tokio::test]
async fn writes_are_made_as_a_resource_and_reads_never_carry_the_impersonation() {
    let at = Autotask::start().await;
    let alex = bta_sim::autotask::FIRST_REP_RESOURCE_ID;
    let note = |title: &str| TicketNote {
        title: Some(title.to_owned()),
        description: Some("Fixed remotely".to_owned()),
        note_type: Some(1),
        publish: Some(1),
        ..Default::default()
    };
    // The profile's fixed resource: on every write, on no read (Autotask refuses a query with it).
    let mut settings = at.settings();
    settings.impersonation_resource_id = Some(alex);
    let fixed = AutotaskClient::new(settings).unwrap();
    let id = fixed.create_child(7201, &note("fixed")).await.unwrap();
    let query = Query::new(Filter::eq("id", id));
    let read = fixed.query_page::<TicketNote>(&query).await.unwrap().items.remove(0);
    assert_eq!(read.creator_resource_id, Some(alex));
    assert!(fixed.get::<Ticket>(7201).await.unwrap().is_some());

    // A write as a rep; one Autotask refuses to impersonate is said as such.
    let client = at.client();
    let id = client.create_child_as(7201, &note("as the rep"), Some(alex)).await.unwrap();
    let read = client.get::<TicketNote>(id).await.unwrap().unwrap();
    assert_eq!(read.extra["impersonatorCreatorResourceID"], bta_sim::autotask::API_RESOURCE_ID);
    let api_only = Some(bta_sim::autotask::API_RESOURCE_ID);
    let e = client.create_child_as(7201, &note("as the API user"), api_only).await.unwrap_err();
    assert!(e.is_impersonation_refused(), "{e}");
    assert_eq!(e.kind, ErrorKind::Rejected);
}
