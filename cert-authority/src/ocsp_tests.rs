//! Requests are written with yasna, independently of the crate that parses them, so a
//! test can say exactly what goes on the wire (a version 2, a hash nobody knows, a nonce
//! of 10,000 octets).

#![allow(clippy::unwrap_used)]

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use time::macros::datetime;
use x509_parser::prelude::FromDer as _;
use yasna::models::ObjectIdentifier as YasnaOid;

use super::*;
use crate::{CaSubject, CertificateUrls, DeviceCertificateRequest, IssuedCertificate};

const SHA1: &[u64] = &[1, 3, 14, 3, 2, 26];
const SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
const MD5: &[u64] = &[1, 2, 840, 113549, 2, 5];
const NONCE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 2];

fn now() -> OffsetDateTime {
    datetime!(2030-06-01 12:00:00 UTC)
}

fn ca(name: &str) -> CertificateAuthority {
    let subject = CaSubject { common_name: name.into(), organization: Some("Mamori Test".into()) };
    CertificateAuthority::create_root(&subject, KeyAlgorithm::EcP256, now() - time::Duration::days(1), now() + time::Duration::days(3650))
        .unwrap()
}

fn device(ca: &CertificateAuthority) -> IssuedCertificate {
    ca.issue_device_certificate(&DeviceCertificateRequest {
        common_name: "Alice's laptop".into(),
        email: None,
        key_algorithm: KeyAlgorithm::EcP256,
        not_before: now(),
        not_after: now() + time::Duration::days(365),
        urls: CertificateUrls::default(),
    })
    .unwrap()
}

/// One CertID as a test writes it.
#[derive(Clone)]
struct Entry {
    hash: &'static [u64],
    name_hash: Vec<u8>,
    key_hash: Vec<u8>,
    serial: Vec<u8>,
}

fn entry_for(ca: &CertificateAuthority, serial_hex: &str, hash: CertIdHash, oid: &'static [u64]) -> Entry {
    let certificate = parse_certificate("CA", ca.certificate_der()).unwrap();
    let mut serial = hex::decode(serial_hex).unwrap();
    if serial[0] >= 0x80 {
        serial.insert(0, 0);
    }
    Entry {
        hash: oid,
        name_hash: hash.digest(certificate.subject().as_raw()),
        key_hash: hash.digest(&certificate.public_key().subject_public_key.data),
        serial,
    }
}

#[derive(Default)]
struct Shape {
    version: Option<i64>,
    nonce: Option<Vec<u8>>,
    critical_extension: bool,
}

fn request_der(entries: &[Entry], shape: &Shape) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            // tbsRequest
            w.next().write_sequence(|w| {
                if let Some(version) = shape.version {
                    w.next().write_tagged(yasna::Tag::context(0), |w| w.write_i64(version));
                }
                w.next().write_sequence(|w| {
                    for entry in entries {
                        w.next().write_sequence(|w| {
                            w.next().write_sequence(|w| {
                                w.next().write_sequence(|w| {
                                    w.next().write_oid(&YasnaOid::from_slice(entry.hash));
                                    w.next().write_null();
                                });
                                w.next().write_bytes(&entry.name_hash);
                                w.next().write_bytes(&entry.key_hash);
                                // The INTEGER's content octets as given, so a test can send a negative one.
                                w.next().write_der(&[&[0x02, entry.serial.len() as u8][..], &entry.serial].concat());
                            });
                        });
                    }
                });
                if shape.nonce.is_some() || shape.critical_extension {
                    w.next().write_tagged(yasna::Tag::context(2), |w| {
                        w.write_sequence(|w| {
                            if let Some(nonce) = &shape.nonce {
                                w.next().write_sequence(|w| {
                                    w.next().write_oid(&YasnaOid::from_slice(NONCE));
                                    w.next().write_bytes(&yasna::construct_der(|w| w.write_bytes(nonce)));
                                });
                            }
                            if shape.critical_extension {
                                w.next().write_sequence(|w| {
                                    w.next().write_oid(&YasnaOid::from_slice(&[1, 2, 3, 4]));
                                    w.next().write_bool(true);
                                    w.next().write_bytes(&[0x05, 0x00]);
                                });
                            }
                        });
                    });
                }
            });
        });
    })
}

fn times() -> OcspTimes {
    OcspTimes { produced_at: now(), this_update: now() - time::Duration::hours(2), next_update: now() + time::Duration::hours(22) }
}

fn signer(ca: &CertificateAuthority) -> OcspSigner {
    ca.ocsp_signer(now(), StdDuration::from_secs(2 * 86_400)).unwrap()
}

