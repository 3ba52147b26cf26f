//! Mail through the desk's relay ([`crate::config::SmtpSettings`]): one message to one address,
//! over TLS unless the relay is on this machine and offers none. The console sends each rep their own
//! enrolment link this way; a message holds only what its one reader is to read.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{SmtpSecurity, SmtpSettings};

/// How long the relay has to answer each step.
const RELAY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the mail relay {relay} is not set up right: {message}")]
    Setup { relay: String, message: String },
    #[error("'{0}' is not an e-mail address a message can go to")]
    BadAddress(String),
    #[error("the mail relay {relay} did not take the message to {to}: {message}")]
    Refused { relay: String, to: String, message: String },
}

/// The desk's relay, ready to send.
#[derive(Clone)]
pub struct Mailer {
    relay: String,
    from: Mailbox,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("relay", &self.relay).field("from", &self.from).finish_non_exhaustive()
    }
}

impl Mailer {
    pub fn new(settings: &SmtpSettings) -> Result<Mailer, MailError> {
        let relay = format!("{}:{}", settings.host, settings.port);
        let setup = |message: String| MailError::Setup { relay: relay.clone(), message };
        let from = settings.from.parse::<Mailbox>().map_err(|e| setup(format!("smtp_from: {e}")))?;
        let tls = tls_for(settings).map_err(setup)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
            .port(settings.port)
            .tls(tls);
        if let Some((user, password)) = &settings.login {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Mailer { relay, from, transport: builder.timeout(Some(RELAY_TIMEOUT)).build() })
    }

    /// Sends a plain-text message to one address.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let mailbox = to.parse::<Mailbox>().map_err(|_| MailError::BadAddress(to.to_owned()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(mailbox)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|_| MailError::BadAddress(to.to_owned()))?;
        self.transport.send(message).await.map(drop).map_err(|e| MailError::Refused {
            relay: self.relay.clone(),
            to: to.to_owned(),
            message: e.to_string(),
        })
    }
}

/// TLS as `smtp_url` asks, trusting the system's roots and `smtp_ca_file`'s CA.
fn tls_for(settings: &SmtpSettings) -> Result<Tls, String> {
    let mut tls = TlsParameters::builder(settings.host.clone());
    if let Some(path) = &settings.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("smtp_ca_file {}: {e}", path.display()))?;
        let ca = Certificate::from_pem(&pem).map_err(|e| format!("smtp_ca_file {}: {e}", path.display()))?;
        tls = tls.add_root_certificate(ca);
    }
    let tls = tls.build_rustls().map_err(|e| e.to_string())?;
    Ok(match settings.security {
        SmtpSecurity::Tls => Tls::Wrapper(tls),
        SmtpSecurity::StartTls => Tls::Required(tls),
        SmtpSecurity::Local => Tls::Opportunistic(tls),
    })
}
