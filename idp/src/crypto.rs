//! The one rustls crypto provider of the whole binary (aws-lc-rs). The TLS listeners,
//! outbound clients and the profile signer all take it from here, so no second crypto
//! stack is linked (stack-notes.md: the provider clash).

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The one crypto provider of the whole binary.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Installs [`crypto_provider`] as the process default, for libraries (lettre, reqwest)
/// that build their own rustls configs. Idempotent.
pub fn install_default_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
