//! Autotask's ticket webhooks, where Autotask can reach the worker (`autotask_webhooks = true`):
//! the feed registers one ticket webhook per profile at its first look, pointing at
//! `POST /desk/autotask/tickets?appliance=<id>` on the desk's address, with a secret made once
//! for the desk and kept in the store sealed under the token key (so that every worker on the
//! store verifies a callout the balancer hands it, and nothing in the database signs one), and
//! names the ticket fields the copy keeps (`TicketWebhookFields`,
//! found by name in that entity's `fieldID` picklist): a change to what a search row shows
//! makes a callout, and every kept field rides in it. Each callout must carry
//! `X-Hook-Signature: sha1=<base64 HMAC-SHA1 of the body>` with that secret (Autotask's "Secret
//! key and payload verification"), compared in constant time; a body already taken (at any worker
//! on the store) is refused as a replay, and so is one whose `EventTime` is over [`REPLAY_WINDOW`]
//! old or more than [`CLOCK_SKEW`] ahead (a body that far in the future would outlive the memory
//! of bodies taken, and could be replayed once that memory forgot it). The store remembers each
//! body for as long as it could be replayed. A taken callout brings its ticket into the desk's copy at once
//! — from the payload's fields when they are all there, else asked of Autotask by id — so the
//! copy is current within seconds; the looks stay as the safety net.
//!
//! Autotask turns a webhook off after its callouts fail 25 times in a row and then calls its
//! `deactivationUrl`: here [`DEACTIVATED_PATH`] with the desk's key. The worker that looks also asks
//! Autotask every few minutes whether the webhook is on; found off, it turns it on again once the
//! webhook's URL answers (waiting longer each time, until a callout arrives), and says so in the
//! log, `/healthz` and `/metrics`.

use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::feed::{Feed, FeedError, Feeds};
use crate::autotask::{ChildEntity, Entity, Filter, PicklistValue, Query as AutotaskQuery, Ticket};
use crate::secret::Secret;
use crate::store::{StoreError, WebhookKeys};

/// Where Autotask posts a profile's ticket callouts.
pub const PATH: &str = "/desk/autotask/tickets";
/// How long a callout counts as new: older ones, and bodies already taken within it, are refused.
pub const REPLAY_WINDOW: chrono::Duration = chrono::Duration::minutes(15);
/// How far ahead of this worker's clock a callout's `EventTime` may be (the two clocks differ a
/// little); a callout further ahead is refused.
pub const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);
/// How long a body taken is remembered: as long as its `EventTime` could let it be taken again.
const REMEMBERED: chrono::Duration = chrono::Duration::minutes(REPLAY_WINDOW.num_minutes() + CLOCK_SKEW.num_minutes());
/// The name the worker's webhook goes by in Autotask, one per profile.
const NAME_PREFIX: &str = "bt-autotask desk";

/// Where Autotask tells the worker it turned a profile's webhook off (its `deactivationUrl`,
/// with `appliance=` and the desk's `key=`).
pub const DEACTIVATED_PATH: &str = "/desk/autotask/tickets/deactivated";
/// How often a look asks Autotask whether the webhook is still on, when nothing said otherwise.
const CHECK_EVERY: chrono::Duration = chrono::Duration::minutes(5);
/// The wait before the webhook is turned on again after its first reactivation, doubled at each
/// one after (to [`LONGEST_WAIT`]) until a callout arrives: a desk whose URL answers the worker
/// but not Autotask does not flip its webhook on and off every look.
const FIRST_WAIT: chrono::Duration = chrono::Duration::minutes(1);
const LONGEST_WAIT: chrono::Duration = chrono::Duration::hours(1);

/// A profile's webhook as this worker knows it: its keys, as read from the store, and whether it
/// is on, as this worker's looks found it.
#[derive(Debug, Default)]
pub struct Hook {
    keys: Mutex<Option<WebhookKeys>>,
    state: Mutex<HookState>,
}

