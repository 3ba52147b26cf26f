//! The one error type of the BeyondTrust client: what it was doing, the HTTP status, the
//! appliance's own message, and what to do about it.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The settings are wrong before any request is made.
    Settings,
    /// The OAuth client id or secret was refused.
    Credentials,
    /// The API account lacks a permission (HTTP 403).
    Permission,
    /// The appliance answered `<error>` with a message.
    Appliance,
    /// The appliance's certificate is not trusted.
    Certificate,
    /// The request did not complete.
    Network,
    /// A 5xx answer.
    Server,
    /// Something we could not read.
    UnexpectedResponse,
}

#[derive(Debug, Clone)]
pub struct Error {
    /// What the client was doing, as a phrase: "generate a session key".
    pub operation: &'static str,
    pub status: Option<u16>,
    pub kind: ErrorKind,
    /// The appliance's own words (an `<error>` message or OAuth error), verbatim.
    pub message: Option<String>,
    /// Our detail (network or certificate problem), never a secret.
    pub detail: Option<String>,
}

impl Error {
    pub fn new(operation: &'static str, kind: ErrorKind) -> Error {
        Error { operation, status: None, kind, message: None, detail: None }
    }

    pub fn with_status(mut self, status: u16) -> Error {
        self.status = Some(status);
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Error {
        self.message = Some(message.into());
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    /// Whether trying again later may work without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Network | ErrorKind::Server)
    }

    fn advice(&self) -> &'static str {
        match self.kind {
            ErrorKind::Settings => "correct Settings › BeyondTrust",
            ErrorKind::Credentials => {
                "check Settings › BeyondTrust: OAuth Client ID and Client Secret, and that the API account is enabled \
                 in /login › Management › API Configuration"
            }
            ErrorKind::Permission => {
                "give the API account the permission in /login › Management › API Configuration (Command API: Full \
                 Access; Reporting API: support session reports)"
            }
            ErrorKind::Appliance => "see the appliance's message",
            ErrorKind::Certificate => {
                "give the CA certificate file of the appliance's certificate in Settings › BeyondTrust, or (not for \
                 production) turn on Allow Invalid Certificates"
            }
            ErrorKind::Network => "check the network and the appliance host name",
            ErrorKind::Server => "the appliance may be busy or restarting; try again later",
            ErrorKind::UnexpectedResponse => "check that the host name is the B Series Appliance's public site",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Settings => "the settings are not usable",
            ErrorKind::Credentials => "BeyondTrust rejected the OAuth client",
            ErrorKind::Permission => "BeyondTrust refused the API account",
            ErrorKind::Appliance => "the appliance answered with an error",
            ErrorKind::Certificate => "the appliance's certificate is not trusted",
            ErrorKind::Network => "the appliance could not be reached",
            ErrorKind::Server => "the appliance had a server error",
            ErrorKind::UnexpectedResponse => "the appliance answered something unexpected",
        };
        write!(f, "Could not {}: {what}", self.operation)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        for part in [&self.message, &self.detail].into_iter().flatten() {
            write!(f, ": {part}")?;
        }
        write!(f, " — {}", self.advice())
    }
}

impl std::error::Error for Error {}