#[test]
fn an_honest_request_is_read_and_matched_to_its_issuer() {
    let ca = ca("OCSP Test CA");
    let issued = device(&ca);
    let nonce = vec![0x5a; 16];
    let der = request_der(
        &[entry_for(&ca, &issued.serial_hex, CertIdHash::Sha1, SHA1), entry_for(&ca, &issued.serial_hex, CertIdHash::Sha256, SHA256)],
        &Shape { nonce: Some(nonce.clone()), ..Shape::default() },
    );
    let query = parse_ocsp_request(&der).unwrap();
    assert_eq!(query.certificates.len(), 2);
    assert_eq!(query.nonce(), Some(nonce));
    let signer = signer(&ca);
    for requested in &query.certificates {
        assert_eq!(requested.serial_hex.as_deref(), Some(issued.serial_hex.as_str()));
        assert!(signer.is_issuer_of(requested));
    }
    // An explicit version v1 is as good as the default.
    let explicit =
        request_der(&[entry_for(&ca, &issued.serial_hex, CertIdHash::Sha1, SHA1)], &Shape { version: Some(0), ..Shape::default() });
    assert!(parse_ocsp_request(&explicit).is_ok());
}

#[test]
fn another_issuer_or_an_unknown_hash_is_not_ours() {
    let (ours, theirs) = (ca("Our CA"), ca("Their CA"));
    let signer = signer(&ours);
    let foreign = request_der(&[entry_for(&theirs, "1234", CertIdHash::Sha1, SHA1)], &Shape::default());
    assert!(!signer.is_issuer_of(&parse_ocsp_request(&foreign).unwrap().certificates[0]));
    // Our hashes under an algorithm nobody computes: read, but never matched.
    let md5 = request_der(&[entry_for(&ours, "1234", CertIdHash::Sha1, MD5)], &Shape::default());
    let query = parse_ocsp_request(&md5).unwrap();
    assert_eq!(query.certificates[0].hash, None);
    assert!(!signer.is_issuer_of(&query.certificates[0]));
    // Our SHA-1 hashes labelled SHA-256: the lengths and values do not match.
    let mislabelled = request_der(&[entry_for(&ours, "1234", CertIdHash::Sha1, SHA256)], &Shape::default());
    assert!(!signer.is_issuer_of(&parse_ocsp_request(&mislabelled).unwrap().certificates[0]));
}

#[test]
fn serials_no_ca_issues_have_no_hex() {
    let ca = ca("OCSP Test CA");
    let mut negative = entry_for(&ca, "1234", CertIdHash::Sha1, SHA1);
    negative.serial = vec![0x80, 0x01];
    let mut zero = negative.clone();
    zero.serial = vec![0];
    let query = parse_ocsp_request(&request_der(&[negative, zero], &Shape::default())).unwrap();
    assert!(query.certificates.iter().all(|c| c.serial_hex.is_none()));
}

#[test]
fn hostile_requests_are_malformed_and_never_panic() {
    let ca = ca("OCSP Test CA");
    let issued = device(&ca);
    let entry = entry_for(&ca, &issued.serial_hex, CertIdHash::Sha1, SHA1);
    let honest = request_der(std::slice::from_ref(&entry), &Shape { nonce: Some(vec![1; 16]), ..Shape::default() });
    let malformed = |der: &[u8]| parse_ocsp_request(der) == Err(OcspFailure::MalformedRequest);

    assert!(malformed(b""));
    assert!(malformed(b"GET / HTTP/1.1\r\n\r\n"));
    assert!(malformed(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]));
    for cut in 1..honest.len() {
        assert!(malformed(&honest[..cut]), "truncated at {cut}");
    }
    let mut trailing = honest.clone();
    trailing.push(0);
    assert!(malformed(&trailing));
    assert!(malformed(&request_der(std::slice::from_ref(&entry), &Shape { version: Some(1), ..Shape::default() })));
    assert!(malformed(&request_der(&[], &Shape::default())));
    assert!(malformed(&request_der(&vec![entry.clone(); MAX_REQUEST_ENTRIES + 1], &Shape::default())));
    assert!(!malformed(&request_der(&vec![entry.clone(); MAX_REQUEST_ENTRIES], &Shape::default())));
    for length in [0, 33, 10_000] {
        let shape = Shape { nonce: Some(vec![7; length]), ..Shape::default() };
        assert!(malformed(&request_der(std::slice::from_ref(&entry), &shape)), "nonce of {length} octets");
    }
    for length in [1, 32] {
        let shape = Shape { nonce: Some(vec![7; length]), ..Shape::default() };
        assert!(!malformed(&request_der(std::slice::from_ref(&entry), &shape)), "nonce of {length} octets");
    }
    assert!(malformed(&request_der(std::slice::from_ref(&entry), &Shape { critical_extension: true, ..Shape::default() })));
    assert!(malformed(&vec![0x30; MAX_OCSP_REQUEST_BYTES + 1]));

    // Every single-byte change of an honest request: an answer either way, no panic.
    for position in 0..honest.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut mutated = honest.clone();
            mutated[position] ^= flip;
            let _ = parse_ocsp_request(&mutated);
        }
    }
}

#[test]
fn failures_are_bare_statuses() {
    for (failure, status) in
        [(OcspFailure::MalformedRequest, 1u8), (OcspFailure::InternalError, 2), (OcspFailure::TryLater, 3), (OcspFailure::Unauthorized, 6)]
    {
        assert_eq!(failure.response_der(), vec![0x30, 0x03, 0x0a, 0x01, status]);
    }
}

