//! Which desk worker the app talks to: over HTTPS, a certificate the OS trusts (a public CA) or
//! the one the enrolment link named by its SHA-256 (a certificate of the desk's own). A worker
//! showing any other certificate is not sent the rep's token.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::desk_api::certificate_pin;

/// An HTTP client for the desk's worker, trusting `pin`'s certificate besides the OS's.
pub fn desk_client(pin: Option<&str>, builder: reqwest::ClientBuilder) -> Result<reqwest::Client, String> {
    let builder = match pin {
        Some(pin) => builder.use_preconfigured_tls(pinned_config(pin)?),
        None => builder,
    };
    builder.build().map_err(|e| format!("no HTTP client for the desk's worker: {e}"))
}

fn pinned_config(pin: &str) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_native_certs::load_native_certs().certs {
        // A root the OS keeps that rustls cannot read is skipped, as reqwest does.
        let _ = roots.add(certificate);
    }
    let os = (!roots.is_empty())
        .then(|| WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().ok())
        .flatten();
    let verifier = PinnedOrTrusted { pin: pin.to_owned(), os, algorithms: provider.signature_verification_algorithms };
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .map(|b| b.dangerous().with_custom_certificate_verifier(Arc::new(verifier)).with_no_client_auth())
}

#[derive(Debug)]
struct PinnedOrTrusted {
    pin: String,
    /// What the OS trusts; none on a machine without roots.
    os: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedOrTrusted {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if certificate_pin(end_entity.as_ref()) == self.pin {
            return Ok(ServerCertVerified::assertion());
        }
        match &self.os {
            Some(os) => os.verify_server_cert(end_entity, intermediates, server_name, ocsp, now),
            None => Err(rustls::Error::General(
                "the desk's worker showed a certificate that is neither the enrolment link's nor trusted by this computer"
                    .to_owned(),
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
