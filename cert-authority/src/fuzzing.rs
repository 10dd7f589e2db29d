//! What the CSR fuzz target (`idp/fuzz`, cargo-fuzz) and the bounded mutation test in
//! `cargo test` drive: a certificate signing request from outside, read and, when it is
//! acceptable, turned into a certificate by a CA, as `issue_from_csr` does for the
//! account page and the API. Not part of the API (hidden from the docs).

use std::sync::OnceLock;

use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer as _;

use crate::{CaError, CaSubject, CertificateAuthority, CertificateUrls, CsrIssuanceRequest, KeyAlgorithm};

/// One CA for the whole run; its key never leaves the process.
fn authority() -> Option<&'static CertificateAuthority> {
    static CA: OnceLock<Option<CertificateAuthority>> = OnceLock::new();
    CA.get_or_init(|| {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).ok()?;
        let subject = CaSubject { common_name: "Mamori fuzz CA".into(), organization: None };
        CertificateAuthority::create_root(&subject, KeyAlgorithm::EcP256, now, now + Duration::days(3650)).ok()
    })
    .as_ref()
}

/// A CSR (PEM or DER) from outside. Beyond not panicking: what is refused is refused as
/// a CSR problem, never as an internal failure; what is accepted is at most 64 kB, has
/// an accepted key type, and comes out as a certificate carrying exactly the CSR's key.
pub fn csr(data: &[u8]) {
    let Some(ca) = authority() else { panic!("the fuzz CA could not be made") };
    let parsed = crate::csr::check_csr(data, &crate::csr::CsrKeyPolicy::default());
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let request = CsrIssuanceRequest {
        common_name: "fuzz".into(),
        email: None,
        not_before: now,
        not_after: now + Duration::days(30),
        urls: CertificateUrls::default(),
    };
    let issued = ca.issue_from_csr(data, &request);
    match (&parsed, &issued) {
        (Ok(key), Ok(issued)) => {
            assert!(data.len() <= 64 * 1024, "a CSR over 64 kB was accepted");
            let (rest, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&key.spki_der).expect("an accepted key re-parses");
            assert!(rest.is_empty());
            assert!(crate::csr::fuzzing_key_type_accepted(&spki), "an accepted CSR has a refused key type");
            let (_, certificate) = x509_parser::parse_x509_certificate(&issued.certificate_der).expect("the issued certificate parses");
            assert_eq!(certificate.public_key().raw, key.spki_der.as_slice(), "the certificate carries another key");
        }
        (Err(CaError::InvalidCsr(_) | CaError::CsrSignature), Err(CaError::InvalidCsr(_) | CaError::CsrSignature)) => {}
        (Ok(_), Err(e)) => panic!("an accepted CSR was not issued: {e}"),
        (Err(e), _) => panic!("a CSR was refused as something else than a bad CSR: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Vec<(String, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../idp/fuzz/corpus/csr");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("corpus dir")
            .map(|e| e.expect("entry").path())
            .map(|p| (p.file_name().expect("name").to_string_lossy().into_owned(), std::fs::read(&p).expect("read")))
            .collect();
        files.sort();
        files
    }

    /// The committed corpus replays, and the real CSRs (`openssl-*`, made by OpenSSL for
    /// each accepted key type) are accepted while the ones with a refused key are not: the
    /// fuzzer starts from inputs that reach issuance.
    #[test]
    fn committed_csr_corpus_replays_and_real_csrs_are_issued() {
        let files = corpus();
        assert!(files.len() >= 6, "the CSR corpus is missing");
        for (name, data) in &files {
            csr(data);
            if let Some(rest) = name.strip_prefix("openssl-") {
                let issued = authority().expect("CA").issue_from_csr(
                    data,
                    &CsrIssuanceRequest {
                        common_name: "x".into(),
                        email: None,
                        not_before: OffsetDateTime::UNIX_EPOCH,
                        not_after: OffsetDateTime::UNIX_EPOCH + Duration::days(1),
                        urls: CertificateUrls::default(),
                    },
                );
                assert_eq!(issued.is_ok(), !rest.starts_with("refused-"), "{name}: {:?}", issued.err());
            }
        }
    }

    /// A bounded run of byte mutations over the corpus, on stable Rust in every `cargo
    /// test`: the same checks as the fuzz target, reproducibly.
    #[test]
    fn mutated_csrs_keep_the_invariants() {
        let files = corpus();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..3000 {
            let mut data = files[round % files.len()].1.clone();
            for _ in 0..=(next() % 4) {
                let at = (next() as usize) % (data.len() + 1);
                match next() % 3 {
                    0 if at < data.len() => data[at] = next() as u8,
                    1 => data.truncate(at),
                    _ => data.insert(at, next() as u8),
                }
            }
            csr(&data);
        }
    }
}
