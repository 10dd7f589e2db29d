//! The public keys a relying site gives Mamori to verify its signatures with: a JWK Set
//! for `private_key_jwt` (RFC 7523 §2.2, OIDC Core §9) and signed request objects, inline
//! at registration or published at its `jwks_uri`. Mamori only ever verifies with these
//! keys (it encrypts nothing to clients), so each key must be a public asymmetric key
//! [`crate::jws::Parsed::verify`] can use. One screen for every way a set arrives.
//!
//! A refusal never carries a value of the key: a set holding private parts is a leaked
//! secret, and the message, the log line and the audit record must not spread it.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// Members that hold private or secret key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why one key of a set is refused. The messages name members, never their values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwkRefusal {
    #[error("not a JWK (a JSON object with a `kty`)")]
    NotAKey,
    #[error("a symmetric key (`kty` oct) is a shared secret; give the client's public key")]
    Symmetric,
    #[error("it holds private key material (`{0}`); give the public key only, and replace this key: it is no longer secret")]
    PrivateMaterial(&'static str),
    #[error("it is an encryption key (`use` enc); Mamori verifies the client's signatures with these keys and encrypts nothing to it")]
    EncryptionKey,
    #[error("its `key_ops` do not include `verify`")]
    NotForVerifying,
    #[error("Mamori verifies with EC P-256 or RSA keys only")]
    UnsupportedType,
    #[error("its `alg` is not ES256 (EC) or RS256/PS256 (RSA)")]
    UnsupportedAlgorithm,
    #[error("an EC key needs `crv` P-256 and a point `x`, `y` on that curve")]
    BadEcKey,
    #[error("{0}")]
    BadRsaKey(&'static str),
}

impl JwkRefusal {
    /// Whether the key was a secret (private parts, or a symmetric key): the set must
    /// not be shown back, not even to the operator who typed it.
    pub fn is_secret(self) -> bool {
        matches!(self, JwkRefusal::Symmetric | JwkRefusal::PrivateMaterial(_))
    }
}

/// Why a set is refused: the key (1-based) and why, or the set's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwkSetRefusal {
    #[error("a JWK Set {{\"keys\": [...]}} with at least one key")]
    NotASet,
    #[error("at most {0} keys")]
    TooMany(usize),
    #[error("key {index}: {why}")]
    Key { index: usize, why: JwkRefusal },
}

impl JwkSetRefusal {
    pub fn is_secret(self) -> bool {
        matches!(self, JwkSetRefusal::Key { why, .. } if why.is_secret())
    }
}

/// Screens one key: a public EC P-256 or RSA key for signatures (`use` absent or `sig`,
/// `key_ops` absent or with `verify`, `alg` absent or one Mamori verifies with).
pub fn screen_jwk(jwk: &Value) -> Result<(), JwkRefusal> {
    let kty = jwk.as_object().and_then(|o| o.get("kty")).and_then(Value::as_str).ok_or(JwkRefusal::NotAKey)?;
    if kty == "oct" {
        return Err(JwkRefusal::Symmetric);
    }
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.get(**m).is_some()) {
        return Err(JwkRefusal::PrivateMaterial(member));
    }
    match jwk.get("use") {
        None => {}
        Some(u) if u == "sig" => {}
        Some(u) if u == "enc" => return Err(JwkRefusal::EncryptionKey),
        Some(_) => return Err(JwkRefusal::NotForVerifying),
    }
    if let Some(ops) = jwk.get("key_ops")
        && !ops.as_array().is_some_and(|ops| ops.iter().any(|o| o == "verify"))
    {
        return Err(JwkRefusal::NotForVerifying);
    }
    let algs: &[&str] = match kty {
        "EC" => &["ES256"],
        "RSA" => &["RS256", "PS256"],
        _ => return Err(JwkRefusal::UnsupportedType),
    };
    if let Some(alg) = jwk.get("alg")
        && !alg.as_str().is_some_and(|a| algs.contains(&a))
    {
        return Err(JwkRefusal::UnsupportedAlgorithm);
    }
    if kty == "RSA" {
        return crate::jws::check_signing_jwk(jwk).map_err(JwkRefusal::BadRsaKey);
    }
    if jwk["crv"] != "P-256" {
        return Err(JwkRefusal::BadEcKey);
    }
    let coordinate = |name: &str| jwk[name].as_str().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok()).filter(|c| c.len() == 32);
    let (Some(x), Some(y)) = (coordinate("x"), coordinate("y")) else { return Err(JwkRefusal::BadEcKey) };
    let mut point = vec![4u8];
    point.extend(x);
    point.extend(y);
    // Parsing checks the point is on the curve: a key that could never verify is refused now.
    ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).map(drop).map_err(|_| JwkRefusal::BadEcKey)
}

/// Screens a set a client registers: every key must pass [`screen_jwk`].
pub fn screen_jwk_set(set: &Value, max_keys: usize) -> Result<(), JwkSetRefusal> {
    let keys = set.get("keys").and_then(Value::as_array).filter(|k| !k.is_empty()).ok_or(JwkSetRefusal::NotASet)?;
    if keys.len() > max_keys {
        return Err(JwkSetRefusal::TooMany(max_keys));
    }
    for (i, key) in keys.iter().enumerate() {
        screen_jwk(key).map_err(|why| JwkSetRefusal::Key { index: i + 1, why })?;
    }
    Ok(())
}

