//! The screened CSR parser, one check per test, on requests made with rcgen (the
//! interop tests do the same with the `openssl` CLI, including RSA 1024).

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, PublicKeyData as _, SanType,
};

use super::*;

fn key(alg: &'static rcgen::SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_for(alg).expect("key")
}

fn csr_der(params: &CertificateParams, key: &KeyPair) -> Vec<u8> {
    params.serialize_request(key).expect("csr").der().to_vec()
}

fn csr_pem(params: &CertificateParams, key: &KeyPair) -> String {
    params.serialize_request(key).expect("csr").pem().expect("pem")
}

/// Parameters without a subject (rcgen's default has a CN of its own).
fn bare() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
}

fn plain(alg: &'static rcgen::SignatureAlgorithm) -> Vec<u8> {
    csr_der(&bare(), &key(alg))
}

fn problem(input: &[u8], policy: &CsrKeyPolicy) -> CsrProblem {
    match check_csr(input, policy) {
        Err(CaError::InvalidCsr(problem)) => problem,
        other => panic!("expected a CSR problem, got {other:?}"),
    }
}

#[test]
fn good_keys_are_described() {
    let policy = CsrKeyPolicy::default();
    for (alg, description) in
        [(&rcgen::PKCS_ECDSA_P256_SHA256, "EC P-256"), (&rcgen::PKCS_ECDSA_P384_SHA384, "EC P-384"), (&rcgen::PKCS_ED25519, "Ed25519")]
    {
        let checked = check_csr(&plain(alg), &policy).expect("accepted");
        assert_eq!(checked.key_description, description);
        assert!(checked.ignored.is_empty(), "{:?}", checked.ignored);
    }
    let rsa = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).expect("rsa");
    let checked = check_csr(&csr_der(&bare(), &rsa), &policy).expect("rsa 2048");
    assert_eq!(checked.key_description, "RSA 2048");
    // A stricter policy refuses it, naming both sizes.
    let strict = CsrKeyPolicy { min_rsa_bits: 3072, allow_ed25519: false };
    let refused = problem(&csr_der(&bare(), &rsa), &strict);
    assert_eq!(refused, CsrProblem::RsaKeyTooSmall { bits: 2048, min_bits: 3072 });
    assert!(matches!(problem(&plain(&rcgen::PKCS_ED25519), &strict), CsrProblem::UnsupportedKey(_)));
    // A policy below the floor does not lower it.
    let lax = CsrKeyPolicy { min_rsa_bits: 512, allow_ed25519: true };
    assert!(check_csr(&csr_der(&bare(), &rsa), &lax).is_ok());
}

#[test]
fn pem_and_der_give_the_same_key() {
    let params = bare();
    let key = key(&rcgen::PKCS_ECDSA_P256_SHA256);
    let pem = csr_pem(&params, &key);
    let from_pem = check_csr(pem.as_bytes(), &CsrKeyPolicy::default()).expect("pem");
    let old_label = pem.replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST");
    let from_old = check_csr(old_label.as_bytes(), &CsrKeyPolicy::default()).expect("old label");
    assert_eq!(from_pem.spki_der, from_old.spki_der);
    assert_eq!(from_pem.spki_der, key.subject_public_key_info());
}

#[test]
fn requested_ca_sans_ekus_and_subject_are_reported_as_ignored() {
    let mut params = CertificateParams::new(vec!["evil.example".to_owned()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, "Root of all evil");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::CodeSigning];
    params.subject_alt_names.push(SanType::Rfc822Name("ceo@example.com".try_into().expect("ia5")));
    let checked = check_csr(&csr_der(&params, &key(&rcgen::PKCS_ECDSA_P256_SHA256)), &CsrKeyPolicy::default()).expect("ok");
    for wanted in
        [IgnoredRequest::Subject, IgnoredRequest::CaCertificate, IgnoredRequest::SubjectAltNames, IgnoredRequest::ExtendedKeyUsage]
    {
        assert!(checked.ignored.contains(&wanted), "{wanted:?} in {:?}", checked.ignored);
    }
}

#[test]
fn a_broken_signature_is_a_signature_error() {
    let mut der = plain(&rcgen::PKCS_ECDSA_P256_SHA256);
    // The last bytes are inside the ECDSA signature's INTEGER s.
    let last = der.len() - 2;
    der[last] ^= 0x40;
    assert!(matches!(check_csr(&der, &CsrKeyPolicy::default()), Err(CaError::CsrSignature)));
    // A changed signed part (the key itself is intact, the subject differs).
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "Alice");
    let mut der = csr_der(&params, &key(&rcgen::PKCS_ED25519));
    let at = der.windows(5).position(|w| w == b"Alice").expect("subject");
    der[at] = b'M';
    assert!(matches!(check_csr(&der, &CsrKeyPolicy::default()), Err(CaError::CsrSignature)));
}

