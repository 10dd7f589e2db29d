//! The registration rules of `fields::site_rules` as the service applies them to a
//! client (the API, the CLI and the console all register through `client_spec`).

use super::*;

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn registration() -> ClientRegistration {
    ClientRegistration { name: "Site".into(), redirect_uris: vec!["https://rp.test/cb".into()], ..Default::default() }
}

fn refused_field(reg: ClientRegistration) -> Option<crate::fields::FieldError> {
    match client_spec(reg, FetchRule::default(), now()) {
        Err(AdminError::Field(f)) => Some(f),
        _ => None,
    }
}

#[test]
fn scopes_are_offered_or_namespaced() {
    let ok = ClientRegistration { scopes: vec!["openid".into(), "offline_access".into(), "api.read".into()], ..registration() };
    assert!(client_spec(ok, FetchRule::default(), now()).is_ok());
    for bad in ["bogus", "admin", "OpenID", "phone"] {
        let refused = refused_field(ClientRegistration { scopes: vec!["openid".into(), bad.into()], ..registration() }).expect(bad);
        assert_eq!((refused.field, site_rules::shown_value(&refused)), ("scopes", Some(bad)), "{refused:?}");
    }
}

fn ec_point() -> (String, String) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    use base64::Engine as _;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).expect("key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("key");
    let point = pair.public_key().as_ref();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    (b64.encode(&point[1..33]), b64.encode(&point[33..]))
}

#[test]
fn private_key_jwt_takes_public_signing_keys_only_and_never_repeats_a_secret() {
    let (x, y) = ec_point();
    let public = serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "use": "sig"});
    let with_keys = |keys: serde_json::Value| ClientRegistration {
        token_endpoint_auth_method: "private_key_jwt".into(),
        grant_types: vec!["client_credentials".into()],
        redirect_uris: Vec::new(),
        jwks: Some(serde_json::json!({ "keys": keys })),
        ..registration()
    };
    assert!(client_spec(with_keys(serde_json::json!([public.clone()])), FetchRule::default(), now()).is_ok());
    let mut private = public.clone();
    private["d"] = "UFJJVkFURS1TQ0FMQVItVkFMVUU".into();
    let oct = serde_json::json!({"kty": "oct", "k": "U0hBUkVELVNFQ1JFVC1WQUxVRQ"});
    let mut enc = public.clone();
    enc["use"] = "enc".into();
    for (keys, key) in [
        (serde_json::json!([public.clone(), private]), site_rules::KEY_JWKS_SECRET),
        (serde_json::json!([oct]), site_rules::KEY_JWKS_SECRET),
        (serde_json::json!([enc]), site_rules::KEY_JWKS_ENCRYPTION),
    ] {
        let refused = refused_field(with_keys(keys.clone())).expect("refused");
        assert_eq!((refused.field, refused.key), ("jwks", key), "{refused:?}");
        assert!(!refused.detail.contains("VkFMVUU"), "the secret is not repeated: {refused:?}");
    }
}

/// A self-signed P-256 certificate valid from `from` to `to` days from now.
fn certificate(from: i64, to: i64) -> (String, Vec<u8>) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["rp.test".to_owned()]).expect("params");
    params.not_before = now() + time::Duration::days(from);
    params.not_after = now() + time::Duration::days(to);
    let cert = params.self_signed(&key).expect("certificate");
    (cert.pem(), cert.der().to_vec())
}

#[test]
fn a_self_signed_tls_client_certificate_must_be_a_current_certificate() {
    let with_cert = |pem: &str| ClientRegistration {
        token_endpoint_auth_method: "self_signed_tls_client_auth".into(),
        tls_client_certificate_pem: Some(pem.to_owned()),
        ..registration()
    };
    let (pem, der) = certificate(-1, 30);
    let (spec, _, _) = client_spec(with_cert(&pem), FetchRule::default(), now()).expect("valid");
    assert_eq!(spec.settings.tls_client_certificate_sha256, [hex::encode(Sha256::digest(&der))]);
    let garbage = "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGUgYXQgYWxs\n-----END CERTIFICATE-----\n";
    let (expired, _) = certificate(-30, -1);
    let (early, _) = certificate(2, 30);
    for (pem, key) in [
        (garbage.to_owned(), site_rules::KEY_CERT_GARBAGE),
        ("MIIB".to_owned(), site_rules::KEY_CERT_NOT_PEM),
        (expired, site_rules::KEY_CERT_EXPIRED),
        (early, site_rules::KEY_CERT_NOT_YET_VALID),
    ] {
        let refused = refused_field(with_cert(&pem)).expect(key);
        assert_eq!((refused.field, refused.key), ("tls_client_certificate", key), "{refused:?}");
    }
}
