//! Signed profiles checked by OpenSSL, not by our own parser: `openssl cms -verify`
//! against the test CA gives back the plist, which re-parses with its PKCS#12 payload; a
//! changed byte fails; a wrong or half configuration stops at load.

use std::path::{Path, PathBuf};
use std::process::Command;

use plist::Value;

use super::mobileconfig_signing::ProfileSigner;
use crate::config::CaConfig;
use crate::flows::mobileconfig::{ProfileInput, ProfileTexts, configuration_profile};

/// A test CA and a profile-signing certificate under it, as PEM files in `dir`: (CA file,
/// chain file, key file). `rsa` makes the signing key an RSA key (from openssl).
fn signing_files(dir: &Path, rsa: bool) -> (PathBuf, PathBuf, PathBuf) {
    signing_files_valid(dir, rsa, None)
}

/// As [`signing_files`], the signing certificate valid over `validity` when given.
fn signing_files_valid(
    dir: &Path,
    rsa: bool,
    validity: Option<(time::OffsetDateTime, time::OffsetDateTime)>,
) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Profile Test CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let key = if rsa {
        let out = Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
            .output()
            .expect("openssl runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        rcgen::KeyPair::from_pem(&String::from_utf8(out.stdout).expect("PEM")).expect("RSA key")
    } else {
        rcgen::KeyPair::generate().expect("signing key")
    };
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(rcgen::DnType::CommonName, "Mamori profile signing");
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    if let Some((not_before, not_after)) = validity {
        (params.not_before, params.not_after) = (not_before, not_after);
    }
    let cert = params.signed_by(&key, &issuer).expect("signing certificate");

    let (ca_file, chain_file, key_file) = (dir.join("ca.pem"), dir.join("chain.pem"), dir.join("signing.key"));
    std::fs::write(&ca_file, ca_cert.pem()).expect("write");
    std::fs::write(&chain_file, format!("{}{}", cert.pem(), ca_cert.pem())).expect("write");
    std::fs::write(&key_file, key.serialize_pem()).expect("write");
    (ca_file, chain_file, key_file)
}

fn profile() -> Vec<u8> {
    let input = ProfileInput {
        pkcs12: b"p12 bytes",
        file_name: "u1-1.p12",
        acquisition_id: "C01234567890",
        device_id: None,
        public_host: "idp.example.jp",
        ca_root_der: None,
        texts: ProfileTexts::in_language(&mamori_ui::Ui::new(), mamori_ui::Locale::En),
    };
    configuration_profile(&input).expect("profile")
}

