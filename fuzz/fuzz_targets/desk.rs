//! The desk's endpoints on the worker's listener, as any client on the network reaches them: a
//! route, with or without an enrolled rep's token, and a body or query of the fuzzer's making,
//! through the real router (authentication, limits, extractors, handlers, the store). Every
//! answer is a refusal or an answer, never a panic and never a 500: a bad request is said to be
//! one. The worker's Autotask and appliance are unreachable ports on this machine, so what would
//! ask them fails fast; a request still waiting after 200 ms (a long poll) is fine.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use bta_core::Secret;
use bta_core::config::{MemoryStore, SecretRef, SecretStore, WorkerConfig};
use bta_core::store::{AsyncStore, NewRep, Store};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

/// Reps enrolled for the run: each has a request allowance of its own, so the fuzzer gets past
/// the limits to the handlers.
const REPS: usize = 64;

const ROUTES: [(&str, &str); 11] = [
    ("GET", "/desk/changes"),
    ("GET", "/desk/search"),
    ("POST", "/desk/session-key"),
    ("GET", "/desk/activity"),
    ("GET", "/desk/unlinked"),
    ("POST", "/desk/unlinked/attach"),
    ("POST", "/desk/unlinked/dismiss"),
    ("POST", "/desk/retry"),
    ("POST", "/desk/enrol"),
    ("POST", "/desk/autotask/tickets?appliance=default"),
    ("POST", "/ERSPost"),
];

struct Desk {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    tokens: Vec<String>,
    _stop: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

fn desk() -> &'static Desk {
    static DESK: OnceLock<Desk> = OnceLock::new();
    DESK.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let text = "listen = \"127.0.0.1:8180\"\n\n[[profile]]\nname = \"Desk\"\nappliance_host = \"127.0.0.1:9\"\n\
            use_non_tls_connections = true\nclient_id = \"fuzz\"\nautotask_services_url = \"http://127.0.0.1:9/ATServicesRest\"\n\
            autotask_username = \"fuzz@example.com\"\ndesk_watch = true\n\
            outbound_event_types = [\"support_session_end\", \"customer_exit_survey_is_completed\"]\n";
        let secrets = MemoryStore::default();
        for setting in ["client_secret", "autotask_password", "autotask_integration_code"] {
            secrets.set(&SecretRef::store_key("Desk", setting), &Secret::new("fuzz")).expect("kept");
        }
        let config = Arc::new(WorkerConfig::parse(text, dir.path(), &secrets).expect("the fuzz desk's configuration"));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let (router, tokens) = runtime.block_on(async {
            let store = AsyncStore::new(Store::open(&dir.path().join("worker.sqlite3")).expect("the store"));
            let now = chrono::Utc::now();
            let mut tokens = Vec::new();
            for n in 0..REPS {
                let rep = NewRep {
                    profile: "Desk".into(),
                    username: format!("rep{n}"),
                    email: format!("rep{n}@example.com"),
                    resource_id: n as i64 + 1,
                };
                let (code, token) = (Secret::new(format!("CODE{n}")), Secret::new(format!("btarep_fuzz{n:0>40}")));
                store.blocking().invite_rep(&rep, &code, now + chrono::Duration::hours(1), now).expect("invited");
                store.blocking().enrol_rep(code.expose(), &token, now).expect("enrolled");
                tokens.push(token.expose().to_owned());
            }
            let feeds = bta_core::gateway::feed::Feeds::new(&config, &store, stopping).expect("the desk's feeds");
            let reps = Arc::new(bta_core::gateway::reps::RepDirectory::load(store.clone()).expect("the reps"));
            let wake = Arc::new(tokio::sync::Notify::new());
            let desk = bta_core::gateway::server::DeskServer::new(feeds, reps, store.clone(), wake.clone(), 200);
            let router = bta_core::intake::Intake::new(config.clone(), store, wake).with_desk(desk).router();
            (router, tokens)
        });
        Desk { runtime, router, tokens, _stop: stop, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let [route, rep, rest @ ..] = data else { return };
    let desk = desk();
    let (method, path) = ROUTES[*route as usize % ROUTES.len()];
    let mut request = Request::builder().method(method).header("Content-Type", "application/json");
    let body = if method == "GET" {
        let Ok(query) = std::str::from_utf8(rest) else { return };
        request = request.uri(format!("{path}?{query}"));
        Body::empty()
    } else {
        request = request.uri(path);
        Body::from(rest.to_vec())
    };
    if rep & 0x80 != 0 {
        let token = &desk.tokens[*rep as usize % REPS];
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    // A query that makes no URI is refused before the worker sees it.
    let Ok(mut request) = request.body(body) else { return };
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40000))));
    let answered = desk.runtime.block_on(async {
        tokio::time::timeout(Duration::from_millis(200), desk.router.clone().oneshot(request)).await
    });
    if let Ok(Ok(response)) = answered {
        assert_ne!(response.status().as_u16(), 500, "{method} {path}: a 500 where a bad request should be said");
    }
});