/// The keys of a set a client publishes (at its `jwks_uri`) that Mamori may verify with:
/// the set is refused whole when any key is a secret (the client leaked it: nothing it
/// signs is trusted); keys for other uses (encryption for other providers) are left out.
pub fn published_keys(set: &Value, max_keys: usize) -> Result<Value, JwkSetRefusal> {
    let keys = set.get("keys").and_then(Value::as_array).ok_or(JwkSetRefusal::NotASet)?;
    if keys.len() > max_keys {
        return Err(JwkSetRefusal::TooMany(max_keys));
    }
    let mut usable = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        match screen_jwk(key) {
            Ok(()) => usable.push(key.clone()),
            Err(why) if why.is_secret() => return Err(JwkSetRefusal::Key { index: i + 1, why }),
            Err(_) => {}
        }
    }
    Ok(serde_json::json!({ "keys": usable }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ec_key() -> Value {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("key");
        let point = pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])})
    }

    fn rsa_key() -> Value {
        let mut n = vec![0xc5_u8; 256];
        n[255] |= 1;
        json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(n), "e": "AQAB"})
    }

    fn with(mut key: Value, member: &str, value: Value) -> Value {
        key[member] = value;
        key
    }

    #[test]
    fn public_signing_keys_pass() {
        for key in [
            ec_key(),
            rsa_key(),
            with(ec_key(), "use", json!("sig")),
            with(ec_key(), "alg", json!("ES256")),
            with(rsa_key(), "alg", json!("PS256")),
            with(rsa_key(), "key_ops", json!(["verify"])),
            with(ec_key(), "kid", json!("k1")),
        ] {
            assert_eq!(screen_jwk(&key), Ok(()), "{key}");
        }
        assert_eq!(screen_jwk_set(&json!({"keys": [ec_key(), rsa_key()]}), 20), Ok(()));
    }

    #[test]
    fn secrets_are_refused_without_their_values() {
        let private_ec = with(ec_key(), "d", json!("c2VjcmV0LXNjYWxhcg"));
        assert_eq!(screen_jwk(&private_ec), Err(JwkRefusal::PrivateMaterial("d")));
        for member in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
            assert_eq!(screen_jwk(&with(rsa_key(), member, json!("c2VjcmV0"))), Err(JwkRefusal::PrivateMaterial(member)), "{member}");
        }
        let oct = json!({"kty": "oct", "k": "c2hhcmVkLXNlY3JldA"});
        assert_eq!(screen_jwk(&oct), Err(JwkRefusal::Symmetric));
        let refused = screen_jwk_set(&json!({"keys": [ec_key(), private_ec]}), 20).expect_err("refused");
        assert_eq!(refused, JwkSetRefusal::Key { index: 2, why: JwkRefusal::PrivateMaterial("d") });
        assert!(refused.is_secret());
        let said = refused.to_string();
        assert!(!said.contains("c2VjcmV0") && said.starts_with("key 2: ") && said.contains("`d`"), "{said}");
        // Published sets: a secret refuses the whole set; other keys are only left out.
        assert!(published_keys(&json!({"keys": [ec_key(), oct]}), 20).expect_err("refused").is_secret());
        let kept = published_keys(&json!({"keys": [with(ec_key(), "use", json!("enc")), rsa_key()]}), 20).expect("usable");
        assert_eq!(kept["keys"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn keys_that_could_never_verify_are_refused() {
        let mut off_curve = ec_key();
        off_curve["y"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
        for (key, why) in [
            (json!("EC"), JwkRefusal::NotAKey),
            (json!({"crv": "P-256"}), JwkRefusal::NotAKey),
            (with(ec_key(), "use", json!("enc")), JwkRefusal::EncryptionKey),
            (with(rsa_key(), "use", json!("enc")), JwkRefusal::EncryptionKey),
            (with(ec_key(), "use", json!("both")), JwkRefusal::NotForVerifying),
            (with(ec_key(), "key_ops", json!(["encrypt"])), JwkRefusal::NotForVerifying),
            (with(ec_key(), "alg", json!("HS256")), JwkRefusal::UnsupportedAlgorithm),
            (with(rsa_key(), "alg", json!("ES256")), JwkRefusal::UnsupportedAlgorithm),
            (json!({"kty": "OKP", "crv": "Ed25519", "x": "AA"}), JwkRefusal::UnsupportedType),
            (json!({"kty": "EC"}), JwkRefusal::BadEcKey),
            (with(ec_key(), "crv", json!("P-384")), JwkRefusal::BadEcKey),
            (off_curve, JwkRefusal::BadEcKey),
        ] {
            assert_eq!(screen_jwk(&key), Err(why), "{key}");
        }
        assert!(matches!(screen_jwk(&json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})), Err(JwkRefusal::BadRsaKey(_))));
        assert_eq!(screen_jwk_set(&json!({"keys": []}), 20), Err(JwkSetRefusal::NotASet));
        assert_eq!(screen_jwk_set(&json!([ec_key()]), 20), Err(JwkSetRefusal::NotASet));
        assert_eq!(screen_jwk_set(&json!({"keys": vec![ec_key(); 3]}), 2), Err(JwkSetRefusal::TooMany(2)));
    }
}