/// `openssl cms -verify` of `signed` against `ca`: the content when it verifies.
fn openssl_verify(dir: &Path, signed: &[u8], ca: &Path) -> Result<Vec<u8>, String> {
    let (input, content) = (dir.join("p.mobileconfig"), dir.join("content.plist"));
    std::fs::write(&input, signed).expect("write");
    let _ = std::fs::remove_file(&content);
    let out = Command::new("openssl")
        .args(["cms", "-verify", "-inform", "DER", "-purpose", "any", "-binary"])
        .arg("-in")
        .arg(&input)
        .arg("-CAfile")
        .arg(ca)
        .arg("-out")
        .arg(&content)
        .output()
        .expect("openssl runs");
    if out.status.success() {
        Ok(std::fs::read(&content).expect("content"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn a_signed_profile_verifies_with_openssl_and_carries_the_plist() {
    for rsa in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca, chain, key) = signing_files(dir.path(), rsa);
        let signer = ProfileSigner::load(&chain, &key).expect("signer");
        let plist = profile();
        let signed = signer.sign(&plist, time::OffsetDateTime::now_utc()).expect("signed");
        assert!(Value::from_reader_xml(&signed[..]).is_err(), "the signed profile is DER, not a bare plist");

        let content = openssl_verify(dir.path(), &signed, &ca).unwrap_or_else(|e| panic!("rsa={rsa}: does not verify: {e}"));
        assert_eq!(content, plist, "the signed content is the plist, byte for byte");
        let parsed = Value::from_reader_xml(&content[..]).expect("plist").into_dictionary().expect("dict");
        let payload = parsed["PayloadContent"].as_array().expect("content")[0].as_dictionary().expect("payload");
        assert_eq!(payload["PayloadType"].as_string(), Some("com.apple.security.pkcs12"));
        assert_eq!(payload["PayloadContent"].as_data(), Some(&b"p12 bytes"[..]));

        // Hostile: one byte of the plist changed inside the signed file.
        let at = signed.windows(9).position(|w| w == b"PayloadUU").expect("the content is attached");
        let mut tampered = signed.clone();
        tampered[at] ^= 0x20;
        assert!(openssl_verify(dir.path(), &tampered, &ca).is_err(), "rsa={rsa}: a changed byte still verified");

        // Hostile: another CA does not vouch for it.
        let other = tempfile::tempdir().expect("tempdir");
        let (other_ca, _, _) = signing_files(other.path(), false);
        assert!(openssl_verify(dir.path(), &signed, &other_ca).is_err(), "rsa={rsa}: verified against a stranger's CA");
    }
}

#[test]
fn unsigned_unless_configured_and_a_wrong_configuration_stops_at_load() {
    assert!(ProfileSigner::from_config(&CaConfig::default()).expect("no signing").is_none());

    let dir = tempfile::tempdir().expect("tempdir");
    let (_, chain, key) = signing_files(dir.path(), false);
    let config = |chain: Option<&Path>, key: Option<&Path>| CaConfig {
        mobileconfig_signing_chain_file: chain.map(Path::to_owned),
        mobileconfig_signing_key_file: key.map(Path::to_owned),
        ..CaConfig::default()
    };
    assert!(ProfileSigner::from_config(&config(Some(&chain), Some(&key))).expect("loads").is_some());
    let half = ProfileSigner::from_config(&config(Some(&chain), None)).expect_err("one key alone");
    assert!(half.to_string().contains("mobileconfig_signing_key_file"), "{half}");

    // A key that is not the certificate's.
    let other = tempfile::tempdir().expect("tempdir");
    let (_, _, other_key) = signing_files(other.path(), false);
    let err = ProfileSigner::load(&chain, &other_key).expect_err("mismatched key");
    assert!(err.to_string().contains("not the key of the first certificate"), "{err}");
    // A P-384 key is refused by name rather than signing with the wrong digest.
    let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384");
    std::fs::write(dir.path().join("p384.key"), p384.serialize_pem()).expect("write");
    let err = ProfileSigner::load(&chain, &dir.path().join("p384.key")).expect_err("P-384");
    assert!(err.to_string().contains("neither a P-256 nor an RSA key"), "{err}");
    // Not PEM at all.
    std::fs::write(dir.path().join("junk.pem"), "not a certificate").expect("write");
    let err = ProfileSigner::load(&dir.path().join("junk.pem"), &key).expect_err("junk");
    assert!(err.to_string().contains("mobileconfig_signing_chain_file"), "{err}");
}

#[test]
fn a_signing_certificate_outside_its_validity_or_an_empty_path_stops_at_load() {
    let now = time::OffsetDateTime::now_utc();
    for (label, validity) in [
        ("expired", (now - time::Duration::days(400), now - time::Duration::days(35))),
        ("not yet valid", (now + time::Duration::days(30), now + time::Duration::days(400))),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, chain, key) = signing_files_valid(dir.path(), false, Some(validity));
        let err = ProfileSigner::load(&chain, &key).expect_err(label);
        assert!(err.to_string().contains("not now") && err.to_string().contains("mobileconfig_signing_chain_file"), "{label}: {err}");
    }
    // Honest twin: valid for one more day still loads and answers valid_at.
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, chain, key) = signing_files_valid(dir.path(), false, Some((now - time::Duration::days(1), now + time::Duration::days(1))));
    let signer = ProfileSigner::load(&chain, &key).expect("valid now");
    assert!(signer.valid_at(now));
    assert!(!signer.valid_at(now + time::Duration::days(2)), "a running server notices the expiry");
    // An empty value resolves to the config's folder.
    let err = ProfileSigner::load(dir.path(), &key).expect_err("a folder");
    assert!(err.to_string().contains("is a folder"), "{err}");
}