/// What `/healthz` and the console say of a profile's webhook.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HookStatus {
    /// Registered in Autotask by this worker (the one that looks for the desk).
    pub registered: bool,
    /// On, as last seen (registered by this run, or found so at a look).
    pub active: bool,
    /// When it was found turned off, while it is.
    pub off_since: Option<DateTime<Utc>>,
    /// Times Autotask turned it off during this run, and times the worker turned it on again.
    pub deactivations: u64,
    pub reactivations: u64,
}

#[derive(Debug, Default)]
struct HookState {
    status: HookStatus,
    webhook_id: Option<i64>,
    checked_at: Option<DateTime<Utc>>,
    /// Autotask said it turned the webhook off: ask at the next look.
    told_off: bool,
    /// Not before this is it turned on again.
    next_try: Option<DateTime<Utc>>,
    wait: Option<chrono::Duration>,
}

impl Hook {
    /// The desk's keys as this worker read them from the store (none before).
    fn keys(&self) -> Option<WebhookKeys> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, HookState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn status(&self) -> HookStatus {
        self.state().status.clone()
    }

    /// Registered (and on) as webhook `id`.
    fn registered(&self, id: i64, now: DateTime<Utc>) {
        let mut state = self.state();
        state.webhook_id = Some(id);
        state.checked_at = Some(now);
        state.status.registered = true;
        state.status.active = true;
        state.status.off_since = None;
    }

    /// The webhook to ask Autotask about at this look, if it is due: when Autotask said it
    /// turned it off, while it is off, and every [`CHECK_EVERY`] besides.
    fn due_check(&self, now: DateTime<Utc>) -> Option<i64> {
        let state = self.state();
        let due = state.told_off || !state.status.active || state.checked_at.is_none_or(|at| now - at >= CHECK_EVERY);
        state.webhook_id.filter(|_| due)
    }

    /// What Autotask showed of the webhook; whether it was turned off since last seen.
    fn found(&self, active: bool, now: DateTime<Utc>) -> bool {
        let mut state = self.state();
        state.checked_at = Some(now);
        state.told_off = false;
        let turned_off = state.status.active && !active;
        if turned_off {
            state.status.deactivations += 1;
            state.status.off_since = Some(now);
        }
        if active && !state.status.active {
            state.status.off_since = None;
        }
        state.status.active = active;
        turned_off
    }

    fn reactivation_due(&self, now: DateTime<Utc>) -> bool {
        let state = self.state();
        !state.status.active && state.next_try.is_none_or(|at| now >= at)
    }

    /// Turned on again now; the next reactivation waits longer.
    fn reactivated(&self, now: DateTime<Utc>) {
        let mut state = self.state();
        let wait = state.wait.unwrap_or(FIRST_WAIT);
        state.next_try = Some(now + wait);
        state.wait = Some((wait * 2).min(LONGEST_WAIT));
        state.status.active = true;
        state.status.off_since = None;
        state.status.reactivations += 1;
    }

    /// Its URL did not answer: tried again after the wait.
    fn unreachable(&self, now: DateTime<Utc>) {
        let mut state = self.state();
        let wait = state.wait.unwrap_or(FIRST_WAIT);
        state.next_try = Some(now + wait);
    }

    /// A callout arrived: Autotask reaches the worker, so a later reactivation need not wait.
    fn reached(&self) {
        let mut state = self.state();
        state.wait = None;
        state.next_try = None;
    }

    fn told_off(&self) {
        self.state().told_off = true;
    }
}

/// Keys made now: 40 letters and digits each (Autotask takes secrets of up to 64).
fn made_keys() -> WebhookKeys {
    use rand::Rng;
    let made =
        || Secret::new(rand::rng().sample_iter(rand::distr::Alphanumeric).take(40).map(char::from).collect::<String>());
    WebhookKeys { secret: made(), deactivation_key: made() }
}

/// Whether the signature is the body's HMAC-SHA1 under the webhook's secret.
pub fn signed(keys: &WebhookKeys, body: &[u8], signature: Option<&str>) -> bool {
    let Some(shown) = signature.and_then(|s| s.trim().strip_prefix("sha1=")) else { return false };
    let Ok(shown) = base64::engine::general_purpose::STANDARD.decode(shown) else { return false };
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(keys.secret.expose().as_bytes()) else { return false };
    mac.update(body);
    mac.finalize().into_bytes().as_slice().ct_eq(&shown).into()
}

