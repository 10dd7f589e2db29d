//! Issuing from CSRs made by openssl: the certificate carries the CSR's key and our
//! subject; altered or malformed requests are refused.

use mamori_ca::{CaError, CertificateUrls, CsrIssuanceRequest, CsrKeyPolicy, CsrProblem, IgnoredRequest, check_csr};
use time::Duration;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::common::*;

fn request() -> CsrIssuanceRequest {
    let now = now();
    CsrIssuanceRequest {
        common_name: "Carol's workstation".into(),
        email: Some("carol@example.com".into()),
        not_before: now - Duration::hours(1),
        not_after: now + Duration::days(90),
        urls: CertificateUrls { crl_distribution_point: Some("http://pki.mamori.test/crl".into()), ..Default::default() },
    }
}

fn openssl_csr(ws: &Workspace, key_args: &[&str], outform: &str) -> Vec<u8> {
    let mut args = vec!["req", "-new"];
    args.extend(key_args);
    args.extend(["-nodes", "-subj", "/CN=x/O=Attacker Inc", "-keyout", "key.pem", "-outform", outform, "-out", "req"]);
    ws.openssl_ok(&args);
    ws.read("req")
}

#[test]
fn a_p256_csr_from_openssl_gets_a_certificate_with_its_key_and_our_subject() {
    let ws = Workspace::new();
    let csr = openssl_csr(&ws, &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "PEM");
    let issued = p256_intermediate().issue_from_csr(&csr, &request()).unwrap();
    assert!(issued.private_key_pkcs8_der.is_none() && issued.private_key_pem().is_none());

    let cert_key = ws.openssl_ok(&["x509", "-in", &ws.write("c.pem", &issued.certificate_pem), "-noout", "-pubkey"]);
    let csr_key = ws.openssl_ok(&["req", "-in", "req", "-noout", "-pubkey"]);
    assert_eq!(cert_key, csr_key);
    let own_key = ws.openssl_ok(&["pkey", "-in", "key.pem", "-pubout"]);
    assert_eq!(cert_key, own_key);

    let (_, cert) = X509Certificate::from_der(&issued.certificate_der).unwrap();
    let subject = cert.subject().to_string();
    assert_eq!(subject, "CN=Carol's workstation", "nothing of the CSR's subject is copied");
    let (ok, output) = openssl_verify(&ws, p256_intermediate(), &issued.certificate_pem, &["-purpose", "sslclient"]);
    assert!(ok, "{output}");
}

#[test]
fn der_and_rsa_csrs_are_accepted() {
    let ws = Workspace::new();
    let csr = openssl_csr(&ws, &["-newkey", "rsa:2048"], "DER");
    let issued = p256_root().issue_from_csr(&csr, &request()).unwrap();
    let (ok, output) = openssl_verify(&ws, p256_root(), &issued.certificate_pem, &["-purpose", "sslclient"]);
    assert!(ok, "{output}");
}

#[test]
fn a_csr_with_a_flipped_signature_byte_is_refused() {
    let ws = Workspace::new();
    let mut csr = openssl_csr(&ws, &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "DER");
    let last = csr.len() - 1;
    csr[last] ^= 0x01;
    let result = p256_root().issue_from_csr(&csr, &request());
    assert!(matches!(result, Err(CaError::CsrSignature)), "{result:?}");

    // The same for a change in the signed part (the subject).
    let mut csr = openssl_csr(&ws, &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "DER");
    let position = csr.windows(b"Attacker".len()).position(|w| w == b"Attacker").unwrap();
    csr[position] = b'a';
    let result = p256_root().issue_from_csr(&csr, &request());
    assert!(matches!(result, Err(CaError::CsrSignature)), "{result:?}");
}

#[test]
fn malformed_or_unacceptable_csrs_are_invalid() {
    let ws = Workspace::new();
    let ca = p256_root();
    for garbage in [&b""[..], b"garbage", b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"] {
        let result = ca.issue_from_csr(garbage, &request());
        assert!(matches!(result, Err(CaError::InvalidCsr(_))), "{result:?}");
    }
    let not_a_csr = ca.certificate_pem();
    assert!(matches!(ca.issue_from_csr(not_a_csr.as_bytes(), &request()), Err(CaError::InvalidCsr(_))));

    let weak = openssl_csr(&ws, &["-newkey", "rsa:1024"], "PEM");
    let result = ca.issue_from_csr(&weak, &request());
    assert!(matches!(result, Err(CaError::InvalidCsr(_))), "{result:?}");

    let mut truncated = openssl_csr(&ws, &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "DER");
    truncated.truncate(truncated.len() / 2);
    assert!(matches!(ca.issue_from_csr(&truncated, &request()), Err(CaError::InvalidCsr(_))));
}

