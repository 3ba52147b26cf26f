//! Ticket webhooks: when a ticket is made or changed through the API, every active
//! `TicketWebhooks` record subscribed to that action gets a callout — a POST of Autotask's
//! payload (`Action`, `Guid`, `EntityType`, `Id`, `Fields`, `EventTime`, `SequenceNumber`,
//! `PersonID`) signed `X-Hook-Signature: sha1=<base64 HMAC-SHA1 of the body>` with the webhook's
//! secret key, as Autotask's "Secret key and payload verification" describes. Which fields count
//! is what the webhook's `TicketWebhookFields` say: a webhook naming none calls out never (Autotask
//! wants at least one callout field), a change calls out only when a subscribed field changed,
//! and `Fields` holds the subscribed fields (on a change, those that changed) and the
//! display-always ones. A callout is sent in the background, tried as Autotask tries it; a
//! webhook whose callouts fail too often in a row is turned off and its deactivation URL called.

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};

use std::sync::Arc;

use super::schema::{TICKET_WEBHOOK_FIELD_IDS, entity};
use super::store::{Store, format_datetime};
use super::{Sim, lock};

/// One callout to send.
#[derive(Debug)]
pub struct Callout {
    webhook: i64,
    url: String,
    signature: String,
    body: Vec<u8>,
}

/// Attempts per callout before Autotask drops it (five within two minutes).
const ATTEMPTS: u32 = 5;

/// A webhook that may call out: where, its secret, and the ticket fields it names.
struct Target {
    id: i64,
    url: String,
    secret: String,
    subscribed: Vec<&'static str>,
    displayed: Vec<&'static str>,
}

/// The callouts a ticket's create or update (`action`: "Create", "Update") makes; `before` is
/// the ticket as it was before an update.
pub fn for_ticket(
    store: &mut Store,
    ticket: i64,
    before: Option<&Map<String, Value>>,
    action: &str,
    person: i64,
    now: DateTime<Utc>,
) -> Vec<Callout> {
    let Some(tickets) = entity("Tickets") else { return Vec::new() };
    let Some(record) = store.get(tickets, ticket).cloned() else { return Vec::new() };
    let changed = |name: &str| before.is_none_or(|b| b.get(name) != record.get(name));
    let mut callouts = Vec::new();
    for target in targets(store, action) {
        let told: Vec<&str> = target.subscribed.iter().copied().filter(|f| changed(f)).collect();
        if told.is_empty() {
            continue;
        }
        let fields: Map<String, Value> = told
            .iter()
            .chain(&target.displayed)
            .map(|f| ((*f).to_owned(), record.get(*f).cloned().unwrap_or(Value::Null)))
            .collect();
        store.callout_sequence += 1;
        let body = json!({
            "Action": action,
            "Guid": format!("00000000-0000-4000-8000-{:012}", target.id),
            "EntityType": "Ticket",
            "Id": ticket,
            "Fields": fields,
            "EventTime": format_datetime(now),
            "SequenceNumber": store.callout_sequence,
            "PersonID": person,
        })
        .to_string()
        .into_bytes();
        callouts.push(Callout { webhook: target.id, signature: sign(&target.secret, &body), url: target.url, body });
    }
    callouts
}

/// The active webhooks subscribed to `action`, with the fields each names.
fn targets(store: &Store, action: &str) -> Vec<Target> {
    let (Some(hooks), Some(fields)) = (entity("TicketWebhooks"), entity("TicketWebhookFields")) else {
        return Vec::new();
    };
    let subscribed = format!("isSubscribedTo{action}Events");
    let on = |w: &Map<String, Value>, k: &str| w.get(k).and_then(Value::as_bool).unwrap_or(false);
    let name_of = |w: &Map<String, Value>| {
        let id = w.get("fieldID").and_then(Value::as_i64)?;
        TICKET_WEBHOOK_FIELD_IDS.iter().find(|(i, _)| *i == id).map(|(_, name)| *name)
    };
    store
        .table(hooks)
        .filter(|w| on(w, "isActive") && on(w, &subscribed))
        .filter_map(|w| {
            let text = |k: &str| w.get(k).and_then(Value::as_str).map(str::to_owned);
            let id = w.get("id").and_then(Value::as_i64)?;
            let named: Vec<&Map<String, Value>> =
                store.table(fields).filter(|f| f.get("webhookID").and_then(Value::as_i64) == Some(id)).collect();
            let pick = |flag: &str| named.iter().filter(|f| on(f, flag)).filter_map(|f| name_of(f)).collect();
            Some(Target {
                id,
                url: text("webhookUrl")?,
                secret: text("secretKey")?,
                subscribed: pick("isSubscribedField"),
                displayed: pick("isDisplayAlwaysField"),
            })
        })
        .collect()
}

