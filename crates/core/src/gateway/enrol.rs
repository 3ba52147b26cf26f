//! Enrolment: the desk's administrator makes a one-time code for a rep (`bt-autotask-worker rep
//! add`), sent to the rep as a `bt-autotask://enrol?…` link; the rep's app takes it to
//! `POST /desk/enrol` once and gets its own rep token back. The code is 100 random bits, works
//! once and only until it expires; the store keeps both only as keyed hashes.

use base64::Engine;
use chrono::{DateTime, Utc};
use url::Url;

use super::feed::Feeds;
use crate::Secret;
use crate::autotask::{AutotaskClient, Filter, Query, Resource};
use crate::config::{DeskRole, Profile};
use crate::desk_api::Enrolled;
use crate::store::{AsyncStore, NewRep, StoreError};

/// The letters codes are made of: Crockford's base 32, without I, L, O and U, which are read
/// wrong or make words.
const CODE_LETTERS: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Letters in a code: 20 of 32 (100 bits), shown in groups of 5.
const CODE_LENGTH: usize = 20;
/// What a rep token starts with, so that secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "btarep_";

/// A new one-time enrolment code: `K7M2Q-4XW9D-…`.
pub fn new_code() -> Secret {
    let letters: Vec<u8> = (0..CODE_LENGTH).map(|_| CODE_LETTERS[rand::random_range(0..32)]).collect();
    let groups: Vec<&str> = letters.chunks(5).filter_map(|g| std::str::from_utf8(g).ok()).collect();
    Secret::new(groups.join("-"))
}

/// A code as typed or pasted, in the one form it is hashed in: upper case, in groups of 5, with
/// the letters people mistake for digits read as those digits (O → 0, I and L → 1).
pub fn normalise_code(typed: &str) -> String {
    let letters: Vec<u8> = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => b'0',
            'I' | 'L' => b'1',
            c => c as u8,
        })
        .collect();
    let groups: Vec<&str> = letters.chunks(5).filter_map(|g| std::str::from_utf8(g).ok()).collect();
    groups.join("-")
}

/// A new rep token: 32 random bytes, URL-safe base64, after [`TOKEN_PREFIX`].
pub fn new_rep_token() -> Secret {
    let bytes: [u8; 32] = rand::random();
    Secret::new(format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

/// What `rep add` makes: the code, the link that carries it, and when it stops working.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub username: String,
    pub email: String,
    pub code: Secret,
    /// `bt-autotask://enrol?desk=<worker URL>&code=<code>[&pin=sha256:<certificate>]`: holds the
    /// code, so it is a secret until used.
    pub link: Secret,
    pub expires: DateTime<Utc>,
}

impl Invitation {
    /// The message that brings a rep their own link: the link, until when it works, and that it
    /// is theirs alone — nothing else, nobody else's.
    pub fn mail(&self) -> (String, String) {
        let subject = "Your link to join the desk in bt-autotask".to_owned();
        let body = format!(
            "Hello {username},\n\n\
             your desk has set up bt-autotask for you. To connect the app on your computer to the desk,\n\
             open this link on that computer (the app opens and asks you to enrol):\n\n\
             {link}\n\n\
             If the link does not open the app, paste it into the app's Settings and choose Enrol.\n\
             It works once, until {expires} UTC. It is yours alone: do not forward it.\n\
             If the app is not on your computer yet, ask your desk lead for it.\n",
            username = self.username,
            link = self.link.expose(),
            expires = self.expires.format("%Y-%m-%d %H:%M"),
        );
        (subject, body)
    }
}

/// Why a rep could not be invited.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error(
        "profile '{0}' does not serve the desk: set desk_watch = true in it (reps enrol with the worker that serves their desk)"
    )]
    NotServing(String),
    #[error(
        "no e-mail is known for '{0}': give it with --email, or set defaultDomain in the profile's time_entry_default_data"
    )]
    NoEmail(String),
    #[error(
        "no Autotask resource has the e-mail {0}; give the rep's Autotask e-mail with --email (the rep must be a resource in Autotask)"
    )]
    UnknownResource(String),
    #[error("the Autotask resource {0} is not active; make it active in Autotask first")]
    InactiveResource(String),
    #[error("'{0}' is not a BeyondTrust username: use the rep's username as the appliance shows it")]
    BadUsername(String),
    #[error("Autotask could not be asked who the rep is: {0}")]
    Autotask(#[from] crate::autotask::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Finds the rep as an active Autotask resource (by `email`, else `<username>@<defaultDomain>`)
/// and makes their one-time code, working for the profile's `enrolment_hours`.
/// The pin of the worker's certificate for enrolment links (none over plain HTTP), so an app
/// trusts this worker when its certificate is not from a public CA.
pub fn certificate_pin(config: &crate::config::WorkerConfig) -> Result<Option<String>, String> {
    let Some(files) = &config.tls else { return Ok(None) };
    let certified = files.load().map_err(|e| format!("the worker's certificate: {e}"))?;
    Ok(certified.cert.first().map(|c| crate::desk_api::certificate_pin(c)))
}

pub async fn invite(
    store: &AsyncStore,
    profile: &Profile,
    username: &str,
    email: Option<&str>,
    desk: &Url,
    also: &[Url],
    pin: Option<&str>,
) -> Result<Invitation, InviteError> {
    if !matches!(profile.desk, DeskRole::Serves) {
        return Err(InviteError::NotServing(profile.name.clone()));
    }
    let username = username.trim();
    if username.is_empty() || username.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(InviteError::BadUsername(username.to_owned()));
    }
    let email = match email {
        Some(email) => email.trim().to_owned(),
        None => match profile.time_entry_default_data.default_domain() {
            Some(domain) => format!("{username}@{domain}"),
            None => return Err(InviteError::NoEmail(username.to_owned())),
        },
    };
    let resource_id = active_resource(&AutotaskClient::new(profile.autotask.clone())?, &email).await?;
    let rep =
        NewRep { profile: profile.name.clone(), username: username.to_owned(), email: email.clone(), resource_id };
    let code = new_code();
    let now = Utc::now();
    let expires = now + chrono::Duration::seconds((profile.enrolment_hours * 3600.0) as i64);
    let kept = code.clone();
    store.run(move |s| s.invite_rep(&rep, &kept, expires, now)).await?;
    let link = link(desk, also, &code, pin);
    Ok(Invitation { username: username.to_owned(), email, code, link, expires })
}

