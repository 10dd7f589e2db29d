//! Importing CAs made by openssl, in the key formats openssl writes.

use mamori_ca::{CaError, CertificateAuthority, KeyAlgorithm, RevocationReason, RevokedCertificate};
use time::Duration;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::common::*;

const CA_EXTENSIONS: [&str; 4] = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"];

/// `openssl req -x509` with the given key options and extra arguments; returns
/// (certificate PEM, key PEM).
fn openssl_root(ws: &Workspace, name: &str, key_args: &[&str], extra: &[&str]) -> (String, String) {
    let (cert, key) = (format!("{name}.crt"), format!("{name}.key"));
    let mut args = vec!["req", "-x509"];
    args.extend(key_args);
    args.extend(["-nodes", "-days", "800", "-subj", "/C=JP/O=Example Corp/CN=Example Root", "-keyout", &key, "-out", &cert]);
    args.extend(extra);
    ws.openssl_ok(&args);
    (ws.read_string(&cert), ws.read_string(&key))
}

const P256: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

#[test]
fn an_openssl_root_imports_and_issues_verifiable_certificates_and_crls() {
    let ws = Workspace::new();
    let (cert_pem, key_pem) = openssl_root(&ws, "root", &P256, &CA_EXTENSIONS);
    let ca = CertificateAuthority::import(&cert_pem, &key_pem, None).unwrap();
    assert_eq!(ca.key_algorithm(), KeyAlgorithm::EcP256);
    assert_eq!(ca.subject_common_name(), "Example Root");
    assert!(ca.chain_der().is_empty());

    let issued = p256_device(&ca, "Imported device");
    let (ok, output) = openssl_verify(&ws, &ca, &issued.certificate_pem, &["-purpose", "sslclient"]);
    assert!(ok, "{output}");

    // openssl's SKI is a SHA-1 of the key; we must copy it, not derive our own.
    let (_, root) = X509Certificate::from_der(ca.certificate_der()).unwrap();
    let (_, leaf) = X509Certificate::from_der(&issued.certificate_der).unwrap();
    assert_eq!(key_id(&root, true), key_id(&leaf, false));
    assert_eq!(leaf.issuer().as_raw(), root.subject().as_raw(), "issuer name copied byte for byte");

    let now = now();
    let revoked = RevokedCertificate { serial_hex: issued.serial_hex.clone(), revoked_at: now, reason: RevocationReason::Superseded };
    let crl = ca.sign_crl(&[revoked], 1, now, now + Duration::days(1)).unwrap();
    let crl_file = ws.write("crl.pem", &crl.pem);
    let ca_file = ws.write("ca.pem", &cert_pem);
    let output = ws.openssl_ok(&["crl", "-in", &crl_file, "-CAfile", &ca_file, "-verify", "-noout"]);
    assert!(output.contains("verify OK"), "{output}");
    let (ok, output) = openssl_verify(&ws, &ca, &issued.certificate_pem, &["-crl_check", "-CRLfile", &crl_file]);
    assert!(!ok && output.contains("certificate revoked"), "{output}");
}

fn key_id(certificate: &X509Certificate<'_>, subject: bool) -> Option<Vec<u8>> {
    certificate.extensions().iter().find_map(|e| match (subject, e.parsed_extension()) {
        (true, ParsedExtension::SubjectKeyIdentifier(id)) => Some(id.0.to_vec()),
        (false, ParsedExtension::AuthorityKeyIdentifier(id)) => id.key_identifier.as_ref().map(|k| k.0.to_vec()),
        _ => None,
    })
}

#[test]
fn sec1_and_pkcs1_keys_are_accepted() {
    let ws = Workspace::new();
    let (cert_pem, _) = openssl_root(&ws, "ec", &P256, &CA_EXTENSIONS);
    ws.openssl_ok(&["ec", "-in", "ec.key", "-out", "ec-sec1.key"]);
    let sec1 = ws.read_string("ec-sec1.key");
    assert!(sec1.contains("BEGIN EC PRIVATE KEY"), "{sec1}");
    let ca = CertificateAuthority::import(&cert_pem, &sec1, None).unwrap();
    let (ok, output) = openssl_verify(&ws, &ca, &p256_device(&ca, "d").certificate_pem, &[]);
    assert!(ok, "{output}");

    let (cert_pem, _) = openssl_root(&ws, "rsa", &["-newkey", "rsa:2048"], &CA_EXTENSIONS);
    ws.openssl_ok(&["rsa", "-in", "rsa.key", "-traditional", "-out", "rsa-pkcs1.key"]);
    let pkcs1 = ws.read_string("rsa-pkcs1.key");
    assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"), "{pkcs1}");
    let ca = CertificateAuthority::import(&cert_pem, &pkcs1, None).unwrap();
    assert_eq!(ca.key_algorithm(), KeyAlgorithm::Rsa2048);
    let (ok, output) = openssl_verify(&ws, &ca, &p256_device(&ca, "d").certificate_pem, &[]);
    assert!(ok, "{output}");
    // The sealed form is PKCS#8 whatever came in.
    let key = mamori_ca::SealingKey::generate();
    let reopened = CertificateAuthority::from_sealed(&ca.to_sealed(&key).unwrap(), &key).unwrap();
    assert_eq!(reopened.fingerprint_sha256_hex(), ca.fingerprint_sha256_hex());
}