/// Whether `key` is the webhook's deactivation key (compared in constant time).
fn is_deactivation_key(keys: &WebhookKeys, key: &str) -> bool {
    keys.deactivation_key.expose().as_bytes().ct_eq(key.as_bytes()).into()
}

/// The desk's keys for the profile's webhook: as this worker read them, else from the store —
/// made there first when `make` (the worker registering the webhook) and no worker made them.
async fn keys_of(feed: &Feed, hook: &Hook, make: bool) -> Result<Option<WebhookKeys>, StoreError> {
    if let Some(keys) = hook.keys() {
        return Ok(Some(keys));
    }
    let profile = feed.profile().name.clone();
    let keys = feed
        .store
        .run(move |s| match s.webhook_keys(&profile)? {
            Some(keys) => Ok(Some(keys)),
            None if make => s.keep_webhook_keys(&profile, &made_keys(), Utc::now()).map(Some),
            None => Ok(None),
        })
        .await?;
    *hook.keys.lock().unwrap_or_else(|e| e.into_inner()) = keys.clone();
    Ok(keys)
}

/// A callout's body, as Autotask's webhooks send it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Callout {
    action: String,
    entity_type: Option<String>,
    id: i64,
    #[serde(default)]
    fields: Map<String, Value>,
    event_time: Option<DateTime<Utc>>,
}

/// What a callout's body says, as the worker takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CalloutRead {
    /// The ticket's id.
    pub id: i64,
    /// When Autotask says the change happened.
    pub event_time: Option<DateTime<Utc>>,
    /// Whether it is about a ticket at all.
    pub is_ticket: bool,
    /// What became of the ticket.
    pub change: CalloutChange,
}

/// What a callout says became of its ticket.
#[derive(Debug, Clone, PartialEq)]
pub enum CalloutChange {
    Deleted,
    /// The whole ticket as the copy keeps it, when the callout's fields hold every kept field.
    Whole(Box<Ticket>),
    /// Changed, but the callout does not hold all of it: asked of Autotask by id.
    Partly,
}

/// Reads a callout's body (once its signature is checked): what it says, or why it is not one.
pub fn read_callout(body: &[u8]) -> Result<CalloutRead, String> {
    let callout: Callout = serde_json::from_slice(body).map_err(|e| format!("not a webhook callout: {e}"))?;
    let is_ticket = callout.entity_type.as_deref().is_none_or(|t| t.eq_ignore_ascii_case("Ticket"));
    let change = if callout.action.eq_ignore_ascii_case("Delete") {
        CalloutChange::Deleted
    } else {
        whole_ticket(callout.id, callout.fields).map_or(CalloutChange::Partly, |t| CalloutChange::Whole(Box::new(t)))
    };
    Ok(CalloutRead { id: callout.id, event_time: callout.event_time, is_ticket, change })
}

#[derive(Debug, Deserialize)]
pub(super) struct Target {
    appliance: Option<String>,
}

