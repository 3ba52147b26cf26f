//! A mail relay of the tests' own on loopback, as strict as a desk's: it speaks enough SMTP
//! (RFC 5321) for a client to hand it messages — EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT — takes a login only over TLS and mail only after one, and keeps each message
//! as it was received, its body decoded from quoted-printable as a mail reader would show it.

use std::sync::{Arc, Mutex};

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// The login the sink takes (`AUTH PLAIN`), and only over TLS, as a desk's relay does.
pub const RELAY_USER: &str = "desk-relay";
pub const RELAY_PASSWORD: &str = "relay-pass-9f3c";
/// Where a started worker finds [`RELAY_PASSWORD`] (`smtp_password_env`).
pub const RELAY_PASSWORD_ENV: &str = "BTA_TEST_SMTP_PASSWORD";

/// One message handed over.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Whether it came over TLS (after STARTTLS) and from the relay's login.
    pub over_tls: bool,
    pub logged_in: bool,
    /// Header lines as sent.
    pub headers: String,
    /// The body, quoted-printable decoded.
    pub body: String,
}

/// The running sink; it stops with the test's runtime.
#[derive(Debug)]
pub struct SmtpSink {
    pub port: u16,
    /// The CA (PEM) that signed the sink's certificate for `localhost` and 127.0.0.1.
    pub ca_pem: String,
    received: Arc<Received>,
}

/// What the sink was handed: the messages, and how many logins came before TLS.
#[derive(Debug, Default)]
struct Received {
    mails: Mutex<Vec<Mail>>,
    logins_in_clear: std::sync::atomic::AtomicUsize,
}

impl SmtpSink {
    /// A relay that offers STARTTLS and, once TLS is up, `AUTH PLAIN`; it takes mail only from
    /// [`RELAY_USER`] with [`RELAY_PASSWORD`].
    pub async fn start() -> SmtpSink {
        let (ca_pem, cert_pem, key_pem) = crate::certificate_from_a_new_ca();
        let acceptor = acceptor(&cert_pem, &key_pem);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Received::default());
        let kept = received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, acceptor.clone(), kept.clone()));
            }
        });
        SmtpSink { port, ca_pem, received }
    }

    /// The worker's settings for this relay, its CA written to `dir`.
    pub fn settings(&self, dir: &std::path::Path) -> String {
        std::fs::write(dir.join("relay-ca.pem"), &self.ca_pem).unwrap();
        format!(
            "smtp_url = \"smtp://{RELAY_USER}@localhost:{}\"\nsmtp_password_env = \"{RELAY_PASSWORD_ENV}\"\n\
             smtp_ca_file = \"relay-ca.pem\"\nsmtp_from = \"IT Desk <desk@example.com>\"\n",
            self.port
        )
    }

    /// Every message received so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.received.mails.lock().unwrap().clone()
    }

    /// How many times a client tried to log in before STARTTLS (the sink refused each).
    pub fn logins_in_clear(&self) -> usize {
        self.received.logins_in_clear.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn acceptor(cert_pem: &str, key_pem: &str) -> TlsAcceptor {
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

/// One connection: plain until the client asks for STARTTLS, then the same conversation anew
/// over TLS (RFC 3207: the client forgets what it was told before).
async fn session(stream: TcpStream, acceptor: TlsAcceptor, received: Arc<Received>) {
    if let Some(plain) = converse(stream, false, &received).await
        && let Ok(tls) = acceptor.accept(plain).await
    {
        converse(tls, true, &received).await;
    }
}

/// Answers commands until QUIT or the connection ends (`None`), or hands the stream back when
/// the client asks for STARTTLS on a plain connection.
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(stream: S, over_tls: bool, received: &Received) -> Option<S> {
    let mut stream = BufReader::new(stream);
    if !over_tls {
        stream.get_mut().write_all(b"220 sink.test ESMTP\r\n").await.ok()?;
    }
    let (mut from, mut to, mut logged_in) = (String::new(), Vec::new(), false);
    loop {
        let line = read_line(&mut stream).await?;
        let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" if over_tls => b"250-sink.test\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n",
            "EHLO" => b"250-sink.test\r\n250-8BITMIME\r\n250 STARTTLS\r\n",
            "STARTTLS" if !over_tls => {
                stream.get_mut().write_all(b"220 go ahead\r\n").await.ok()?;
                return Some(stream.into_inner());
            }
            "AUTH" if !over_tls => {
                received.logins_in_clear.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                b"538 encryption required for requested authentication mechanism\r\n"
            }
            "AUTH" => {
                logged_in = is_the_relays_login(&line);
                if logged_in { b"235 authenticated\r\n" } else { b"535 authentication credentials invalid\r\n" }
            }
            "HELO" | "NOOP" => b"250 OK\r\n",
            "RSET" => {
                (from, to) = (String::new(), Vec::new());
                b"250 OK\r\n"
            }
            "MAIL" if !logged_in => b"530 authentication required\r\n",
            "MAIL" => {
                from = address(&line);
                b"250 OK\r\n"
            }
            "RCPT" => {
                to.push(address(&line));
                b"250 OK\r\n"
            }
            "DATA" => {
                stream.get_mut().write_all(b"354 end with <CRLF>.<CRLF>\r\n").await.ok()?;
                let (headers, body) = message(&mut stream).await?;
                let to = std::mem::take(&mut to);
                let mail = Mail { from: from.clone(), to, over_tls, logged_in, headers, body };
                received.mails.lock().unwrap().push(mail);
                b"250 OK: queued\r\n"
            }
            "QUIT" => {
                let _ = stream.get_mut().write_all(b"221 bye\r\n").await;
                return None;
            }
            _ => b"502 command not implemented\r\n",
        };
        stream.get_mut().write_all(reply).await.ok()?;
    }
}

async fn read_line<S: AsyncRead + Unpin>(stream: &mut BufReader<S>) -> Option<String> {
    let mut line = String::new();
    match stream.read_line(&mut line).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
    }
}

/// `AUTH PLAIN <base64 of "\0user\0password">` (RFC 4616) naming the relay's login.
fn is_the_relays_login(line: &str) -> bool {
    let mut words = line.split_whitespace().skip(1);
    let (Some(mechanism), Some(response)) = (words.next(), words.next()) else { return false };
    let decoded = base64::engine::general_purpose::STANDARD.decode(response).unwrap_or_default();
    mechanism.eq_ignore_ascii_case("PLAIN") && decoded == format!("\0{RELAY_USER}\0{RELAY_PASSWORD}").into_bytes()
}

/// The message after DATA up to its lone `.`: its headers, and its body as a reader sees it.
async fn message<S: AsyncRead + Unpin>(stream: &mut BufReader<S>) -> Option<(String, String)> {
    let mut data = Vec::new();
    loop {
        let line = read_line(stream).await?;
        if line == "." {
            break;
        }
        data.push(line.strip_prefix('.').map(str::to_owned).unwrap_or(line));
    }
    let text = data.join("\r\n");
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if headers.to_ascii_lowercase().contains("quoted-printable") { unquote(body) } else { body.to_owned() };
    Some((headers.to_owned(), body))
}

/// The address in `MAIL FROM:<a@b>` or `RCPT TO:<a@b>`.
fn address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_owned()
}

/// Quoted-printable decoded (RFC 2045): soft line breaks joined, `=XX` as its byte.
fn unquote(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
