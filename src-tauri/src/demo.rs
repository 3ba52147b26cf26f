//! `bt-autotask --demo`: both stand-ins in this process on loopback with their demo data, a
//! profile pointing at them for the demo rep Alex Morgan, secrets held in memory only, and a
//! store in a temporary folder — so a new user sees search, keys, Jump, activity and
//! notifications work in one command, and nothing of theirs is touched.

use std::sync::Arc;

use bta_core::config::{MemoryStore, SecretRef, SecretStore};
use bta_sim::{autotask, beyondtrust};

/// The running stand-ins and the demo's files; dropping it stops them and removes the files.
#[derive(Debug)]
pub struct Demo {
    /// Held so the stand-in serves as long as the demo runs.
    autotask: autotask::Running,
    appliance: beyondtrust::Running,
    dir: tempfile::TempDir,
}

const PROFILE: &str = "Demo";
const REP: &str = "alex.morgan";

/// Starts the stand-ins and writes the demo's configuration; returns it with its secrets.
pub async fn start() -> anyhow::Result<(Demo, Arc<MemoryStore>)> {
    let autotask = autotask::spawn(autotask::Config::default(), 0).await?;
    let appliance = beyondtrust::spawn(beyondtrust::Config::default(), 0).await?;
    let dir = tempfile::Builder::new().prefix("bt-autotask-demo").tempdir()?;
    let config = format!(
        "# The demo: stand-ins on this machine, the demo rep {REP}.\n\
         data_dir = \"data\"\nretry_delay_ms = 5000\nreport_lag_wait_ms = 1000\nticket_watch_seconds = 30\n\n\
         [[profile]]\nname = \"{PROFILE}\"\nappliance_host = \"{}\"\nuse_non_tls_connections = true\n\
         client_id = \"{}\"\nautotask_services_url = \"{}/ATServicesRest\"\nautotask_username = \"{}\"\n\
         polling_interval_minutes = 1\nupdate_time_entry = true\n\
         time_entry_default_data = {{ defaultDomain = \"example.com\", roleName = \"Sample Role\", summaryNotes = \"Remote support session\" }}\n\
         rep_username = \"{REP}\"\nrep_email = \"{REP}@example.com\"\n",
        appliance.host(),
        beyondtrust::DEFAULT_CLIENT_ID,
        autotask.base_url,
        autotask::DEFAULT_USERNAME,
    );
    std::fs::write(dir.path().join("config.toml"), config)?;
    tracing::info!(autotask = autotask.base_url, beyondtrust = appliance.base_url, "demo stand-ins are running");
    let secrets = Arc::new(MemoryStore::default());
    for (setting, value) in [
        ("client_secret", beyondtrust::DEFAULT_CLIENT_SECRET),
        ("autotask_password", autotask::DEFAULT_SECRET),
        ("autotask_integration_code", autotask::DEFAULT_INTEGRATION_CODE),
    ] {
        secrets
            .set(&SecretRef::store_key(PROFILE, setting), &bta_core::Secret::new(value))
            .map_err(anyhow::Error::msg)?;
    }
    Ok((Demo { autotask, appliance, dir }, secrets))
}

impl Demo {
    pub fn config_path(&self) -> std::path::PathBuf {
        self.dir.path().join("config.toml")
    }

    /// Ends three of Alex's sessions on the appliance: one is written at once; the second's time
    /// entry is refused once, as Autotask refuses time on a submitted timesheet — so Activity
    /// shows the failure with what to do, Not in a ticket keeps its time, and Retry (the
    /// timesheet reopened) writes it without writing the note twice; the third came in through
    /// the portal with no ticket, so Not in a ticket offers it to attach.
    pub async fn end_sessions(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let refuse_once = serde_json::json!({"method": "POST", "path": "/ATServicesRest/v1.0/TimeEntries", "status": 500,
            "count": 1, "errors": ["A TimeEntry may only be added to a timesheet with the status of New or Rejected; \
            this resource's timesheet for the week has been submitted or approved."]});
        let faults = format!("{}/_sim/faults", self.autotask.base_url);
        client.post(faults).json(&refuse_once).send().await?.error_for_status()?;
        let sessions = [
            serde_json::json!({"external_key": "7201", "duration": 902, "reps": [{"username": REP}],
                "customer": {"name": "Dana Whitfield", "company": "Contoso Ltd", "issue": "Outlook / E-mail",
                             "details": "Outlook keeps asking for my password"},
                "chat": [{"from": "rep", "text": "Hi Dana, connecting now."}, {"from": "customer", "text": "Thanks!"}],
                "notes": ["Removed a stale Outlook credential from Credential Manager."]}),
            serde_json::json!({"external_key": "7206", "duration": 300, "reps": [{"username": REP}],
                "customer": {"name": "Miguel Ortega", "company": "Dynamo Corporation", "issue": "VPN Access"},
                "chat": [{"from": "rep", "text": "The VPN profile is reinstalled; try now."}]}),
            serde_json::json!({"external_key": "", "duration": 1500, "reps": [{"username": REP}],
                "customer": {"name": "Pat Lee", "company": "Dynamo Corporation", "issue": "Printer offline",
                             "details": "The office printer shows offline for everyone"},
                "chat": [{"from": "rep", "text": "The print spooler is restarted; the printer is back."}]}),
        ];
        for session in sessions {
            let url = format!("{}/_sim/sessions", self.appliance.base_url);
            client.post(url).json(&session).send().await?.error_for_status()?;
        }
        Ok(())
    }
}
