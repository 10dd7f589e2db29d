//! TLS for the two listeners (design.md): the main one never asks for a client
//! certificate; the mTLS one asks without requiring one. Its verifier checks only that
//! the client holds the private key of the certificate it sent (the handshake signature);
//! whether that certificate is ours, valid, revoked or bound to a device is decided in the
//! login step, so that each refusal gets a clear page instead of a TLS alert.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read TLS certificate file {path}: {reason}")]
    Certificate { path: String, reason: String },
    #[error("cannot read TLS private key file {path}: {reason}")]
    PrivateKey { path: String, reason: String },
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
}

pub use crate::crypto::{crypto_provider, install_default_provider};

pub struct ListenerTls {
    pub main: Arc<ServerConfig>,
    pub mtls: Arc<ServerConfig>,
    /// What [`ListenerTls::mtls_for`] builds the mTLS config again from.
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    provider: Arc<CryptoProvider>,
}

/// Builds both server configs from the PEM files. `client_ca_subjects` are sent in the
/// CertificateRequest so browsers offer only certificates from Mamori's CAs.
pub fn listener_tls(
    certificate_path: &Path,
    key_path: &Path,
    client_ca_subjects: Vec<DistinguishedName>,
) -> Result<ListenerTls, TlsSetupError> {
    let chain = load_certificates(certificate_path)?;
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| TlsSetupError::PrivateKey { path: key_path.display().to_string(), reason: e.to_string() })?;
    let provider = crypto_provider();
    let mut main = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain.clone(), key.clone_key())?;
    main.alpn_protocols = alpn();
    let mtls = mtls_config(&provider, chain.clone(), key.clone_key(), client_ca_subjects)?;
    Ok(ListenerTls { main: Arc::new(main), mtls, chain, key, provider })
}

impl ListenerTls {
    /// The mTLS config again with other client-CA subjects (after a CA was replaced or
    /// added); the server certificate and everything else stay as they are.
    pub fn mtls_for(&self, client_ca_subjects: Vec<DistinguishedName>) -> Result<Arc<ServerConfig>, TlsSetupError> {
        mtls_config(&self.provider, self.chain.clone(), self.key.clone_key(), client_ca_subjects)
    }
}

fn alpn() -> Vec<Vec<u8>> {
    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
}

fn mtls_config(
    provider: &Arc<CryptoProvider>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_ca_subjects: Vec<DistinguishedName>,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let verifier =
        Arc::new(RecordingClientVerifier { subjects: client_ca_subjects, algorithms: provider.signature_verification_algorithms });
    let mut mtls = ServerConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    mtls.alpn_protocols = alpn();
    Ok(Arc::new(mtls))
}

fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let err = |reason: String| TlsSetupError::Certificate { path: path.display().to_string(), reason };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if chain.is_empty() {
        return Err(err("no certificate in the file".into()));
    }
    Ok(chain)
}

/// Asks for a client certificate, accepts any chain, and verifies the handshake signature
/// with the real algorithms (proof that the client holds the key).
#[derive(Debug)]
struct RecordingClientVerifier {
    subjects: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for RecordingClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.subjects
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Chain, validity and revocation are judged by the login step (see module docs).
        Ok(ClientCertVerified::assertion())
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

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
