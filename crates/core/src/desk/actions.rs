//! The rep's one-click actions on a ticket: a session key tied to it, and Jump to its
//! configuration item.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

use super::error::DeskError;
use crate::beyondtrust::{self, BeyondTrustClient, Queue, SessionKeyRequest, livelinks};
use crate::desk_api::TicketRow;

/// A session key for a ticket: from the Command API, or — when the API account may not make
/// keys — the rep console's own Generate Session Key dialog, tied to the ticket.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyOffer {
    Key {
        short_key: String,
        key_url: String,
        /// A ready invitation to the ticket's contact (`mailto:`), when the ticket has one.
        invitation: Option<Url>,
    },
    ConsoleLink(Url),
}

pub async fn session_key(
    beyondtrust: &BeyondTrustClient,
    ticket: &TicketRow,
    rep_username: &str,
) -> Result<KeyOffer, DeskError> {
    let mut request = SessionKeyRequest::new(Queue::RepUsername(rep_username.to_owned()));
    request.external_key = Some(ticket.id.to_string());
    match beyondtrust.generate_session_key(&request).await {
        Ok(key) => {
            let invitation = ticket.contact_email.as_ref().and_then(|email| {
                let subject =
                    key.mail_subject.clone().unwrap_or_else(|| format!("Remote support for {}", ticket.number));
                let body = key
                    .mail_body
                    .clone()
                    .unwrap_or_else(|| format!("Open {} and enter {}", key.key_url, key.short_key));
                let encode = |t: &str| utf8_percent_encode(t, NON_ALPHANUMERIC).to_string();
                Url::parse(&format!("mailto:{email}?subject={}&body={}", encode(&subject), encode(&body))).ok()
            });
            Ok(KeyOffer::Key { short_key: key.short_key, key_url: key.key_url, invitation })
        }
        Err(e) if e.kind == beyondtrust::ErrorKind::Permission => {
            Ok(KeyOffer::ConsoleLink(livelinks::session_key_link(beyondtrust.base_url(), &ticket.id.to_string())))
        }
        Err(e) => Err(e.into()),
    }
}

/// The seed's Jump LiveLink for the ticket's device.
pub fn jump(appliance: &Url, ticket: &TicketRow) -> Result<Url, DeskError> {
    let device = ticket.device.as_deref().ok_or_else(|| DeskError::NoConfigurationItem(ticket.number.clone()))?;
    Ok(livelinks::jump_link(appliance, device, &ticket.id.to_string()))
}

/// A key the desk's worker made, as the app offers it.
pub(super) fn offer(answer: crate::desk_api::KeyAnswer) -> Option<KeyOffer> {
    if let Some(link) = answer.console_link {
        return Url::parse(&link).ok().map(KeyOffer::ConsoleLink);
    }
    Some(KeyOffer::Key {
        short_key: answer.short_key?,
        key_url: answer.key_url?,
        invitation: answer.invitation.and_then(|i| Url::parse(&i).ok()),
    })
}