/// Registers (or takes over) the profile's ticket webhook in Autotask, pointing at `url`, with
/// the desk's secret and deactivation key.
pub(super) async fn register(feed: &Feed, hook: &Hook, url: &url::Url) -> Result<(), FeedError> {
    let Some(keys) = keys_of(feed, hook, true).await? else { return Ok(()) };
    let deactivation = deactivation_url(url, &keys);
    let name = format!("{NAME_PREFIX} {}", feed.profile().name).chars().take(50).collect::<String>();
    let query = AutotaskQuery::new(Filter::eq("webhookUrl", url.as_str())).max_records(10);
    let existing = feed.autotask.query_page::<TicketWebhook>(&query).await?.items;
    let webhook = TicketWebhook {
        id: existing.first().and_then(|w| w.id),
        fields: json!({
            "name": name,
            "webhookUrl": url.as_str(),
            "deactivationUrl": deactivation.as_str(),
            "secretKey": keys.secret.expose(),
            "isActive": true,
            "isSubscribedToCreateEvents": true,
            "isSubscribedToUpdateEvents": true,
            "isSubscribedToDeleteEvents": true,
            "sendThresholdExceededNotification": false,
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    };
    let id = match webhook.id {
        Some(_) => feed.autotask.update(&webhook).await?,
        None => feed.autotask.create(&webhook).await?,
    };
    hook.registered(id, Utc::now());
    crate::metrics::global().desk_webhook(&feed.profile().name, true, false);
    tracing::info!(profile = feed.profile().name, %url, "desk watch: Autotask's ticket webhook points here");
    match name_fields(feed, id).await {
        Ok(unnamed) if unnamed.is_empty() => {}
        Ok(unnamed) => tracing::warn!(
            profile = feed.profile().name,
            "desk watch: Autotask's list of webhook fields does not name {}: tick them on the webhook \
             \"{name}\" in Autotask (Admin › Extensions & Integrations › Webhooks); until then a change to \
             them is found by the next look",
            unnamed.join(", ")
        ),
        Err(e) => tracing::warn!(
            profile = feed.profile().name,
            "desk watch: the ticket webhook's fields could not be named ({e}): tick Title, Status, Account, \
             Contact, Configuration Item and Primary Resource on the webhook \"{name}\" in Autotask (Admin › \
             Extensions & Integrations › Webhooks); until then changes are found by the looks"
        ),
    }
    Ok(())
}

/// Where Autotask calls when it turns the webhook off: beside the callouts, with the key.
fn deactivation_url(url: &url::Url, keys: &WebhookKeys) -> url::Url {
    let mut deactivation = url.clone();
    if let Ok(mut path) = deactivation.path_segments_mut() {
        path.pop_if_empty().push("deactivated");
    }
    deactivation.query_pairs_mut().append_pair("key", keys.deactivation_key.expose());
    deactivation
}

/// At a look: whether Autotask turned the webhook off (asked when it said so, while it is off,
/// and every few minutes), and turning it on again once its URL answers. The looks keep the
/// copy current meanwhile, as they always do.
pub(super) async fn watch(feed: &Feed, hook: &Hook, url: &url::Url) {
    let profile = feed.profile().name.clone();
    if feed.store.run(move |s| s.take_webhook_told_off(&profile)).await.unwrap_or(false) {
        hook.told_off();
    }
    let now = Utc::now();
    let Some(id) = hook.due_check(now) else { return };
    let profile = &feed.profile().name;
    let query = AutotaskQuery::new(Filter::eq("id", id)).include_fields(["id", "isActive"]).max_records(1);
    let active = match feed.autotask.query_page::<TicketWebhook>(&query).await {
        Ok(page) => page.items.first().is_some_and(|w| w.fields.get("isActive") == Some(&Value::Bool(true))),
        Err(e) => {
            tracing::warn!(profile, "desk watch: whether the ticket webhook is on could not be read: {e}");
            return;
        }
    };
    let turned_off = hook.found(active, now);
    crate::metrics::global().desk_webhook(profile, active, turned_off);
    if turned_off {
        tracing::warn!(
            profile,
            "desk watch: Autotask turned the ticket webhook off (its callouts to {url} failed); the looks keep the \
             desk's copy meanwhile, and the webhook is turned on again once that URL answers"
        );
    }
    if !hook.reactivation_due(now) {
        return;
    }
    if !answers(url).await {
        hook.unreachable(now);
        tracing::info!(profile, %url, "desk watch: the ticket webhook's URL does not answer yet; it stays off");
        return;
    }
    let on = TicketWebhook { id: Some(id), fields: json!({"isActive": true}).as_object().cloned().unwrap_or_default() };
    match feed.autotask.update(&on).await {
        Ok(_) => {
            hook.reactivated(now);
            crate::metrics::global().desk_webhook(profile, true, false);
            tracing::info!(profile, %url, "desk watch: the ticket webhook is on again: its URL answers");
        }
        Err(e) => tracing::warn!(profile, "desk watch: the ticket webhook could not be turned on again: {e}"),
    }
}

/// Whether anything answers at the webhook's URL: any HTTP answer (the worker's own 401 to an
/// unsigned body, or a proxy's), or a TLS handshake that got as far as a certificate, means the
/// address reaches a server; a refused or silent connection does not. Nothing secret is sent.
async fn answers(url: &url::Url) -> bool {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap_or_default()
    });
    match client.post(url.clone()).body("{}").send().await {
        Ok(_) => true,
        Err(e) => !(e.is_connect() || e.is_timeout()),
    }
}