/// The rep's Autotask resource id, when the resource is active.
async fn active_resource(autotask: &AutotaskClient, email: &str) -> Result<i64, InviteError> {
    let query = Query::new(Filter::eq("email", email)).include_fields(["id", "isActive"]).max_records(1);
    let found = autotask.query_page::<Resource>(&query).await?.items.into_iter().next();
    let resource = found.ok_or_else(|| InviteError::UnknownResource(email.to_owned()))?;
    match (resource.id, resource.is_active) {
        (_, Some(false)) => Err(InviteError::InactiveResource(email.to_owned())),
        (Some(id), _) => Ok(id),
        (None, _) => Err(InviteError::UnknownResource(email.to_owned())),
    }
}

fn link(desk: &Url, also: &[Url], code: &Secret, pin: Option<&str>) -> Secret {
    let link = crate::desk_api::EnrolLink {
        desk: desk.clone(),
        also: also.to_vec(),
        code: code.expose().to_owned(),
        pin: pin.map(str::to_owned),
    };
    Secret::new(link.to_link())
}

/// Why a code gave no token.
#[derive(Debug)]
pub enum NotTaken {
    /// Unknown, used, expired or revoked: told apart to no one.
    WrongCode,
    /// The rep's profile serves no desk (any more).
    NotServed(String),
    /// Autotask could not be asked for the web address the app needs; the code is not used up.
    AutotaskUnreachable(String),
    Store(StoreError),
}

/// Takes a code (as typed) once: the rep's new token, and what their app needs. Everything the
/// answer needs is asked before the code is taken, so an answer that cannot be made does not use
/// the code up.
pub async fn take(feeds: &Feeds, store: &AsyncStore, typed: &str) -> Result<Enrolled, NotTaken> {
    let code = normalise_code(typed);
    let asked = code.clone();
    let invited = store.run(move |s| s.invited_by_code(&asked)).await.map_err(NotTaken::Store)?;
    let invited = invited.ok_or(NotTaken::WrongCode)?;
    let feed = feeds.of_profile(&invited.profile).ok_or_else(|| NotTaken::NotServed(invited.profile.clone()))?;
    let web =
        feed.autotask.zone().await.map_err(|e| NotTaken::AutotaskUnreachable(e.to_string()))?.web_root.to_string();
    let token = new_rep_token();
    let kept = token.clone();
    let rep = store.run(move |s| s.enrol_rep(&code, &kept, Utc::now())).await.map_err(NotTaken::Store)?;
    let rep = rep.ok_or(NotTaken::WrongCode)?;
    let profile = feed.profile();
    Ok(Enrolled {
        token: token.expose().to_owned(),
        profile: rep.profile,
        appliance_id: profile.appliance_id.clone(),
        appliance_host: profile.beyondtrust.host.clone(),
        appliance_url: profile.beyondtrust.base_url().map(String::from).unwrap_or_default(),
        autotask_web_url: web,
        username: rep.username,
        email: rep.email,
        resource_id: rep.resource_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_100_bits_in_groups_and_read_back_as_typed() {
        let (a, b) = (new_code(), new_code());
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 23);
        assert_eq!(normalise_code(a.expose()), a.expose());
        let typed = a.expose().to_lowercase().replace('-', " ");
        assert_eq!(normalise_code(&typed), a.expose(), "lower case, spaces");
        assert_eq!(normalise_code("k7m2q-4xw9d-olil0"), "K7M2Q-4XW9D-01110", "O, I and L as the digits they look like");
    }

    #[test]
    fn tokens_are_long_random_and_recognisable() {
        let (a, b) = (new_rep_token(), new_rep_token());
        assert!(a.expose().starts_with(TOKEN_PREFIX) && a.expose().len() == TOKEN_PREFIX.len() + 43);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn the_link_carries_the_desk_the_code_and_the_pin() {
        let desk = Url::parse("https://desk.example.com:8180/").unwrap();
        let code = Secret::new("K7M2Q-4XW9D-ABCDE-FGHJK");
        let link = Url::parse(link(&desk, &[], &code, Some("sha256:abc")).expose()).unwrap();
        assert_eq!((link.scheme(), link.host_str()), ("bt-autotask", Some("enrol")));
        let pairs: std::collections::HashMap<_, _> = link.query_pairs().into_owned().collect();
        assert_eq!(pairs["desk"], "https://desk.example.com:8180/");
        assert_eq!(pairs["code"], code.expose());
        assert_eq!(pairs["pin"], "sha256:abc");
    }
}
