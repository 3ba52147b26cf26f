//! Outbound events, delivered the way an appliance delivers them: each HTTP recipient has its
//! own queue; events go out in order as form POSTs; until the head event gets a 200 (a non-200
//! answer or a timeout re-queues it with backoff) nothing after it is sent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::lock;

type Fields = Vec<(String, String)>;

#[derive(Debug)]
struct Recipient {
    id: usize,
    url: String,
    /// Trusts the system's roots, and the recipient's own CA when one was given.
    http: reqwest::Client,
    /// Event names sent to this recipient; all when empty.
    events: Vec<String>,
    retry: Duration,
    timeout: Duration,
    queue: Mutex<VecDeque<Fields>>,
    notify: Notify,
    stats: Mutex<Stats>,
}

#[derive(Debug, Default, Clone, Serialize)]
struct Stats {
    delivered: u64,
    attempts: u64,
    failures: u64,
    last_status: Option<u16>,
    last_error: Option<String>,
    /// `event lsid` of each delivered event, in order.
    delivered_events: Vec<String>,
}

/// All recipients and their delivery tasks; the tasks stop with the stand-in.
#[derive(Debug, Default)]
pub struct Deliveries {
    recipients: Mutex<Vec<Arc<Recipient>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Deliveries {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// The state of one recipient's queue, for `GET /_sim/deliveries`.
#[derive(Debug, Serialize)]
pub struct Report {
    id: usize,
    url: String,
    pending: usize,
    head_event: Option<String>,
    #[serde(flatten)]
    stats: Stats,
}

fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
}

impl Deliveries {
    /// Registers a recipient and starts delivering to it.
    pub fn add(
        &self,
        url: String,
        http: reqwest::Client,
        events: Vec<String>,
        retry: Duration,
        timeout: Duration,
    ) -> usize {
        let mut recipients = lock(&self.recipients);
        let recipient = Arc::new(Recipient {
            id: recipients.len() + 1,
            url,
            http,
            events,
            retry,
            timeout,
            queue: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
            stats: Mutex::new(Stats::default()),
        });
        recipients.push(recipient.clone());
        let id = recipient.id;
        lock(&self.tasks).push(tokio::spawn(deliver(recipient)));
        id
    }

    pub fn clear(&self) {
        lock(&self.recipients).clear();
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }

    /// Queues events, in order, for every recipient that takes them.
    pub fn enqueue(&self, events: &[Fields]) -> usize {
        let mut queued = 0;
        for recipient in lock(&self.recipients).iter() {
            let mut queue = lock(&recipient.queue);
            for event in events {
                let name = field(event, "event");
                if recipient.events.is_empty() || recipient.events.iter().any(|e| e == name) {
                    queue.push_back(event.clone());
                    queued += 1;
                }
            }
            drop(queue);
            recipient.notify.notify_one();
        }
        queued
    }

    pub fn report(&self) -> Vec<Report> {
        lock(&self.recipients)
            .iter()
            .map(|r| {
                let queue = lock(&r.queue);
                Report {
                    id: r.id,
                    url: r.url.clone(),
                    pending: queue.len(),
                    head_event: queue.front().map(|e| field(e, "event").to_owned()),
                    stats: lock(&r.stats).clone(),
                }
            })
            .collect()
    }
}

async fn deliver(recipient: Arc<Recipient>) {
    let http = recipient.http.clone();
    let mut backoff = recipient.retry;
    loop {
        let head = lock(&recipient.queue).front().cloned();
        let Some(event) = head else {
            recipient.notify.notified().await;
            continue;
        };
        let body = serde_urlencoded::to_string(&event).unwrap_or_default();
        let sent = http
            .post(&recipient.url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .timeout(recipient.timeout)
            .send()
            .await;
        let outcome = match sent {
            Ok(response) if response.status().as_u16() == 200 => Ok(()),
            Ok(response) => Err((Some(response.status().as_u16()), format!("HTTP {}", response.status()))),
            Err(e) if e.is_timeout() => Err((None, "timed out".to_owned())),
            Err(e) => Err((None, format!("not delivered: {e}"))),
        };
        let retry = {
            let mut stats = lock(&recipient.stats);
            stats.attempts += 1;
            match outcome {
                Ok(()) => {
                    lock(&recipient.queue).pop_front();
                    stats.delivered += 1;
                    stats.last_status = Some(200);
                    stats.delivered_events.push(format!("{} {}", field(&event, "event"), field(&event, "lsid")));
                    false
                }
                Err((status, error)) => {
                    stats.failures += 1;
                    stats.last_status = status;
                    stats.last_error = Some(error);
                    true
                }
            }
        };
        if retry {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        } else {
            backoff = recipient.retry;
        }
    }
}
