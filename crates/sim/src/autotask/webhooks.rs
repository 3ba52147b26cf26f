//! Ticket webhooks: when a ticket is made or changed through the API, every active
//! `TicketWebhooks` record subscribed to that action gets a callout — a POST of Autotask's
//! payload (`Action`, `Guid`, `EntityType`, `Id`, `Fields`, `EventTime`, `SequenceNumber`,
//! `PersonID`) signed `X-Hook-Signature: sha1=<base64 HMAC-SHA1 of the body>` with the webhook's
//! secret key, as Autotask's "Secret key and payload verification" describes. The stand-in sends
//! the ticket's copied fields in `Fields` as though each were a display-always field (which
//! fields a real webhook sends is what its `TicketWebhookFields` say; those are not modelled).
//! A callout is sent once, in the background; one that fails is only logged.

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};

use super::schema::entity;
use super::store::{Store, format_datetime};

/// The ticket fields a callout carries.
const FIELDS: [&str; 9] = [
    "id",
    "ticketNumber",
    "title",
    "status",
    "companyID",
    "contactID",
    "configurationItemID",
    "assignedResourceID",
    "lastActivityDate",
];

/// One callout to send.
#[derive(Debug)]
pub struct Callout {
    url: String,
    signature: String,
    body: Vec<u8>,
}

/// The callouts a ticket's create or update (`action`: "Create", "Update") makes.
pub fn for_ticket(store: &mut Store, ticket: i64, action: &str, person: i64, now: DateTime<Utc>) -> Vec<Callout> {
    let (Some(hooks), Some(tickets)) = (entity("TicketWebhooks"), entity("Tickets")) else { return Vec::new() };
    let Some(record) = store.get(tickets, ticket).cloned() else { return Vec::new() };
    let subscribed = format!("isSubscribedTo{action}Events");
    let on = |w: &Map<String, Value>, k: &str| w.get(k).and_then(Value::as_bool).unwrap_or(false);
    let targets: Vec<(i64, String, String)> = store
        .table(hooks)
        .filter(|w| on(w, "isActive") && on(w, &subscribed))
        .filter_map(|w| {
            let text = |k: &str| w.get(k).and_then(Value::as_str).map(str::to_owned);
            Some((w.get("id").and_then(Value::as_i64)?, text("webhookUrl")?, text("secretKey")?))
        })
        .collect();
    let fields: Map<String, Value> =
        FIELDS.iter().map(|f| ((*f).to_owned(), record.get(*f).cloned().unwrap_or(Value::Null))).collect();
    targets
        .into_iter()
        .map(|(id, url, secret)| {
            store.callout_sequence += 1;
            let body = json!({
                "Action": action,
                "Guid": format!("00000000-0000-4000-8000-{id:012}"),
                "EntityType": "Ticket",
                "Id": ticket,
                "Fields": fields,
                "EventTime": format_datetime(now),
                "SequenceNumber": store.callout_sequence,
                "PersonID": person,
            })
            .to_string()
            .into_bytes();
            Callout { url, signature: sign(&secret, &body), body }
        })
        .collect()
}

/// `sha1=` and the body's HMAC-SHA1 under the secret, in base64.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(body);
    format!("sha1={}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// Sends the callouts in the background, each once.
pub fn send(callouts: Vec<Callout>) {
    if callouts.is_empty() {
        return;
    }
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = CLIENT
        .get_or_init(|| {
            reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap_or_default()
        })
        .clone();
    for callout in callouts {
        let client = client.clone();
        tokio::spawn(async move {
            let sent = client
                .post(&callout.url)
                .header("Content-Type", "application/json")
                .header("X-Hook-Signature", &callout.signature)
                .body(callout.body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::warn!(url = callout.url, status = %r.status(), "a ticket callout was refused"),
                Err(e) => tracing::warn!(url = callout.url, "a ticket callout could not be sent: {e}"),
            }
        });
    }
}