#[test]
fn the_signer_is_a_delegated_ocsp_responder_of_its_ca() {
    let ca = ca("OCSP Test CA");
    let signer = signer(&ca);
    let (_, certificate) = x509_parser::certificate::X509Certificate::from_der(signer.certificate_der()).unwrap();
    let (_, issuer) = x509_parser::certificate::X509Certificate::from_der(ca.certificate_der()).unwrap();
    certificate.verify_signature(Some(issuer.public_key())).unwrap();
    assert_eq!(certificate.issuer(), issuer.subject());
    let eku = certificate.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.ocsp_signing && !eku.client_auth && !eku.server_auth);
    let nocheck = x509_parser::oid_registry::Oid::from(ID_PKIX_OCSP_NOCHECK).unwrap();
    assert!(certificate.get_extension_unique(&nocheck).unwrap().is_some());
    assert!(!certificate.is_ca());
    assert_eq!(signer.not_before(), now() - time::Duration::hours(1));
    assert_eq!(signer.not_after(), now() + time::Duration::days(2));
    // Never beyond the CA itself.
    let long = ca.ocsp_signer(now(), StdDuration::from_secs(20 * 365 * 86_400)).unwrap();
    assert_eq!(long.not_after(), ca.not_after());
}

#[test]
fn responses_are_signed_and_carry_status_times_and_nonce() {
    let ca = ca("OCSP Test CA");
    let (good, revoked) = (device(&ca), device(&ca));
    let nonce = vec![0xa5; 20];
    let der = request_der(
        &[
            entry_for(&ca, &good.serial_hex, CertIdHash::Sha1, SHA1),
            entry_for(&ca, &revoked.serial_hex, CertIdHash::Sha256, SHA256),
            entry_for(&ca, "7777", CertIdHash::Sha1, SHA1),
        ],
        &Shape { nonce: Some(nonce.clone()), ..Shape::default() },
    );
    let query = parse_ocsp_request(&der).unwrap();
    let revoked_at = now() - time::Duration::hours(3);
    let statuses = [OcspStatus::Good, OcspStatus::Revoked { at: revoked_at, reason: RevocationReason::KeyCompromise }, OcspStatus::Unknown];
    let signer = signer(&ca);
    let response_der = signer.respond(&query, &statuses, times()).unwrap();

    let response = OcspResponse::from_der(&response_der).unwrap();
    assert_eq!(response.response_status, OcspResponseStatus::Successful);
    let bytes = response.response_bytes.unwrap();
    assert_eq!(bytes.response_type, ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1"));
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).unwrap();

    // The signature verifies with the key of the one certificate it carries.
    let certs = basic.certs.as_ref().unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].to_der().unwrap(), signer.certificate_der());
    let key = certs[0].tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key)
        .verify(&basic.tbs_response_data.to_der().unwrap(), basic.signature.raw_bytes())
        .unwrap();
    assert_eq!(basic.tbs_response_data.responder_id, ResponderId::ByKey(OctetString::new(CertIdHash::Sha1.digest(key)).unwrap()));

    assert_eq!(basic.nonce().unwrap().0.as_bytes(), nonce.as_slice());
    let data = &basic.tbs_response_data;
    assert_eq!(data.produced_at, ocsp_time("t", now()).unwrap());
    assert_eq!(data.responses.len(), 3);
    for (single, requested) in data.responses.iter().zip(&query.certificates) {
        assert_eq!(single.cert_id, requested.cert_id);
        assert_eq!(single.this_update, ocsp_time("t", times().this_update).unwrap());
        assert_eq!(single.next_update, Some(ocsp_time("t", times().next_update).unwrap()));
    }
    assert_eq!(data.responses[0].cert_status, CertStatus::good());
    assert_eq!(
        data.responses[1].cert_status,
        CertStatus::revoked(RevokedInfo {
            revocation_time: ocsp_time("t", revoked_at).unwrap(),
            revocation_reason: Some(CrlReason::KeyCompromise)
        })
    );
    assert_eq!(data.responses[2].cert_status, CertStatus::unknown());

    // Without a nonce there is none to echo; an unspecified reason is left out.
    let plain = parse_ocsp_request(&request_der(&[entry_for(&ca, &good.serial_hex, CertIdHash::Sha1, SHA1)], &Shape::default())).unwrap();
    let der = signer.respond(&plain, &[OcspStatus::Revoked { at: revoked_at, reason: RevocationReason::Unspecified }], times()).unwrap();
    let basic = BasicOcspResponse::from_der(OcspResponse::from_der(&der).unwrap().response_bytes.unwrap().response.as_bytes()).unwrap();
    assert!(basic.nonce().is_none() && basic.tbs_response_data.response_extensions.is_none());
    match basic.tbs_response_data.responses[0].cert_status {
        CertStatus::Revoked(info) => assert_eq!(info.revocation_reason, None),
        other => panic!("{other:?}"),
    }

    // Callers must give one status per certificate and a window that moves forward.
    assert!(signer.respond(&query, &statuses[..2], times()).is_err());
    let backwards = OcspTimes { next_update: times().this_update, ..times() };
    assert!(signer.respond(&query, &statuses, backwards).is_err());
}
