//! `bta-sim`: run a stand-in from the command line. The first line of stdout is the base URL;
//! other tools read it, so nothing else is ever printed before it.

use std::io::Write;
use std::time::Duration;

use bta_sim::autotask::system::{ProxyTimeEntry, SystemSettings, parse_hours};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "bta-sim", version, about = "Stand-ins for Autotask PSA and a BeyondTrust appliance")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a stand-in Autotask zone (REST API v1.0) on 127.0.0.1.
    Autotask(AutotaskArgs),
    /// Serve a stand-in BeyondTrust Remote Support appliance on 127.0.0.1.
    Beyondtrust(BeyondTrustArgs),
}

#[derive(Debug, clap::Args)]
struct BeyondTrustArgs {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// OAuth client id of the API account.
    #[arg(long, default_value = bta_sim::beyondtrust::DEFAULT_CLIENT_ID)]
    client_id: String,
    /// OAuth client secret of the API account.
    #[arg(long, default_value = bta_sim::beyondtrust::DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// Seconds an access token lives.
    #[arg(long, default_value_t = 3600)]
    token_ttl: u64,
    /// Serve HTTPS with a generated certificate (needs --cert-out).
    #[arg(long, requires = "cert_out")]
    tls: bool,
    /// Where to write the PEM of the CA that signed the generated certificate.
    #[arg(long, requires = "tls")]
    cert_out: Option<std::path::PathBuf>,
    /// This appliance's id in outbound events.
    #[arg(long, default_value = "bta-sim-appliance")]
    appliance_id: String,
    /// Start without the demo sessions.
    #[arg(long)]
    empty: bool,
}

#[derive(Debug, clap::Args)]
struct AutotaskArgs {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// API username accepted in the UserName header and by zone discovery.
    #[arg(long, default_value = bta_sim::autotask::DEFAULT_USERNAME)]
    username: String,
    /// API secret accepted in the Secret header.
    #[arg(long, default_value = bta_sim::autotask::DEFAULT_SECRET)]
    secret: String,
    /// API integration code (tracking identifier) accepted in the ApiIntegrationCode header.
    #[arg(long, default_value = bta_sim::autotask::DEFAULT_INTEGRATION_CODE)]
    integration_code: String,
    /// Requests per rolling hour before 429; latency is added past 50 % and 75 % of it.
    #[arg(long, default_value_t = 10_000)]
    hourly_limit: u64,
    /// Milliseconds added to each request past 50 % of the hourly limit (twice that past 75 %).
    #[arg(long, default_value_t = 500)]
    threshold_delay_ms: u64,
    /// Start with no records instead of the demo database.
    #[arg(long)]
    empty: bool,
    /// The "Allow time entries to span over midnight" system setting (off: such entries are refused).
    #[arg(long)]
    allow_midnight_spans: bool,
    /// The Proxy Time Entry system setting.
    #[arg(long, value_enum, default_value = "enabled-for-approvers-and-administrators")]
    proxy_time_entry: ProxyTimeEntry,
    /// The API user's security level is not an administrator's (it may not enter time for others).
    #[arg(long)]
    api_user_not_administrator: bool,
    /// Require a Work Type on tickets (and, in this stand-in, on their time entries).
    #[arg(long)]
    require_work_type: bool,
    /// Business hours in UTC, e.g. 08:00-18:00: entries across their end with a work type that has
    /// an after-hours work type are refused.
    #[arg(long, value_parser = business_hours)]
    business_hours: Option<String>,
    /// Resource ids whose security level does not allow impersonation (every other active resource
    /// but the API user's own may be impersonated).
    #[arg(long, value_delimiter = ',')]
    impersonation_refused_for: Vec<i64>,
}

fn business_hours(text: &str) -> Result<String, String> {
    parse_hours(text).map(|_| text.to_owned()).ok_or_else(|| format!("'{text}' is not HH:MM-HH:MM, opening first"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    match Cli::parse().command {
        Command::Autotask(args) => {
            let config = bta_sim::autotask::Config {
                username: args.username,
                secret: args.secret,
                integration_code: args.integration_code,
                hourly_limit: args.hourly_limit,
                threshold_delay: Duration::from_millis(args.threshold_delay_ms),
                demo: !args.empty,
                system: SystemSettings {
                    allow_time_entries_to_span_midnight: args.allow_midnight_spans,
                    proxy_time_entry: args.proxy_time_entry,
                    api_user_is_administrator: !args.api_user_not_administrator,
                    require_work_type: args.require_work_type,
                    business_hours: args.business_hours,
                    impersonation_refused_for: args.impersonation_refused_for,
                    ..SystemSettings::default()
                },
            };
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
            announce(&format!("http://{}", listener.local_addr()?))?;
            tokio::select! {
                served = bta_sim::autotask::serve(config, listener) => served,
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        }
        Command::Beyondtrust(args) => {
            let config = bta_sim::beyondtrust::Config {
                client_id: args.client_id,
                client_secret: args.client_secret,
                token_ttl: args.token_ttl,
                tls_cert_out: args.cert_out.filter(|_| args.tls),
                appliance_id: args.appliance_id,
                demo: !args.empty,
            };
            let bound = bta_sim::beyondtrust::Bound::bind(config, args.port).await?;
            announce(&bound.base_url)?;
            tokio::select! {
                served = bound.serve() => served,
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        }
    }
}

/// Prints the base URL as the first line of stdout and flushes it, so a parent process can read it at once.
fn announce(base_url: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{base_url}")?;
    out.flush()
}