/// `sha1=` and the body's HMAC-SHA1 under the secret, in base64.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(body);
    format!("sha1={}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// Sends the callouts in the background, each up to five times `webhookRetryMs` apart, as
/// Autotask does: a delivered one resets its webhook's count of failed attempts in a row; at
/// `webhookFailuresToDeactivate` the webhook is turned off and its `deactivationUrl` called
/// (with the webhook's id and name — the shape of that call is unconfirmed).
pub(super) fn send(sim: Arc<Sim>, callouts: Vec<Callout>) {
    for callout in callouts {
        tokio::spawn(deliver(sim.clone(), callout));
    }
}

async fn deliver(sim: Arc<Sim>, callout: Callout) {
    let client = http();
    for attempt in 1..=ATTEMPTS {
        let blocked = lock(&sim.store).system.webhook_callouts_blocked;
        let sent = if blocked {
            Err("blocked between Autotask and the desk".to_owned())
        } else {
            let posted = client
                .post(&callout.url)
                .header("Content-Type", "application/json")
                .header("X-Hook-Signature", &callout.signature)
                .body(callout.body.clone())
                .send()
                .await;
            match posted {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("answered {}", r.status())),
                Err(e) => Err(e.to_string()),
            }
        };
        let (deactivation, retry) = {
            let mut store = lock(&sim.store);
            let retry = std::time::Duration::from_millis(store.system.webhook_retry_ms);
            (attempted(&mut store, callout.webhook, sent.is_ok()), retry)
        };
        if let Some((url, body)) = deactivation {
            tracing::warn!(webhook = callout.webhook, "a ticket webhook failed too often and was turned off");
            if let Err(e) = client.post(&url).header("Content-Type", "application/json").body(body).send().await {
                tracing::warn!(url, "the deactivation URL could not be called: {e}");
            }
            return;
        }
        match sent {
            Ok(()) => return,
            Err(why) if attempt == ATTEMPTS => tracing::warn!(url = callout.url, "a ticket callout was dropped: {why}"),
            Err(_) => tokio::time::sleep(retry).await,
        }
    }
}

/// Counts an attempt; when it turns the webhook off, where to tell it and what.
fn attempted(store: &mut Store, webhook: i64, delivered: bool) -> Option<(String, Vec<u8>)> {
    let limit = store.system.webhook_failures_to_deactivate.max(1);
    let counts = store.deliveries.entry(webhook).or_default();
    if delivered {
        counts.consecutive_failures = 0;
        counts.delivered += 1;
        return None;
    }
    counts.consecutive_failures += 1;
    if counts.consecutive_failures < limit {
        return None;
    }
    counts.consecutive_failures = 0;
    counts.deactivations += 1;
    let hooks = entity("TicketWebhooks")?;
    let record = store.get_mut(hooks, webhook)?;
    if record.get("isActive") != Some(&Value::Bool(true)) {
        return None;
    }
    record.insert("isActive".to_owned(), Value::Bool(false));
    let url = record.get("deactivationUrl").and_then(Value::as_str)?.to_owned();
    let name = record.get("name").cloned().unwrap_or(Value::Null);
    Some((
        url,
        json!({"Id": webhook, "Name": name, "EntityType": "Ticket", "IsActive": false}).to_string().into_bytes(),
    ))
}

fn http() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap_or_default()
        })
        .clone()
}