/// What `deactivated` takes from its query.
#[derive(Debug, Deserialize)]
pub(super) struct Deactivation {
    appliance: Option<String>,
    key: Option<String>,
}

/// `POST /desk/autotask/tickets/deactivated?appliance=<id>&key=<key>`: Autotask turned the
/// webhook off. Taken only with the desk's key, and even then only as a reason for the worker
/// that looks to ask Autotask at its next look — the call itself changes nothing.
pub(super) async fn deactivated(State(feeds): State<Feeds>, Query(told): Query<Deactivation>) -> Response {
    let found = told.appliance.as_deref().and_then(|a| feeds.of_appliance(a)).and_then(|f| Some((f.hook()?, f)));
    let Some((hook, feed)) = found else {
        return (StatusCode::NOT_FOUND, "no profile here takes Autotask's ticket webhooks for that appliance")
            .into_response();
    };
    let keys = keys_of(&feed, &hook, false).await.ok().flatten();
    if !told.key.as_deref().zip(keys.as_ref()).is_some_and(|(k, keys)| is_deactivation_key(keys, k)) {
        if let Some(count) = crate::serve::said::due("a webhook deactivation call without the desk's key") {
            tracing::warn!(count, "desk watch: webhook deactivation call(s) without the desk's key were refused");
        }
        return (StatusCode::UNAUTHORIZED, "not this webhook's deactivation key").into_response();
    }
    hook.told_off();
    let profile = feed.profile().name.clone();
    if let Err(e) = feed.store.run(move |s| s.webhook_told_off(&profile)).await {
        tracing::warn!("desk watch: that Autotask turned the ticket webhook off could not be kept: {e}");
    }
    tracing::warn!(
        profile = feed.profile().name,
        "desk watch: Autotask says it turned the ticket webhook off; asking it at the next look"
    );
    (StatusCode::OK, "noted").into_response()
}

/// The ticket fields whose change makes a callout: what a search row shows.
const SUBSCRIBED: [&str; 6] =
    ["title", "status", "companyID", "contactID", "configurationItemID", "assignedResourceID"];

/// Other names a field may go by in the `fieldID` picklist (its SOAP name or its label in
/// Autotask), compared without case and spaces.
const ALSO_CALLED: &[(&str, &[&str])] = &[
    ("companyID", &["accountid", "account", "company", "organization"]),
    ("contactID", &["contact"]),
    ("configurationItemID", &["installedproductid", "installedproduct", "configurationitem"]),
    ("assignedResourceID", &["primaryresource"]),
    ("lastActivityDate", &["lastactivity"]),
    ("assignedResourceRoleID", &["primaryresourcerole", "assignedresourcerole"]),
];

/// Names on webhook `id` every field the copy keeps (each shown in every callout, those in
/// [`SUBSCRIBED`] making one), adding only those it does not name yet. Returns the fields the
/// picklist has no entry for.
async fn name_fields(feed: &Feed, id: i64) -> Result<Vec<&'static str>, FeedError> {
    let known = feed.autotask.fields::<TicketWebhookField>().await?;
    let picklist = known.picklist("fieldID").map(|p| p.values).unwrap_or_default();
    let query = AutotaskQuery::new(Filter::eq("webhookID", id));
    let named: Vec<i64> =
        feed.autotask.query_all::<TicketWebhookField>(query).await?.into_iter().map(|f| f.field_id).collect();
    let mut unnamed = Vec::new();
    for field in super::copy::COPIED_FIELDS.into_iter().filter(|f| *f != "id") {
        let Some(field_id) = field_id(picklist, field) else {
            unnamed.push(field);
            continue;
        };
        if named.contains(&field_id) {
            continue;
        }
        let subscribed = SUBSCRIBED.contains(&field);
        let row = TicketWebhookField {
            webhook_id: id,
            field_id,
            is_subscribed_field: subscribed,
            is_display_always_field: true,
        };
        feed.autotask.create_child(id, &row).await?;
    }
    Ok(unnamed)
}