#[test]
fn openssl_requests_are_screened_with_named_problems() {
    let ws = Workspace::new();
    let policy = CsrKeyPolicy::default();
    let weak = openssl_csr(&ws, &["-newkey", "rsa:1024"], "PEM");
    let result = check_csr(&weak, &policy);
    assert!(matches!(result, Err(CaError::InvalidCsr(CsrProblem::RsaKeyTooSmall { bits: 1024, min_bits: 2048 }))), "{result:?}");
    // RSA 2048 with public exponent 3: big enough, but refused for its exponent.
    let small_e = openssl_csr(&ws, &["-newkey", "rsa:2048", "-pkeyopt", "rsa_keygen_pubexp:3"], "PEM");
    let result = check_csr(&small_e, &policy);
    assert!(matches!(&result, Err(CaError::InvalidCsr(CsrProblem::UnsupportedKey(what))) if what.contains("exponent")), "{result:?}");
    let odd_curve = openssl_csr(&ws, &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"], "PEM");
    let result = check_csr(&odd_curve, &policy);
    assert!(matches!(result, Err(CaError::InvalidCsr(CsrProblem::UnsupportedKey(_)))), "{result:?}");
    // A good RSA key signed with RSASSA-PSS: named as an algorithm we do not check, not
    // as an altered request (an outside review's finding).
    let pss = openssl_csr(&ws, &["-newkey", "rsa:2048", "-sigopt", "rsa_padding_mode:pss"], "PEM");
    let result = check_csr(&pss, &policy);
    assert!(matches!(result, Err(CaError::InvalidCsr(CsrProblem::UnsupportedSignatureAlgorithm))), "{result:?}");
    // SHA-1 (`-sha1`, as old scripts still write): refused as weak, beside the same key
    // signed with SHA-256, which is accepted.
    let sha1 = openssl_csr(&ws, &["-newkey", "rsa:2048", "-sha1"], "PEM");
    let result = check_csr(&sha1, &policy);
    assert!(matches!(result, Err(CaError::InvalidCsr(CsrProblem::WeakSignatureAlgorithm))), "{result:?}");
    let sha256 = openssl_csr(&ws, &["-newkey", "rsa:2048", "-sha256"], "PEM");
    assert!(check_csr(&sha256, &policy).is_ok());

    // A request for a CA certificate with SANs and EKUs of its own: issued as a plain
    // client certificate, and the page can say what was ignored.
    let greedy = {
        let mut args = vec!["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
        args.extend(["-subj", "/CN=Evil Root", "-keyout", "key.pem", "-out", "greedy.pem"]);
        args.extend(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "subjectAltName=DNS:evil.example,email:ceo@example.com"]);
        args.extend(["-addext", "extendedKeyUsage=serverAuth,codeSigning"]);
        ws.openssl_ok(&args);
        ws.read("greedy.pem")
    };
    let checked = check_csr(&greedy, &policy).unwrap();
    for wanted in
        [IgnoredRequest::CaCertificate, IgnoredRequest::SubjectAltNames, IgnoredRequest::ExtendedKeyUsage, IgnoredRequest::Subject]
    {
        assert!(checked.ignored.contains(&wanted), "{wanted:?}: {:?}", checked.ignored);
    }
    let issued = p256_root().issue_for_checked_csr(&checked, &request()).unwrap();
    let text = ws.openssl_ok(&["x509", "-in", &ws.write("greedy-cert.pem", &issued.certificate_pem), "-noout", "-text"]);
    assert!(text.contains("CA:FALSE") && !text.contains("CA:TRUE"), "{text}");
    assert!(!text.contains("evil.example") && !text.contains("ceo@example.com") && !text.contains("Code Signing"), "{text}");
    assert!(text.contains("TLS Web Client Authentication") && !text.contains("TLS Web Server Authentication"), "{text}");
}
