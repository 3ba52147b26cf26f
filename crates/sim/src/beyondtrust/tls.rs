//! HTTPS for the stand-in: a throwaway CA and a certificate for 127.0.0.1 / localhost signed by
//! it, so clients can be tested refusing it, accepting it when told to, or trusting its CA.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

fn io_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Generates the CA and server certificate, writes the CA's PEM to `ca_out`, returns the acceptor.
pub fn acceptor(ca_out: &Path) -> std::io::Result<TlsAcceptor> {
    let ca_key = KeyPair::generate().map_err(io_error)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(io_error)?;
    ca_params.distinguished_name.push(DnType::CommonName, "bta-sim test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).map_err(io_error)?;

    let key = KeyPair::generate().map_err(io_error)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(io_error)?;
    params.distinguished_name.push(DnType::CommonName, "bta-sim appliance");
    params.subject_alt_names.push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer).map_err(io_error)?;
    std::fs::write(ca_out, ca.pem())?;

    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io_error)?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(io_error)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TLS connections and serves the router on each.
pub async fn serve(listener: TcpListener, acceptor: TlsAcceptor, app: Router) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            // A client that refuses our certificate ends the handshake; nothing to report.
            let Ok(tls) = acceptor.accept(stream).await else { return };
            let service = TowerToHyperService::new(app);
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