#[test]
fn every_malformed_input_is_named() {
    let policy = CsrKeyPolicy::default();
    let params = CertificateParams::default();
    let key = key(&rcgen::PKCS_ECDSA_P256_SHA256);
    let pem = csr_pem(&params, &key);
    let der = csr_der(&params, &key);

    assert_eq!(problem(b"", &policy), CsrProblem::Empty);
    assert_eq!(problem(b" \r\n\t", &policy), CsrProblem::Empty);
    assert_eq!(problem(b"garbage", &policy), CsrProblem::NotPkcs10);
    assert_eq!(problem(&der[..der.len() / 2], &policy), CsrProblem::NotPkcs10);
    assert_eq!(problem(&vec![b'A'; MAX_CSR_BYTES + 1], &policy), CsrProblem::TooLarge { max_bytes: MAX_CSR_BYTES });
    let mut trailing = der.clone();
    trailing.extend_from_slice(&[0, 0]);
    assert_eq!(problem(&trailing, &policy), CsrProblem::TrailingBytes);
    // PEM likewise: text after the END line (or on it) is not part of a request; blank
    // lines and CRLF line ends are.
    for tail in ["garbage-here\n", "-----END FAKE-----x", "\n\nmore text", "x"] {
        let text = format!("{pem}{tail}");
        assert_eq!(problem(text.as_bytes(), &policy), CsrProblem::TrailingBytes, "{tail:?}");
    }
    let same_line = pem.trim_end().to_owned() + "garbage\n";
    assert_eq!(problem(same_line.as_bytes(), &policy), CsrProblem::TrailingBytes);
    for honest in [format!("{pem}\n\n"), pem.replace('\n', "\r\n"), format!("  {pem}  ")] {
        assert!(check_csr(honest.as_bytes(), &policy).is_ok(), "{honest:?}");
    }
    assert_eq!(problem(b"-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n", &policy), CsrProblem::BadPem);
    let certificate = pem.replace("CERTIFICATE REQUEST", "CERTIFICATE");
    assert_eq!(problem(certificate.as_bytes(), &policy), CsrProblem::WrongPemLabel("CERTIFICATE".into()));
    let with_key = format!("{pem}{}", key.serialize_pem());
    assert_eq!(problem(with_key.as_bytes(), &policy), CsrProblem::SeveralPemBlocks);
    assert!(!problem(with_key.as_bytes(), &policy).to_string().contains("PRIVATE KEY-----"), "never echoes the key");
    // Version 1 (v2) in CertificationRequestInfo: the first INTEGER after two SEQUENCE headers.
    let at = der.windows(3).position(|w| w == [0x02, 0x01, 0x00]).expect("version");
    let mut v2 = der.clone();
    v2[at + 2] = 1;
    assert_eq!(problem(&v2, &policy), CsrProblem::UnsupportedVersion(1));
    // Every problem has a code for the pages and a sentence for the CLI.
    for p in [CsrProblem::Empty, CsrProblem::RsaKeyTooSmall { bits: 1024, min_bits: 2048 }] {
        assert!(!p.code().is_empty() && !p.to_string().is_empty());
    }
    assert!(CaError::InvalidCsr(CsrProblem::RsaKeyTooSmall { bits: 1024, min_bits: 2048 }).to_string().contains("1024 bits"));
}

#[test]
fn rsa_public_exponents_must_be_odd_and_at_least_65537() {
    use super::acceptable_rsa_exponent as ok;
    assert!(ok(&[0x01, 0x00, 0x01]), "65537");
    assert!(ok(&[0x00, 0x01, 0x00, 0x01]), "65537 with a leading zero");
    assert!(ok(&[0x01, 0x00, 0x00, 0x00, 0x01]), "a larger odd one");
    assert!(!ok(&[0x03]), "3");
    assert!(!ok(&[0x00, 0x03]), "3 with a leading zero");
    assert!(!ok(&[0x01, 0x00, 0x00]), "65536: even");
    assert!(!ok(&[0x01, 0x00, 0x00, 0x00, 0x00]), "even and large");
    assert!(!ok(&[0xff, 0xff]), "65535: below");
    assert!(!ok(&[]), "none");
    assert!(!ok(&[0x00]), "zero");
}
