//! PKCS#12: openssl opens both formats with the expected algorithms, the friendly
//! name and local key ID are real, and the key inside belongs to the certificate.

use mamori_ca::{CaError, CertificateAuthority, IssuedCertificate, KeyAlgorithm, Pkcs12Format, export_pkcs12};

use crate::common::*;

const PASSWORD: &str = "correct horse battery staple";

fn chain_of(ca: &CertificateAuthority) -> Vec<Vec<u8>> {
    let mut chain = vec![ca.certificate_der().to_vec()];
    chain.extend(ca.chain_der().iter().cloned());
    chain
}

fn export(ws: &Workspace, issued: &IssuedCertificate, ca: &CertificateAuthority, format: Pkcs12Format) -> String {
    let p12 = export_pkcs12(issued, &chain_of(ca), PASSWORD, "Alice's laptop (Mamori)", format).unwrap();
    ws.write(&format!("{format}.p12"), p12)
}

fn pass() -> String {
    format!("pass:{PASSWORD}")
}

#[test]
fn modern_pkcs12_uses_pbes2_aes256_and_sha256_mac() {
    let ws = Workspace::new();
    let issued = p256_device(p256_intermediate(), "Alice's laptop");
    let file = export(&ws, &issued, p256_intermediate(), Pkcs12Format::Modern);
    let info = ws.openssl_ok(&["pkcs12", "-info", "-in", &file, "-passin", &pass(), "-noout"]);
    assert!(info.contains("MAC: sha256, Iteration 2048"), "{info}");
    assert!(info.contains("PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256"), "{info}");
    assert!(!info.contains("TripleDES") && !info.contains("RC2"), "{info}");

    let (ok, output) = ws.openssl(&["pkcs12", "-info", "-in", &file, "-passin", "pass:wrong", "-noout"]);
    assert!(!ok, "a wrong password was accepted: {output}");
    assert!(output.contains("mac verify failure") || output.contains("Mac verify error"), "{output}");

    check_contents(&ws, &file, &[], &issued, 3);
}

#[test]
fn legacy_pkcs12_uses_triple_des_and_sha1_mac() {
    let ws = Workspace::new();
    let issued = p256_device(p256_root(), "Alice's old laptop");
    let file = export(&ws, &issued, p256_root(), Pkcs12Format::Legacy);
    let info = ws.openssl_ok(&["pkcs12", "-legacy", "-info", "-in", &file, "-passin", &pass(), "-noout"]);
    assert!(info.contains("MAC: sha1, Iteration 2048"), "{info}");
    assert!(info.contains("pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048"), "{info}");
    assert!(!info.contains("AES") && !info.contains("RC2"), "{info}");

    let (ok, _) = ws.openssl(&["pkcs12", "-legacy", "-info", "-in", &file, "-passin", "pass:wrong", "-noout"]);
    assert!(!ok, "a wrong password was accepted");
    // 3DES is in OpenSSL 3's default provider, so plain `-info` opens it too.
    ws.openssl_ok(&["pkcs12", "-info", "-in", &file, "-passin", &pass(), "-noout"]);

    check_contents(&ws, &file, &["-legacy"], &issued, 2);
}

#[test]
fn rsa_device_key_survives_the_round_trip() {
    let ws = Workspace::new();
    let issued = p256_root().issue_device_certificate(&device_request("RSA device", KeyAlgorithm::Rsa2048)).unwrap();
    let file = export(&ws, &issued, p256_root(), Pkcs12Format::Modern);
    check_contents(&ws, &file, &[], &issued, 2);
}

/// Extracts the bags with openssl and checks names, IDs, certificate count and key.
fn check_contents(ws: &Workspace, file: &str, extra: &[&str], issued: &IssuedCertificate, certificates: usize) {
    let pass = pass();
    let mut dump = vec!["pkcs12", "-in", file, "-passin", &pass, "-nodes"];
    dump.extend(extra);
    let all = ws.openssl_ok(&dump);
    assert_eq!(all.matches("-----BEGIN CERTIFICATE-----").count(), certificates, "{all}");
    assert_eq!(all.matches("-----BEGIN PRIVATE KEY-----").count(), 1, "{all}");
    // Our name on the key bag; p12-keystore puts the subject on certificate bags.
    let key_bag = all.split("Key Attributes").next().unwrap().rsplit("Bag Attributes").next().unwrap();
    assert!(key_bag.contains("friendlyName: Alice's laptop (Mamori)"), "{all}");
    assert!(all.contains(&format!("friendlyName: CN={}", issued.subject_common_name)), "{all}");

    // localKeyID is the SHA-1 of the certificate, on both the key and the leaf.
    let leaf = ws.write("leaf.pem", &issued.certificate_pem);
    let sha1 = ws.openssl_ok(&["x509", "-in", &leaf, "-noout", "-fingerprint", "-sha1"]);
    let sha1 = sha1.trim().rsplit('=').next().unwrap().replace(':', " ");
    assert_eq!(all.matches(&format!("localKeyID: {sha1}")).count(), 2, "{sha1}\n{all}");

    let mut key_args = vec!["pkcs12", "-in", file, "-passin", &pass, "-nocerts", "-nodes", "-out", "key.pem"];
    key_args.extend(extra);
    ws.openssl_ok(&key_args);
    let mut cert_args = vec!["pkcs12", "-in", file, "-passin", &pass, "-clcerts", "-nokeys", "-out", "cert.pem"];
    cert_args.extend(extra);
    ws.openssl_ok(&cert_args);
    let from_key = ws.openssl_ok(&["pkey", "-in", "key.pem", "-pubout"]);
    let from_cert = ws.openssl_ok(&["x509", "-in", "cert.pem", "-noout", "-pubkey"]);
    assert_eq!(from_key, from_cert, "the key in the PKCS#12 does not match its certificate");
    let subject = ws.openssl_ok(&["x509", "-in", "cert.pem", "-noout", "-subject"]);
    assert!(subject.contains(&issued.subject_common_name), "{subject}");
}

#[test]
fn export_refuses_what_it_cannot_do_well() {
    let issued = p256_device(p256_root(), "Alice's laptop");
    let chain = chain_of(p256_root());
    let empty_password = export_pkcs12(&issued, &chain, "", "name", Pkcs12Format::Modern);
    assert!(matches!(empty_password, Err(CaError::Pkcs12(_))));
    let bad_chain = export_pkcs12(&issued, &[b"junk".to_vec()], PASSWORD, "name", Pkcs12Format::Modern);
    assert!(matches!(bad_chain, Err(CaError::InvalidPem { .. })), "{bad_chain:?}");
    let mut without_key = issued.clone();
    without_key.private_key_pkcs8_der = None;
    let no_key = export_pkcs12(&without_key, &chain, PASSWORD, "name", Pkcs12Format::Modern);
    assert!(matches!(no_key, Err(CaError::Pkcs12(_))), "{no_key:?}");
    let bad_name = export_pkcs12(&issued, &chain, PASSWORD, "emoji \u{1F512}", Pkcs12Format::Modern);
    assert!(matches!(bad_name, Err(CaError::Pkcs12(_))), "{bad_name:?}");
}
