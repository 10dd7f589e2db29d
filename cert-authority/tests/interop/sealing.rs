//! Sealed CAs: round trips through serde, and refuses wrong keys, altered blobs and
//! keys moved onto another certificate.

use mamori_ca::{CaError, CertificateAuthority, SealedCa, SealingKey};

use crate::common::*;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn the_server_can_share_these_types_across_threads() {
    assert_send_sync::<CertificateAuthority>();
    assert_send_sync::<SealingKey>();
    assert_send_sync::<mamori_ca::IssuedCertificate>();
}

#[test]
fn a_sealed_intermediate_round_trips_through_json_and_still_issues() {
    let ca = p256_intermediate();
    let key = SealingKey::generate();
    let sealed = ca.to_sealed(&key).unwrap();
    assert_eq!(sealed.chain_pem, [p256_root().certificate_pem()]);
    let json = serde_json::to_string(&sealed).unwrap();
    assert!(json.contains("\"key_algorithm\":\"p256\""), "{json}");
    assert!(!json.contains("PRIVATE KEY"), "{json}");
    let restored: SealedCa = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, sealed);

    let key_again = SealingKey::from_base64(&key.to_base64()).unwrap();
    let reopened = CertificateAuthority::from_sealed(&restored, &key_again).unwrap();
    assert_eq!(reopened.fingerprint_sha256_hex(), ca.fingerprint_sha256_hex());
    assert_eq!(reopened.chain_der(), ca.chain_der());
    assert_eq!(reopened.key_algorithm(), ca.key_algorithm());
    assert_eq!(reopened.not_after(), ca.not_after());

    let ws = Workspace::new();
    let issued = p256_device(&reopened, "after a restart");
    let (ok, output) = openssl_verify(&ws, ca, &issued.certificate_pem, &["-purpose", "sslclient"]);
    assert!(ok, "{output}");
}

#[test]
fn a_wrong_sealing_key_is_reported_as_such() {
    let sealed = p256_root().to_sealed(&SealingKey::generate()).unwrap();
    let result = CertificateAuthority::from_sealed(&sealed, &SealingKey::generate());
    assert!(matches!(result, Err(CaError::WrongSealingKey)), "{result:?}");
}

#[test]
fn tampered_blobs_and_swapped_certificates_are_refused() {
    let key = SealingKey::generate();
    let sealed = p256_root().to_sealed(&key).unwrap();
    for position in [0, 5, 20, sealed.sealed_private_key.len() - 1] {
        let mut tampered = sealed.clone();
        tampered.sealed_private_key[position] ^= 0x80;
        assert!(CertificateAuthority::from_sealed(&tampered, &key).is_err(), "byte {position}");
    }
    let mut truncated = sealed.clone();
    truncated.sealed_private_key.truncate(10);
    assert!(matches!(CertificateAuthority::from_sealed(&truncated, &key), Err(CaError::WrongSealingKey)));

    // The root's sealed key presented with the intermediate's certificate.
    let mut swapped = sealed.clone();
    swapped.certificate_pem = p256_intermediate().certificate_pem();
    let result = CertificateAuthority::from_sealed(&swapped, &key);
    assert!(matches!(result, Err(CaError::WrongSealingKey)), "{result:?}");

    let mut wrong_algorithm = sealed.clone();
    wrong_algorithm.key_algorithm = mamori_ca::KeyAlgorithm::Rsa3072;
    assert!(matches!(CertificateAuthority::from_sealed(&wrong_algorithm, &key), Err(CaError::InvalidRequest(_))));
}

#[test]
fn debug_output_never_shows_key_material() {
    let ca = p256_root();
    let debug = format!("{ca:?}");
    assert!(debug.contains("redacted") && debug.contains("Mamori Test Root P-256"), "{debug}");
    let issued = p256_device(ca, "debug");
    let key_hex = hex::encode(issued.private_key_pkcs8_der.as_ref().unwrap().as_slice());
    let debug = format!("{issued:?}");
    assert!(!debug.contains(&key_hex[key_hex.len() - 32..]) && debug.contains("redacted"), "{debug}");
    assert!(!debug.contains("PRIVATE KEY"));
    assert_eq!(format!("{:?}", SealingKey::generate()), "SealingKey(redacted)");
}