/// The id the `fieldID` picklist gives a ticket field, by its REST name or another it goes by.
fn field_id(picklist: &[PicklistValue], field: &str) -> Option<i64> {
    let plain = |text: &str| text.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
    let also = ALSO_CALLED.iter().find(|(f, _)| *f == field).map(|(_, names)| *names).unwrap_or_default();
    let matches = |label: &str| {
        let label = plain(label);
        label == plain(field) || also.contains(&label.as_str())
    };
    picklist.iter().filter(|v| v.is_active).find(|v| matches(&v.label))?.value.parse().ok()
}

/// A ticket field a webhook names, as Autotask's REST API calls it (`TicketWebhookFields`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TicketWebhookField {
    #[serde(rename = "webhookID")]
    webhook_id: i64,
    #[serde(rename = "fieldID")]
    field_id: i64,
    #[serde(default)]
    is_subscribed_field: bool,
    #[serde(default)]
    is_display_always_field: bool,
}

impl Entity for TicketWebhookField {
    const NAME: &'static str = "TicketWebhookFields";
}

impl ChildEntity for TicketWebhookField {
    const PARENT: &'static str = "TicketWebhooks";
    const CHILD_PATH: &'static str = "Fields";
}

/// A ticket webhook as Autotask's REST API names it (`TicketWebhooks`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, Deserialize)]
struct TicketWebhook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

impl Entity for TicketWebhook {
    const NAME: &'static str = "TicketWebhooks";
}

/// `POST /desk/autotask/tickets?appliance=<id>`: one callout, taken when signed by the desk's
/// secret and not seen before at any worker. Answers 401 to a wrong signature, 200 to a replay (Autotask
/// would only send it again) without taking it, 404 to an appliance with no webhook here.
pub(super) async fn callout(
    State(feeds): State<Feeds>,
    Query(target): Query<Target>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((feed, hook)) = target.appliance.as_deref().and_then(|a| feeds.of_appliance(a)).and_then(|f| {
        let hook = f.hook()?;
        Some((f, hook))
    }) else {
        return (StatusCode::NOT_FOUND, "no profile here takes Autotask's ticket webhooks for that appliance")
            .into_response();
    };
    let signature = headers.get("x-hook-signature").and_then(|v| v.to_str().ok());
    let keys = match keys_of(&feed, &hook, false).await {
        Ok(keys) => keys,
        Err(e) => {
            return (StatusCode::SERVICE_UNAVAILABLE, format!("the webhook's secret could not be read: {e}"))
                .into_response();
        }
    };
    if !keys.is_some_and(|keys| signed(&keys, &body, signature)) {
        if let Some(count) = crate::serve::said::due("a ticket callout with a wrong signature") {
            tracing::warn!(
                profile = feed.profile().name,
                count,
                "desk watch: ticket callout(s) with a wrong signature were refused (the count is since this was last said)"
            );
        }
        return (StatusCode::UNAUTHORIZED, "the X-Hook-Signature is not this webhook's").into_response();
    }
    let callout = match read_callout(&body) {
        Ok(c) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    let now = Utc::now();
    if callout.event_time.is_some_and(|at| at - now > CLOCK_SKEW) {
        tracing::warn!(
            profile = feed.profile().name,
            ticket = callout.id,
            "desk watch: a ticket callout from the future (EventTime more than {} min ahead) was refused; check this server's clock",
            CLOCK_SKEW.num_minutes()
        );
        return (StatusCode::BAD_REQUEST, "EventTime is in the future").into_response();
    }
    let stale = callout.event_time.is_some_and(|at| now - at > REPLAY_WINDOW);
    let digest: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(&body).into()
    };
    let first = match stale {
        true => false,
        false => match feed.store.run(move |s| s.first_callout(&digest, now, REMEMBERED)).await {
            Ok(first) => first,
            // Not taken: Autotask sends it again.
            Err(e) => {
                return (StatusCode::SERVICE_UNAVAILABLE, format!("the callout could not be kept: {e}"))
                    .into_response();
            }
        },
    };
    if !first {
        tracing::warn!(
            profile = feed.profile().name,
            ticket = callout.id,
            "desk watch: a replayed ticket callout was ignored"
        );
        return (StatusCode::OK, "already taken").into_response();
    }
    if !callout.is_ticket {
        return (StatusCode::OK, "not a ticket").into_response();
    }
    hook.reached();
    match apply(&feed, callout).await {
        Ok(()) => (StatusCode::OK, "taken").into_response(),
        Err(e) => {
            // Answered 200 all the same: the next look brings the ticket in.
            tracing::warn!(profile = feed.profile().name, "desk watch: a ticket callout could not be kept: {e}");
            (StatusCode::OK, "kept for the next look").into_response()
        }
    }
}

