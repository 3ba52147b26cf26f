//! Demo data: a few finished sessions by the demo reps, of varied length and content, tied to
//! the Autotask stand-in's demo tickets (and one that is tied to none).

use chrono::{Duration, Utc};
use serde_json::json;

use super::Sim;
use super::sessions::Scenario;
use crate::people::DEMO_REPS;

fn scenario(value: serde_json::Value) -> Option<Scenario> {
    serde_json::from_value(value).ok()
}

pub fn load(sim: &Sim) {
    let now = Utc::now();
    let rep = |i: usize| json!({"username": DEMO_REPS[i % DEMO_REPS.len()].username, "id": i + 1});
    let ago = |hours: i64| (now - Duration::hours(hours)).timestamp();
    let scenarios = [
        json!({
            "external_key": "7201", "start_time": ago(26), "duration": 902, "reps": [rep(0)],
            "customer": {"name": "Dana Whitfield", "company": "Contoso Ltd", "issue": "Outlook / E-mail",
                         "details": "Outlook keeps asking for my password", "hostname": "WS-0042",
                         "custom": {"customer_email": "dana.whitfield@contoso.example"}},
            "chat": [
                {"from": "rep", "text": "Hi Dana, I'm Alex from the help desk. I'm connecting to your PC now."},
                {"from": "customer", "text": "Thanks! It asks for my password every few minutes."},
                {"from": "rep", "text": "I see a stale entry in Credential Manager. Removing it now."},
                {"from": "customer", "text": "It stopped asking. Great!"}
            ],
            "notes": ["Removed stale Outlook credential from Credential Manager; re-authenticated with MFA."],
            "files": [{"name": "outlook-diagnostics.log", "size": 48213, "direction": "from_customer"}],
            "surveys": {"customer": [{"label": "How satisfied were you with this session?", "answer": "Very satisfied"}]}
        }),
        json!({
            "external_key": "T20261123.0049", "start_time": ago(20), "duration": 2710, "reps": [rep(1), rep(2)],
            "customer": {"name": "Miguel Ortega", "company": "Dynamo Corporation", "issue": "VPN Access",
                         "details": "VPN drops every 10 minutes", "hostname": "WS-0107"},
            "chat": [
                {"from": "rep", "text": "Hello Miguel, let's look at the VPN client logs."},
                {"from": "customer", "text": "Sure, it just dropped again."},
                {"from": "jordan.kim", "text": "Jordan here from networking — the client is two versions behind."},
                {"from": "rep", "text": "Updating the VPN client now; you'll be disconnected for a minute."}
            ],
            "notes": ["Updated GlobalProtect to 6.2.4; raised keep-alive to 60 s.", "Escalated firmware review to networking."],
            "surveys": {"rep": [{"label": "Was the issue resolved?", "answer": "Yes"}]}
        }),
        json!({
            "external_key": "", "start_time": ago(8), "duration": 240, "reps": [rep(3)],
            "customer": {"name": "Walk-in caller", "issue": "Printing", "details": "Printer offline"},
            "chat": [{"from": "rep", "text": "The printer queue was paused; resumed it."}]
        }),
        json!({
            "external_key": "7205", "start_time": ago(3), "duration": 95, "reps": [rep(0)],
            "customer": {"name": "Mei Tanaka", "company": "Woodgrove Bank", "issue": "Account Access"},
            "chat": [{"from": "customer", "text": "I'm locked out after the password change."}],
            "notes": ["Unlocked account in AD; advised on password sync delay."]
        }),
    ];
    let mut state = sim.state();
    for value in scenarios {
        if let Some(s) = scenario(value) {
            state.sessions.push(s.into_session(now));
        }
    }
}
