//! The crate's one error type. Every message is a complete English sentence that a CLI
//! can print as it is; none of them contains secret material.

/// Everything that can go wrong in the certificate authority.
#[non_exhaustive]
#[derive(thiserror::Error, Debug)]
pub enum CaError {
    /// An input (certificate, key, CSR, chain) could not be read.
    #[error("The {what} could not be read: {reason}.")]
    InvalidPem { what: &'static str, reason: String },

    /// The private key given with a CA certificate belongs to another certificate.
    #[error("The private key does not belong to the CA certificate.")]
    KeyMismatch,

    /// The certificate may not issue certificates.
    #[error(
        "The certificate is not a CA certificate: it needs basicConstraints CA:TRUE and \
         a keyUsage extension with keyCertSign."
    )]
    NotACa,

    /// The certificate signing request is malformed or uses something we do not accept.
    #[error("The certificate signing request is not acceptable: {0}.")]
    InvalidCsr(crate::csr::CsrProblem),

    /// The certificate signing request is not signed by the key it contains.
    #[error(
        "The certificate signing request's signature does not verify: it was altered or \
         not signed with its own key."
    )]
    CsrSignature,

    /// Authenticated decryption failed: wrong key, or altered or truncated data.
    #[error("The sealed data cannot be opened: the sealing key is wrong or the data was altered.")]
    WrongSealingKey,

    /// A certificate serial number given as hex is not usable.
    #[error("The serial number is not valid: {0}.")]
    InvalidSerial(String),

    /// The caller asked for something this CA will not do (bad name, URL, validity...).
    #[error("The request is not valid: {0}.")]
    InvalidRequest(String),

    /// Key generation, signing or encoding failed inside the crypto library.
    #[error("The certificate authority could not complete the operation: {0}.")]
    Generation(String),

    /// Building a PKCS#12 file failed.
    #[error("The PKCS#12 file could not be created: {0}.")]
    Pkcs12(String),
}

impl CaError {
    pub(crate) fn invalid_request(reason: impl Into<String>) -> Self {
        Self::InvalidRequest(reason.into())
    }

    pub(crate) fn generation(reason: impl std::fmt::Display) -> Self {
        Self::Generation(reason.to_string())
    }
}