/// Brings a callout's ticket into the copy.
async fn apply(feed: &Feed, callout: CalloutRead) -> Result<(), FeedError> {
    if !feed.copy.ready() {
        return Ok(());
    }
    let id = callout.id;
    let ticket = match callout.change {
        CalloutChange::Deleted => {
            feed.copy.with(move |c| c.forget(&[id])).await?;
            None
        }
        CalloutChange::Whole(ticket) => Some(*ticket),
        CalloutChange::Partly => {
            let query = AutotaskQuery::new(Filter::eq("id", id)).max_records(1);
            match feed.autotask.query_page::<Ticket>(&query).await?.items.into_iter().next() {
                Some(ticket) => Some(ticket),
                None => return Ok(()),
            }
        }
    };
    if let Some(ticket) = ticket {
        let (before, _) = feed.copy.keep(vec![ticket.clone()]).await?;
        feed.hooked(before).await;
        // No write waiting is no error.
        let _ = feed.callouts.send(ticket);
    }
    feed.copy.with(|c| c.webhook_applied(Utc::now())).await?;
    Ok(())
}

/// The callouts for one ticket, as a write of the worker's own waits for the one it makes.
#[derive(Debug)]
pub struct CalloutWatch {
    ticket_id: i64,
    callouts: tokio::sync::broadcast::Receiver<Ticket>,
}

impl CalloutWatch {
    pub(super) fn new(ticket_id: i64, callouts: tokio::sync::broadcast::Receiver<Ticket>) -> CalloutWatch {
        CalloutWatch { ticket_id, callouts }
    }

    /// The ticket as the next callout for it brought it into the copy, within `wait`; `None`
    /// when none came (the webhook is late or off, or callouts were dropped while many came).
    pub async fn next(mut self, wait: std::time::Duration) -> Option<Ticket> {
        use tokio::sync::broadcast::error::RecvError;
        let next = async {
            loop {
                match self.callouts.recv().await {
                    Ok(ticket) if ticket.id == Some(self.ticket_id) => return Some(ticket),
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => return None,
                    Err(RecvError::Closed) => return None,
                }
            }
        };
        tokio::time::timeout(wait, next).await.ok().flatten()
    }
}

