//! The desk's endpoints on the worker's listener, and the one place that decides who may use
//! them: every `/desk/*` request but enrolment shows a rep token; the rep it belongs to (never
//! anything the request says) is handed to the endpoint as a [`Caller`], within the rep's limits.
//! A right token or code is served whatever its address did before; wrong ones are counted per
//! address. Refusals are answered, counted and logged here, never with the token shown.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::enrol::{self, NotTaken};
use super::feed::{Feed, Feeds};
use super::limits::Limits;
use super::mine;
use super::refusal::Refusal;
use super::reps::RepDirectory;
use crate::desk_api::EnrolRequest;
use crate::desk_api::{ENROL_PATH, PATH, SEARCH_PATH, SESSION_KEY_PATH};
use crate::store::{AsyncStore, KeyedHash, Rep};

/// The rep a request's token proved, and their profile's feed.
#[derive(Debug, Clone)]
pub struct Caller {
    pub rep: Arc<Rep>,
    pub feed: Arc<Feed>,
    /// The keyed hash of the token shown: a request that waits asks again whether it still works.
    token: KeyedHash,
    reps: Arc<RepDirectory>,
    limits: Arc<Limits>,
}

impl Caller {
    /// Completes once the token this request showed stops working (revoked, or replaced).
    pub async fn revoked(&self) {
        self.reps.until_gone(&self.token).await
    }

    /// Counts one search of this rep that asks Autotask itself, within their hourly budget.
    pub async fn ask_autotask(&self) -> Result<(), Refusal> {
        let rep = (self.rep.profile.as_str(), self.rep.username.as_str());
        let taken = self.limits.autotask_search(rep).await;
        taken.map_err(|wait| Refusal::AutotaskBudget(wait, self.limits.autotask_per_hour()))
    }
}

/// What the desk's endpoints share.
#[derive(Debug, Clone)]
pub struct DeskServer {
    feeds: Feeds,
    reps: Arc<RepDirectory>,
    limits: Arc<Limits>,
    store: AsyncStore,
    /// Wakes the job runner after an attach or a retry.
    wake: Arc<tokio::sync::Notify>,
}

impl DeskServer {
    /// `autotask_per_hour`: the searches one rep may have reach Autotask in an hour.
    pub fn new(
        feeds: Feeds,
        reps: Arc<RepDirectory>,
        store: AsyncStore,
        wake: Arc<tokio::sync::Notify>,
        autotask_per_hour: u32,
    ) -> DeskServer {
        let limits = Arc::new(Limits::new(autotask_per_hour, store.clone()));
        DeskServer { feeds, reps, limits, store, wake }
    }

    /// Every desk endpoint, for the worker's listener.
    pub fn routes(self) -> Router {
        let authenticated = axum::middleware::from_fn_with_state(self.clone(), authenticate);
        let for_reps = Router::new()
            .route(PATH, get(super::feed::changes))
            .route(SEARCH_PATH, get(super::search::search))
            .route(SESSION_KEY_PATH, post(super::keys::session_key))
            .route(mine::ACTIVITY_PATH, get(mine::activity))
            .route(mine::UNLINKED_PATH, get(mine::unlinked))
            .route(mine::ATTACH_PATH, post(mine::attach))
            .route(mine::DISMISS_PATH, post(mine::dismiss))
            .route(mine::RETRY_PATH, post(mine::retry))
            .route_layer(authenticated)
            .layer(axum::Extension(mine::Context { store: self.store.clone(), wake: self.wake.clone() }))
            .with_state(self.feeds.clone());
        // Autotask's callouts prove themselves by their signature, not a rep's token.
        let callouts = Router::new()
            .route(super::webhook::PATH, post(super::webhook::callout))
            .route(super::webhook::DEACTIVATED_PATH, post(super::webhook::deactivated))
            .with_state(self.feeds.clone());
        let limits = self.limits.clone();
        Router::new()
            .route(ENROL_PATH, post(enrol))
            .with_state(self)
            .merge(for_reps)
            .merge(callouts)
            .layer(axum::Extension(limits))
    }

    /// How current each profile's copy of the tickets is.
    pub async fn ticket_copies(&self) -> Vec<(String, Result<super::copy::Freshness, super::copy::CopyError>)> {
        self.feeds.freshness().await
    }

