//! CRLs: openssl verifies their signature, reads number and reasons, and refuses a
//! revoked certificate while accepting the others.

use std::time::Instant;

use mamori_ca::{CaError, CertificateAuthority, RevocationReason, RevokedCertificate};
use time::Duration;

use crate::common::*;

fn revoke(serial_hex: &str, reason: RevocationReason) -> RevokedCertificate {
    RevokedCertificate { serial_hex: serial_hex.into(), revoked_at: now() - Duration::minutes(5), reason }
}

fn check_revocation(ca: &CertificateAuthority) {
    let ws = Workspace::new();
    let revoked = p256_device(ca, "Lost phone");
    let kept = p256_device(ca, "Desk computer");
    let now = now();
    let crl = ca
        .sign_crl(&[revoke(&revoked.serial_hex, RevocationReason::KeyCompromise)], 42, now - Duration::minutes(1), now + Duration::days(7))
        .unwrap();
    assert_eq!(crl.crl_number, 42);
    assert!(crl.pem.starts_with("-----BEGIN X509 CRL-----\n"));
    let crl_file = ws.write("crl.pem", &crl.pem);
    // openssl -crl_check needs a CRL for every CA it checks; only the leaf's here.
    let (ok, output) = openssl_verify(&ws, ca, &revoked.certificate_pem, &["-crl_check", "-CRLfile", &crl_file]);
    assert!(!ok && output.contains("certificate revoked"), "{output}");
    let (ok, output) = openssl_verify(&ws, ca, &kept.certificate_pem, &["-crl_check", "-CRLfile", &crl_file]);
    assert!(ok, "{output}");

    let ca_file = ws.write("ca.pem", ca.certificate_pem());
    let output = ws.openssl_ok(&["crl", "-in", &crl_file, "-CAfile", &ca_file, "-verify", "-noout"]);
    assert!(output.contains("verify OK"), "{output}");
    let text = ws.openssl_ok(&["crl", "-in", &crl_file, "-noout", "-text"]);
    assert!(text.contains("Version 2"), "{text}");
    assert!(text.contains("X509v3 CRL Number:") && text.contains("42"), "{text}");
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(text.contains(&revoked.serial_hex.to_uppercase()), "{text}");
}

#[test]
fn openssl_honours_a_p256_root_crl() {
    check_revocation(p256_root());
}

#[test]
fn openssl_honours_an_intermediate_crl() {
    check_revocation(p256_intermediate());
}

#[test]
fn openssl_honours_an_rsa_ca_crl() {
    check_revocation(rsa_root());
}

#[test]
fn unspecified_reason_is_omitted_and_others_are_named() {
    let ws = Workspace::new();
    let now = now();
    let entries = vec![
        revoke("0a", RevocationReason::Unspecified),
        revoke("0b", RevocationReason::Superseded),
        revoke("0c", RevocationReason::CessationOfOperation),
        revoke("0d", RevocationReason::CertificateHold),
        revoke("0e", RevocationReason::PrivilegeWithdrawn),
        revoke("0f", RevocationReason::AffiliationChanged),
        revoke("10", RevocationReason::CaCompromise),
    ];
    let crl = p256_root().sign_crl(&entries, 7, now, now + Duration::days(1)).unwrap();
    let text = ws.openssl_ok(&["crl", "-in", &ws.write("crl.pem", &crl.pem), "-noout", "-text"]);
    for name in ["Superseded", "Cessation Of Operation", "Certificate Hold", "Privilege Withdrawn", "Affiliation Changed", "CA Compromise"]
    {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    assert_eq!(text.matches("CRL Reason Code").count(), 6, "{text}");
    assert!(!text.contains("Unspecified"), "{text}");
}

#[test]
fn ten_thousand_entries_parse_and_verify_with_openssl() {
    let ws = Workspace::new();
    let now = now();
    let entries: Vec<_> = (1..=10_000u64)
        .map(|i| RevokedCertificate {
            serial_hex: format!("{:032x}", (u128::from(i) << 64) | 0x1234_5678),
            revoked_at: now - Duration::seconds(i as i64),
            reason: if i % 2 == 0 { RevocationReason::KeyCompromise } else { RevocationReason::Unspecified },
        })
        .collect();
    let started = Instant::now();
    let crl = p256_root().sign_crl(&entries, u64::MAX, now, now + Duration::days(1)).unwrap();
    let signing = started.elapsed();
    let crl_file = ws.write("big.crl", &crl.der);
    let ca_file = ws.write("ca.pem", p256_root().certificate_pem());
    let output = ws.openssl_ok(&["crl", "-inform", "DER", "-in", &crl_file, "-CAfile", &ca_file, "-verify", "-noout"]);
    assert!(output.contains("verify OK"), "{output}");
    let text = ws.openssl_ok(&["crl", "-inform", "DER", "-in", &crl_file, "-noout", "-text"]);
    assert_eq!(text.matches("Serial Number:").count(), 10_000);
    assert_eq!(text.matches("Key Compromise").count(), 5_000);
    // u64::MAX needs a leading zero octet to stay positive.
    assert!(text.contains("18446744073709551615"), "CRL number missing");
    // Generous bound for the unoptimised test build; the benchmark measures release.
    assert!(signing.as_secs() < 10, "signing 10,000 entries took {signing:?}");
}

#[test]
fn bad_crl_input_is_refused() {
    let now = now();
    let ca = p256_root();
    let bad = ca.sign_crl(&[revoke("zz", RevocationReason::Superseded)], 1, now, now + Duration::days(1));
    assert!(matches!(bad, Err(CaError::InvalidSerial(_))), "{bad:?}");
    let zero = ca.sign_crl(&[revoke("00", RevocationReason::Superseded)], 1, now, now + Duration::days(1));
    assert!(matches!(zero, Err(CaError::InvalidSerial(_))), "{zero:?}");
    let backwards = ca.sign_crl(&[], 1, now, now - Duration::days(1));
    assert!(matches!(backwards, Err(CaError::InvalidRequest(_))), "{backwards:?}");
    let empty = ca.sign_crl(&[], 1, now, now + Duration::days(1)).unwrap();
    assert!(empty.der.len() < 1000);
}