/// The ticket a callout's fields describe, when they hold everything the copy keeps but the id
/// (the callout's own), their names in any case, as Autotask is case-insensitive about them.
fn whole_ticket(id: i64, fields: Map<String, Value>) -> Option<Ticket> {
    let named = |name: &str| fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let mut ticket = Map::new();
    for field in super::copy::COPIED_FIELDS.into_iter().filter(|f| *f != "id") {
        ticket.insert(field.to_owned(), named(field)?);
    }
    ticket.insert("id".to_owned(), json!(id));
    serde_json::from_value(Value::Object(ticket)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha1={}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn only_the_desks_secret_signs() {
        let keys = made_keys();
        let body = br#"{"Action":"Update","Id":1}"#;
        assert!(signed(&keys, body, Some(&sign(keys.secret.expose(), body))));
        assert!(!signed(&keys, body, Some(&sign("another secret", body))));
        assert!(!signed(&made_keys(), body, Some(&sign(keys.secret.expose(), body))), "another desk's");
        assert!(!signed(&keys, b"{\"Action\":\"Delete\",\"Id\":1}", Some(&sign(keys.secret.expose(), body))));
        assert!(!signed(&keys, body, None) && !signed(&keys, body, Some("sha1=not base64!")));
        assert!(is_deactivation_key(&keys, keys.deactivation_key.expose()) && !is_deactivation_key(&keys, "guess"));
    }

    #[test]
    fn a_webhook_found_off_is_turned_on_again_waiting_longer_each_time_until_a_callout_arrives() {
        let hook = Hook::default();
        let now = Utc::now();
        assert_eq!(hook.due_check(now), None, "not registered: nothing to ask");
        hook.registered(7, now);
        assert_eq!(hook.due_check(now + chrono::Duration::minutes(1)), None, "asked every 5 minutes");
        assert_eq!(hook.due_check(now + CHECK_EVERY), Some(7));
        hook.told_off();
        assert_eq!(hook.due_check(now), Some(7), "told: asked at the next look");
        assert!(hook.found(false, now), "turned off");
        assert!(!hook.found(false, now), "counted once");
        assert!(hook.reactivation_due(now));
        hook.reactivated(now);
        assert!(hook.found(false, now + chrono::Duration::seconds(10)), "off again");
        assert!(!hook.reactivation_due(now + chrono::Duration::seconds(30)), "a minute's wait");
        assert!(hook.reactivation_due(now + FIRST_WAIT));
        hook.reactivated(now + FIRST_WAIT);
        hook.found(false, now + FIRST_WAIT);
        assert!(!hook.reactivation_due(now + FIRST_WAIT * 2), "twice as long");
        assert!(hook.reactivation_due(now + FIRST_WAIT * 3));
        hook.reached();
        assert!(hook.reactivation_due(now + FIRST_WAIT), "a callout arrived: no wait");
        let status = hook.status();
        assert_eq!((status.deactivations, status.reactivations, status.active), (3, 2, false));
    }

    #[test]
    fn a_field_is_found_in_the_picklist_by_its_rest_name_or_another_it_goes_by() {
        let picklist: Vec<PicklistValue> = serde_json::from_value(json!([
            {"value": "11", "label": "Title"}, {"value": "12", "label": "AccountID"},
            {"value": "13", "label": "Configuration Item"}, {"value": "14", "label": "Primary Resource"},
            {"value": "15", "label": "ticketNumber"}, {"value": "16", "label": "Status", "isActive": false},
        ]))
        .unwrap();
        let found = |field| field_id(&picklist, field);
        assert_eq!((found("title"), found("companyID"), found("configurationItemID")), (Some(11), Some(12), Some(13)));
        assert_eq!((found("assignedResourceID"), found("ticketNumber")), (Some(14), Some(15)));
        assert_eq!((found("status"), found("contactID")), (None, None), "inactive, and not there");
    }

    #[test]
    fn a_callout_with_every_copied_field_is_a_ticket_and_one_without_is_asked_for() {
        let fields = json!({"TicketNumber": "T20261203.0001", "title": "New laptop", "status": 1,
            "companyID": 1, "contactID": null, "configurationItemID": null, "assignedResourceID": 4,
            "assignedResourceRoleID": 29683462, "lastActivityDate": "2026-12-03T10:00:00Z"});
        let ticket = whole_ticket(9, fields.as_object().cloned().unwrap()).unwrap();
        assert_eq!((ticket.id, ticket.title.as_deref()), (Some(9), Some("New laptop")));
        assert_eq!(ticket.assigned_resource_role_id, Some(29683462), "the rep's role on it, for their time");
        assert!(whole_ticket(9, json!({"title": "New laptop"}).as_object().cloned().unwrap()).is_none());
    }
}
