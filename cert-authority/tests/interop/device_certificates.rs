//! Device (TLS client) and server certificates: openssl accepts them, and their
//! extensions read back as specified.

use std::net::{IpAddr, Ipv4Addr};

use mamori_ca::{CaError, CertificateAuthority, CertificateUrls, KeyAlgorithm, parse_certificate_summary};
use time::Duration;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS, OID_PKIX_ACCESS_DESCRIPTOR_OCSP};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::common::*;

#[test]
fn device_certificates_verify_with_openssl_for_each_key_type_with_and_without_intermediate() {
    let ws = Workspace::new();
    for ca in [p256_root(), p256_intermediate()] {
        for alg in [KeyAlgorithm::EcP256, KeyAlgorithm::Rsa2048] {
            let issued = ca.issue_device_certificate(&device_request("Alice's laptop", alg)).unwrap();
            let (ok, output) = openssl_verify(&ws, ca, &issued.certificate_pem, &[]);
            assert!(ok && output.contains(": OK"), "{alg} under {}: {output}", ca.subject_common_name());
            let (ok, output) = openssl_verify(&ws, ca, &issued.certificate_pem, &["-purpose", "sslclient"]);
            assert!(ok, "{alg} as sslclient: {output}");
            // clientAuth only: a device certificate must not work as a TLS server.
            let (ok, _) = openssl_verify(&ws, ca, &issued.certificate_pem, &["-purpose", "sslserver"]);
            assert!(!ok, "{alg} device certificate was accepted as a server certificate");
        }
    }
}

#[test]
fn an_rsa_ca_issues_certificates_openssl_accepts() {
    let ws = Workspace::new();
    let issued = p256_device(rsa_root(), "Bob's phone");
    let (ok, output) = openssl_verify(&ws, rsa_root(), &issued.certificate_pem, &["-purpose", "sslclient"]);
    assert!(ok, "{output}");
    let text = ws.openssl_ok(&["x509", "-in", &ws.write("c.pem", &issued.certificate_pem), "-noout", "-text"]);
    assert!(text.contains("Signature Algorithm: sha256WithRSAEncryption"), "{text}");
}

