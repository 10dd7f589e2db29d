//! The certificate a browser presented at login, read before any database look-up (flow
//! 3, step 1): it must parse, and one of our CAs must have issued it (issuer name equal to
//! the CA's subject, and its signature verifying with the CA's key). The server then looks
//! the serial and fingerprint up (`mamori::flows::client_certificate`).

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// What the login needs of a certificate one of our CAs issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    /// Lowercase hex of the serial as the certificate store records it (leading `00`
    /// octets dropped).
    pub serial: String,
    /// The extended key usage allows TLS client authentication.
    pub client_auth: bool,
    /// notBefore and notAfter, in Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

/// Reads `leaf` (DER) and checks it against the CA certificates `cas` (DER; any that do
/// not parse are skipped). `None`: not a certificate, or not issued by any of them.
pub fn examine(leaf_der: &[u8], cas: &[Vec<u8>]) -> Option<Presented> {
    let (_, leaf) = X509Certificate::from_der(leaf_der).ok()?;
    let ours = cas.iter().any(|der| {
        X509Certificate::from_der(der)
            .is_ok_and(|(_, ca)| ca.subject().as_raw() == leaf.issuer().as_raw() && leaf.verify_signature(Some(ca.public_key())).is_ok())
    });
    if !ours {
        return None;
    }
    let validity = leaf.validity();
    Some(Presented {
        serial: hex::encode(leaf.tbs_certificate.raw_serial()).trim_start_matches("00").to_owned(),
        client_auth: leaf.extended_key_usage().ok().flatten().is_some_and(|eku| eku.value.client_auth),
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
    })
}