    /// Each profile's ticket webhook, where the desk takes them.
    pub fn webhooks(&self) -> Vec<(String, super::webhook::HookStatus)> {
        self.feeds.webhooks()
    }

    /// Takes the store's reps now (an app just enrolled).
    async fn reps_changed(&self) {
        if let Err(e) = self.reps.refresh().await {
            tracing::warn!("the desk's reps could not be read: {e}");
        }
    }

    /// Counts a wrong code from `address`, and answers it.
    fn wrong_code(&self, address: IpAddr) -> Response {
        match self.limits.failed(address) {
            Some(wait) => Refusal::Slowed(wait).answer(address),
            None => Refusal::Code.answer(address),
        }
    }

    /// The rep a request's token belongs to, within their limits.
    async fn caller(&self, headers: &HeaderMap, address: IpAddr) -> Result<Caller, Refusal> {
        let shown =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let hash = match shown.map(|token| self.reps.hash(token.trim())) {
            Some(Ok(hash)) => Some(hash),
            Some(Err(e)) => return Err(Refusal::Store(e.to_string())),
            None => None,
        };
        let known = match hash {
            Some(hash) => self.reps.who_now(&hash).await.map(|rep| (hash, rep)),
            None => None,
        };
        let Some((token, rep)) = known else {
            return Err(match self.limits.failed(address) {
                Some(wait) => Refusal::Slowed(wait),
                None => Refusal::Token,
            });
        };
        self.limits.request((&rep.profile, &rep.username)).map_err(Refusal::Limited)?;
        let feed = self.feeds.of_profile(&rep.profile).ok_or_else(|| Refusal::NotServed(rep.profile.clone()))?;
        self.reps.seen(&rep, app_version(headers));
        Ok(Caller { rep, feed, token, reps: self.reps.clone(), limits: self.limits.clone() })
    }
}

/// The app's version from its `User-Agent` (`bt-autotask/0.1.0`), kept short and printable.
fn app_version(headers: &HeaderMap) -> Option<String> {
    let agent = headers.get(header::USER_AGENT)?.to_str().ok()?;
    let version = agent.strip_prefix("bt-autotask/")?.split_whitespace().next()?;
    let clean = version.chars().take(32).all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c));
    clean.then(|| version.chars().take(32).collect())
}

/// `POST /desk/enrol`: a code taken once gives the rep's token; any other answers 401 and says
/// nothing more. Addresses that keep showing wrong codes are told to wait; a right code is
/// taken whatever its address did.
async fn enrol(
    State(server): State<DeskServer>,
    connection: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    axum::Json(ask): axum::Json<EnrolRequest>,
) -> Response {
    let address = connection.map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.0.ip());
    match enrol::take(&server.feeds, &server.store, &ask.code).await {
        Ok(enrolled) => {
            server.reps_changed().await;
            tracing::info!(profile = enrolled.profile, rep = enrolled.username, %address, "a rep's app enrolled");
            axum::Json(enrolled).into_response()
        }
        Err(NotTaken::WrongCode) => server.wrong_code(address),
        Err(NotTaken::NotServed(profile)) => Refusal::NotServed(profile).answer(address),
        Err(NotTaken::Store(e)) => Refusal::Store(e.to_string()).answer(address),
        Err(NotTaken::AutotaskUnreachable(e)) => {
            let said = format!("the desk's worker cannot reach Autotask to enrol you ({e}); try again in a while");
            (StatusCode::BAD_GATEWAY, said).into_response()
        }
    }
}

/// Lets a request with a rep's token through, as that rep; refuses the rest.
async fn authenticate(State(server): State<DeskServer>, mut request: Request, next: Next) -> Response {
    let address =
        request.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    match server.caller(request.headers(), address).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(refusal) => refusal.answer(address),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_app_version_is_taken_only_when_it_looks_like_one() {
        let headers = |agent: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::USER_AGENT, HeaderValue::from_str(agent).unwrap_or(HeaderValue::from_static("x")));
            h
        };
        assert_eq!(app_version(&headers("bt-autotask/0.1.0")).as_deref(), Some("0.1.0"));
        assert_eq!(app_version(&headers("bt-autotask/0.2.0-rc.1 (Windows)")).as_deref(), Some("0.2.0-rc.1"));
        assert_eq!(app_version(&headers("curl/8.0")), None);
        assert_eq!(app_version(&headers("bt-autotask/<script>")), None);
    }
}