#[test]
fn device_certificate_fields_read_back_with_x509_parser() {
    let ca = p256_intermediate();
    let request = device_request("Alice's laptop", KeyAlgorithm::EcP256);
    let issued = ca.issue_device_certificate(&request).unwrap();
    let (rest, cert) = X509Certificate::from_der(&issued.certificate_der).unwrap();
    assert!(rest.is_empty());

    let cn = cert.subject().iter_common_name().next().unwrap().as_str().unwrap();
    assert_eq!(cn, "Alice's laptop");
    assert_eq!(issued.subject_common_name, "Alice's laptop");

    let san = cert.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(san.general_names, vec![GeneralName::RFC822Name("alice@example.com")]);

    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth && !eku.any && eku.other.is_empty());
    assert!(!eku.code_signing && !eku.email_protection && !eku.ocsp_signing && !eku.time_stamping);

    let key_usage = cert.key_usage().unwrap().unwrap();
    assert!(key_usage.critical);
    assert!(key_usage.value.digital_signature());
    assert_eq!(key_usage.value.flags, 1, "only digitalSignature");

    let basic = cert.basic_constraints().unwrap().unwrap().value;
    assert!(!basic.ca);

    // 128 bits or fewer, positive, and the hex we report matches the certificate.
    let serial = cert.raw_serial();
    assert!(serial.len() <= 17 && serial[0] & 0x80 == 0, "{serial:02x?}");
    assert!(cert.serial.bits() <= 128 && cert.serial.bits() > 64);
    let reported = x509_parser::num_bigint::BigUint::parse_bytes(issued.serial_hex.as_bytes(), 16);
    assert_eq!(reported.as_ref(), Some(&cert.serial));
    assert_eq!(issued.serial_hex.len() % 2, 0, "whole bytes");

    let mut crl_urls = Vec::new();
    let mut ocsp_urls = Vec::new();
    let mut issuer_urls = Vec::new();
    let mut aki = None;
    let mut ski = None;
    for extension in cert.extensions() {
        match extension.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                        crl_urls.extend(names.iter().filter_map(uri));
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                assert!(!extension.critical);
                for access in aia.iter() {
                    let url = uri(&access.access_location).unwrap();
                    if access.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP {
                        ocsp_urls.push(url);
                    } else if access.access_method == OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS {
                        issuer_urls.push(url);
                    }
                }
            }
            ParsedExtension::AuthorityKeyIdentifier(id) => aki = id.key_identifier.as_ref().map(|k| k.0.to_vec()),
            ParsedExtension::SubjectKeyIdentifier(id) => ski = Some(id.0.to_vec()),
            ParsedExtension::UnsupportedExtension { .. } | ParsedExtension::ParseError { .. } => {
                panic!("x509-parser could not read extension {}", extension.oid)
            }
            _ => {}
        }
    }
    assert_eq!(crl_urls, ["http://pki.mamori.test/devices.crl"]);
    assert_eq!(ocsp_urls, ["http://ocsp.mamori.test"]);
    assert_eq!(issuer_urls, ["http://pki.mamori.test/devices-ca.der"]);
    assert!(ski.is_some_and(|id| !id.is_empty()));

    let (_, issuer) = X509Certificate::from_der(ca.certificate_der()).unwrap();
    let issuer_ski = issuer.extensions().iter().find_map(|e| match e.parsed_extension() {
        ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
        _ => None,
    });
    assert_eq!(aki, issuer_ski, "AKI must match the issuing CA's SKI");
    assert_eq!(cert.issuer().as_raw(), issuer.subject().as_raw());
    cert.verify_signature(Some(issuer.public_key())).unwrap();

    // Validity exactly as requested.
    assert_eq!(cert.validity().not_before.to_datetime(), request.not_before);
    assert_eq!(cert.validity().not_after.to_datetime(), request.not_after);
    assert_eq!((issued.not_before, issued.not_after), (request.not_before, request.not_after));

    let summary = parse_certificate_summary(&issued.certificate_der).unwrap();
    assert_eq!(summary.serial_hex, issued.serial_hex);
    assert_eq!(summary.fingerprint_sha256_hex, issued.fingerprint_sha256_hex);
    assert_eq!(summary.fingerprint_sha256_hex, ca_fingerprint(&issued.certificate_der));
    assert_eq!(summary.subject_common_name.as_deref(), Some("Alice's laptop"));
    assert_eq!(summary.issuer_common_name.as_deref(), Some("Mamori Test Devices CA"));
    assert_eq!(summary.email_addresses, ["alice@example.com"]);
    assert_eq!(summary.not_after, request.not_after);
    assert_eq!(summary.authority_key_id_hex, aki.map(hex::encode));
    assert!(issued.private_key_pem().unwrap().starts_with("-----BEGIN PRIVATE KEY-----\n"));
}

fn uri<'a>(name: &GeneralName<'a>) -> Option<&'a str> {
    match name {
        GeneralName::URI(url) => Some(url),
        _ => None,
    }
}

fn ca_fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(der))
}

#[test]
fn minimal_device_certificate_has_no_optional_extensions() {
    let ca = p256_root();
    let mut request = device_request("Kiosk 7", KeyAlgorithm::EcP256);
    request.email = None;
    request.urls = CertificateUrls::default();
    let issued = ca.issue_device_certificate(&request).unwrap();
    let (_, cert) = X509Certificate::from_der(&issued.certificate_der).unwrap();
    assert!(cert.subject_alternative_name().unwrap().is_none());
    for extension in cert.extensions() {
        assert!(
            !matches!(extension.parsed_extension(), ParsedExtension::CRLDistributionPoints(_) | ParsedExtension::AuthorityInfoAccess(_)),
            "unexpected {}",
            extension.oid
        );
    }
    let ws = Workspace::new();
    assert!(openssl_verify(&ws, ca, &issued.certificate_pem, &["-purpose", "sslclient"]).0);
}