#[test]
fn a_key_of_another_certificate_is_a_key_mismatch() {
    let ws = Workspace::new();
    let (cert_pem, _) = openssl_root(&ws, "one", &P256, &CA_EXTENSIONS);
    let (_, other_key) = openssl_root(&ws, "two", &P256, &CA_EXTENSIONS);
    let result = CertificateAuthority::import(&cert_pem, &other_key, None);
    assert!(matches!(result, Err(CaError::KeyMismatch)), "{result:?}");

    ws.openssl_ok(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.key"]);
    let result = CertificateAuthority::import(&cert_pem, &ws.read_string("rsa.key"), None);
    assert!(matches!(result, Err(CaError::KeyMismatch)), "{result:?}");
}

#[test]
fn certificates_that_are_not_cas_are_refused() {
    let ws = Workspace::new();
    let (leaf_pem, leaf_key) = openssl_root(&ws, "leaf", &P256, &["-addext", "basicConstraints=critical,CA:FALSE"]);
    let result = CertificateAuthority::import(&leaf_pem, &leaf_key, None);
    assert!(matches!(result, Err(CaError::NotACa)), "{result:?}");

    // CA:TRUE but no keyUsage: RFC 5280 requires keyCertSign to be stated.
    let (no_ku, no_ku_key) = openssl_root(&ws, "noku", &P256, &["-addext", "basicConstraints=critical,CA:TRUE"]);
    let text = ws.openssl_ok(&["x509", "-in", "noku.crt", "-noout", "-text"]);
    assert!(!text.contains("Key Usage"), "{text}");
    let result = CertificateAuthority::import(&no_ku, &no_ku_key, None);
    assert!(matches!(result, Err(CaError::NotACa)), "{result:?}");
}

#[test]
fn unreadable_inputs_are_invalid_pem() {
    let ws = Workspace::new();
    let (cert_pem, key_pem) = openssl_root(&ws, "root", &P256, &CA_EXTENSIONS);
    for (cert, key) in [("junk", key_pem.as_str()), (cert_pem.as_str(), "junk"), (cert_pem.as_str(), cert_pem.as_str())] {
        let result = CertificateAuthority::import(cert, key, None);
        assert!(matches!(result, Err(CaError::InvalidPem { .. })), "{result:?}");
    }
    let two_certs = format!("{cert_pem}{cert_pem}");
    assert!(matches!(CertificateAuthority::import(&two_certs, &key_pem, None), Err(CaError::InvalidPem { .. })));

    ws.openssl_ok(&["pkey", "-in", "root.key", "-aes256", "-passout", "pass:x", "-out", "enc.key"]);
    let result = CertificateAuthority::import(&cert_pem, &ws.read_string("enc.key"), None);
    match result {
        Err(error @ CaError::InvalidPem { .. }) => {
            assert!(error.to_string().contains("encrypted"), "{error}")
        }
        other => panic!("expected InvalidPem, got {other:?}"),
    }
}

#[test]
fn unsupported_keys_and_names_are_refused_clearly() {
    let ws = Workspace::new();
    let (cert_pem, key_pem) = openssl_root(&ws, "p384", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], &CA_EXTENSIONS);
    let result = CertificateAuthority::import(&cert_pem, &key_pem, None);
    assert!(matches!(result, Err(CaError::InvalidRequest(_))), "{result:?}");

    let mut args = vec!["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30"];
    args.extend(["-multivalue-rdn", "-subj", "/O=Example+CN=Multi", "-keyout", "m.key", "-out", "m.crt"]);
    args.extend(CA_EXTENSIONS);
    ws.openssl_ok(&args);
    let result = CertificateAuthority::import(&ws.read_string("m.crt"), &ws.read_string("m.key"), None);
    assert!(matches!(result, Err(CaError::InvalidRequest(_))), "{result:?}");
}

#[test]
fn an_openssl_intermediate_imports_with_its_chain_which_is_checked() {
    let ws = Workspace::new();
    let (root_pem, _) = openssl_root(&ws, "root", &P256, &CA_EXTENSIONS);
    let mut args = vec!["req", "-x509", "-CA", "root.crt", "-CAkey", "root.key"];
    args.extend(P256);
    args.extend(["-nodes", "-days", "500", "-subj", "/O=Example Corp/CN=Example Devices", "-keyout", "i.key", "-out", "i.crt"]);
    args.extend(["-addext", "basicConstraints=critical,CA:TRUE,pathlen:0"]);
    args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    ws.openssl_ok(&args);
    let (inter_pem, inter_key) = (ws.read_string("i.crt"), ws.read_string("i.key"));

    let imported = CertificateAuthority::import(&inter_pem, &inter_key, Some(&root_pem)).unwrap();
    assert_eq!(imported.chain_der().len(), 1);
    let issued = p256_device(&imported, "via imported intermediate");
    let (ok, output) = openssl_verify(&ws, &imported, &issued.certificate_pem, &["-purpose", "sslclient"]);
    assert!(ok, "{output}");
    // pathlen:0 is respected.
    let now = now();
    let nested = imported.create_intermediate(&subject("Nested"), KeyAlgorithm::EcP256, now, now + Duration::days(1));
    assert!(matches!(nested, Err(CaError::InvalidRequest(_))), "{nested:?}");

    // A "full chain" that starts with the CA itself is understood too.
    let full = format!("{inter_pem}{root_pem}");
    let again = CertificateAuthority::import(&inter_pem, &inter_key, Some(&full)).unwrap();
    assert_eq!(again.chain_der(), imported.chain_der());
    // A chain that did not issue it is refused.
    let wrong = p256_root().certificate_pem();
    let result = CertificateAuthority::import(&inter_pem, &inter_key, Some(&wrong));
    assert!(matches!(result, Err(CaError::InvalidRequest(_))), "{result:?}");
    // Validity beyond the imported CA's own expiry is refused.
    let mut request = device_request("too long", KeyAlgorithm::EcP256);
    request.not_after = now + Duration::days(600);
    assert!(matches!(imported.issue_device_certificate(&request), Err(CaError::InvalidRequest(_))));
}
