//! Group commit for the intake: events that arrive while the store is writing are kept together
//! in the next transaction, so several senders at once cost one disk write (fsync) between them
//! instead of one each. Each event is still answered only once its transaction is on disk.

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};

use crate::store::{Accepted, AsyncStore, NewEvent};

/// Most events kept in one transaction.
const MOST_AT_ONCE: usize = 64;

type Reply = oneshot::Sender<Result<Accepted, String>>;

/// Where the intake hands its events to be kept.
#[derive(Debug, Clone)]
pub struct Keeper {
    events: mpsc::Sender<(NewEvent, Reply)>,
}

impl Keeper {
    /// Starts the writer on the current runtime; it ends when every `Keeper` is dropped.
    pub fn start(store: AsyncStore) -> Keeper {
        let (events, waiting) = mpsc::channel(1024);
        tokio::spawn(write(store, waiting));
        Keeper { events }
    }

    /// Keeps an event: answered once it is on disk (with the events that came with it).
    pub async fn keep(&self, event: NewEvent) -> Result<Accepted, String> {
        let (reply, answer) = oneshot::channel();
        self.events.send((event, reply)).await.map_err(|_| "the store's writer stopped".to_owned())?;
        answer.await.map_err(|_| "the store's writer stopped".to_owned())?
    }
}

async fn write(store: AsyncStore, mut waiting: mpsc::Receiver<(NewEvent, Reply)>) {
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        while batch.len() < MOST_AT_ONCE {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (events, replies): (Vec<NewEvent>, Vec<Reply>) = batch.into_iter().unzip();
        match store.run(move |s| s.accept_all(&events, Utc::now())).await {
            Ok(accepted) => {
                for (reply, accepted) in replies.into_iter().zip(accepted) {
                    let _ = reply.send(Ok(accepted));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}