#[test]
fn server_certificate_verifies_as_tls_server_for_its_names() {
    let ws = Workspace::new();
    let ca = p256_root();
    let now = now();
    let issued = ca
        .issue_server_certificate(
            &["localhost".to_owned(), "mamori.test".to_owned()],
            &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
            now - Duration::hours(1),
            now + Duration::days(30),
        )
        .unwrap();
    for check in [["-verify_hostname", "mamori.test"], ["-verify_ip", "127.0.0.1"]] {
        let mut args = vec!["-purpose", "sslserver"];
        args.extend(check);
        let (ok, output) = openssl_verify(&ws, ca, &issued.certificate_pem, &args);
        assert!(ok, "{check:?}: {output}");
    }
    let (ok, _) = openssl_verify(&ws, ca, &issued.certificate_pem, &["-verify_hostname", "other.test"]);
    assert!(!ok);
    let (ok, _) = openssl_verify(&ws, ca, &issued.certificate_pem, &["-purpose", "sslclient"]);
    assert!(!ok, "a server certificate must not be a client certificate");
    assert!(issued.private_key_pkcs8_der.is_some());
    assert!(matches!(ca.issue_server_certificate(&[], &[], now, now + Duration::days(1)), Err(CaError::InvalidRequest(_))));
    assert!(ca.issue_server_certificate(&["bad name".into()], &[], now, now + Duration::days(1)).is_err());
}

#[test]
fn bad_requests_are_refused_with_invalid_request() {
    let ca = p256_root();
    let base = device_request("Alice's laptop", KeyAlgorithm::EcP256);
    type Change = Box<dyn Fn(&mut mamori_ca::DeviceCertificateRequest)>;
    let cases: Vec<(&str, Change)> = vec![
        ("empty name", Box::new(|r| r.common_name = "  ".into())),
        ("bad e-mail", Box::new(|r| r.email = Some("not-an-address".into()))),
        ("non-http URL", Box::new(|r| r.urls.ocsp = Some("ldap://x".into()))),
        ("backwards validity", Box::new(|r| r.not_after = r.not_before - Duration::seconds(1))),
        ("outlives the CA", Box::new(|r| r.not_after = ca.not_after() + Duration::days(1))),
    ];
    for (what, change) in cases {
        let mut request = base.clone();
        change(&mut request);
        let result = ca.issue_device_certificate(&request);
        assert!(matches!(result, Err(CaError::InvalidRequest(_))), "{what}: {result:?}");
    }
}

#[test]
fn ca_creation_rules() {
    let now = now();
    let (start, end) = (now - Duration::days(1), now + Duration::days(30));
    let refused = CertificateAuthority::create_root(&subject("Weak"), KeyAlgorithm::Rsa2048, start, end);
    assert!(matches!(refused, Err(CaError::InvalidRequest(_))));
    // pathLen 0: an intermediate cannot create another intermediate.
    let nested = p256_intermediate().create_intermediate(&subject("Nested"), KeyAlgorithm::EcP256, start, end);
    assert!(matches!(nested, Err(CaError::InvalidRequest(_))), "{nested:?}");

    let text = Workspace::new();
    let root = text.write("root.pem", p256_root().certificate_pem());
    let root_text = text.openssl_ok(&["x509", "-in", &root, "-noout", "-text"]);
    assert!(root_text.contains("CA:TRUE") && root_text.contains("Certificate Sign, CRL Sign"), "{root_text}");
    let inter = text.write("inter.pem", p256_intermediate().certificate_pem());
    let inter_text = text.openssl_ok(&["x509", "-in", &inter, "-noout", "-text"]);
    assert!(inter_text.contains("CA:TRUE, pathlen:0"), "{inter_text}");
    assert!(inter_text.contains("X509v3 Authority Key Identifier"), "{inter_text}");
    assert_eq!(p256_intermediate().chain_der(), [p256_root().certificate_der().to_vec()]);
    assert!(p256_root().chain_der().is_empty());
    assert_eq!(p256_intermediate().subject_common_name(), "Mamori Test Devices CA");
    assert_eq!(rsa_root().key_algorithm(), KeyAlgorithm::Rsa3072);
}
