//! Compact JWS (RFC 7515) as it arrives from outside: request objects (RFC 9101), client
//! assertions (RFC 7523) and `id_token_hint`, taken apart and verified against a JWK Set.
//! Signing is the server's (`mamori::oidc::jwt`).

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// A compact JWS taken apart, not yet verified.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub header: Value,
    pub claims: Value,
    pub(crate) signing_input: String,
    pub(crate) signature: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("unsupported or missing alg")]
    UnsupportedAlgorithm,
    #[error("no key matches")]
    NoKey,
    #[error("signature does not verify")]
    BadSignature,
}

pub fn parse(token: &str) -> Result<Parsed, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| JwtError::Malformed);
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| JwtError::Malformed)?;
    let claims: Value = serde_json::from_slice(&decode(c)?).map_err(|_| JwtError::Malformed)?;
    if !header.is_object() || !claims.is_object() {
        return Err(JwtError::Malformed);
    }
    Ok(Parsed { header, claims, signing_input: format!("{h}.{c}"), signature: decode(s)? })
}

impl Parsed {
    pub fn alg(&self) -> &str {
        self.header["alg"].as_str().unwrap_or("")
    }

    /// Verifies against a JWK Set with one key, chosen by `kid` and algorithm: the first
    /// signing key of the right type with that `kid`, or, without a `kid`, the only one
    /// of the right type. Never every key in turn: a set of many keys must not make an
    /// anonymous request cost many signature checks. `alg: none` and symmetric
    /// algorithms are refused.
    pub fn verify(&self, jwks: &Value) -> Result<(), JwtError> {
        let alg = self.alg();
        let key_type = match alg {
            "ES256" => "EC",
            "RS256" | "PS256" => "RSA",
            _ => return Err(JwtError::UnsupportedAlgorithm),
        };
        let kid = self.header["kid"].as_str();
        let mut fitting = jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|k| k["kty"].as_str() == Some(key_type))
            .filter(|k| k["use"].as_str().is_none_or(|u| u == "sig"))
            .filter(|k| k["alg"].as_str().is_none_or(|a| a == alg));
        let chosen = match kid {
            Some(kid) => fitting.find(|k| k["kid"].as_str() == Some(kid)),
            None => match (fitting.next(), fitting.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            },
        };
        let Some(jwk) = chosen else { return Err(JwtError::NoKey) };
        if verify_with_jwk(jwk, alg, self.signing_input.as_bytes(), &self.signature) { Ok(()) } else { Err(JwtError::BadSignature) }
    }
}

fn field(jwk: &Value, name: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(jwk[name].as_str()?).ok()
}

/// The RSA modulus sizes [`verify_with_jwk`] verifies with (aws-lc's `2048_8192` RSA
/// parameters).
pub const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// Whether a signing JWK can ever verify: an RSA key (`use` absent or `sig`) needs a
/// modulus of [`RSA_BITS`] and an odd public exponent from 3 to 2^33 - 1 (the range
/// aws-lc takes). Refused at registration so that a key that could never verify is not
/// registered, nor larger keys made to cost CPU on every anonymous request. Other key
/// types and encryption keys are not judged here.
pub fn check_signing_jwk(jwk: &Value) -> Result<(), &'static str> {
    const BAD_RSA: &str = "an RSA signing key needs a 2048- to 8192-bit modulus `n` and an odd exponent `e` from 3 to 2^33-1";
    if jwk["kty"].as_str() != Some("RSA") || jwk["use"].as_str().is_some_and(|u| u != "sig") {
        return Ok(());
    }
    let (Some(n), Some(e)) = (field(jwk, "n"), field(jwk, "e")) else { return Err(BAD_RSA) };
    let bits = |bytes: &[u8]| {
        let trimmed: &[u8] = match bytes.iter().position(|&b| b != 0) {
            Some(first) => &bytes[first..],
            None => &[],
        };
        trimmed.first().map_or(0, |&top| (trimmed.len() - 1) * 8 + (8 - top.leading_zeros() as usize))
    };
    let e_odd = e.last().is_some_and(|b| b & 1 == 1);
    if RSA_BITS.contains(&bits(&n)) && e_odd && (2..=33).contains(&bits(&e)) { Ok(()) } else { Err(BAD_RSA) }
}

/// Verifies one signature with one public JWK.
pub fn verify_with_jwk(jwk: &Value, alg: &str, message: &[u8], signature: &[u8]) -> bool {
    match (alg, jwk["kty"].as_str()) {
        ("ES256", Some("EC")) if jwk["crv"] == "P-256" => {
            let (Some(x), Some(y)) = (field(jwk, "x"), field(jwk, "y")) else { return false };
            let mut point = vec![4u8];
            point.extend(x);
            point.extend(y);
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(message, signature).is_ok()
        }
        ("RS256" | "PS256", Some("RSA")) => {
            let (Some(n), Some(e)) = (field(jwk, "n"), field(jwk, "e")) else { return false };
            let params = if alg == "RS256" { &RSA_PKCS1_2048_8192_SHA256 } else { &RSA_PSS_2048_8192_SHA256 };
            RsaPublicKeyComponents { n: &n, e: &e }.verify(params, message, signature).is_ok()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn malformed_tokens_and_alg_none_are_refused() {
        assert_eq!(parse("a.b").err(), Some(JwtError::Malformed));
        assert_eq!(parse("a.b.c.d").err(), Some(JwtError::Malformed));
        let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#), URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#));
        let parsed = parse(&none).expect("parses");
        assert_eq!(parsed.verify(&json!({"keys": []})), Err(JwtError::UnsupportedAlgorithm));
        let hs = format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#), URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#));
        assert_eq!(parse(&hs).expect("parses").verify(&json!({"keys": []})), Err(JwtError::UnsupportedAlgorithm));
    }

    /// A JWK Set with `n` copies of one P-256 key under `kid`, and a token it signs.
    fn copies(n: usize, kid: Option<&str>) -> (Value, String) {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("key");
        let point = pair.public_key().as_ref();
        let mut jwk =
            json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])});
        if let Some(kid) = kid {
            jwk["kid"] = kid.into();
        }
        let mut header = json!({"alg": "ES256"});
        if let Some(kid) = kid {
            header["kid"] = kid.into();
        }
        let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#));
        let signature = pair.sign(&rng, input.as_bytes()).expect("signs");
        (json!({"keys": vec![jwk; n]}), format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())))
    }

    #[test]
    fn one_key_is_chosen_by_kid_never_all_in_turn() {
        // Honest: one key, with or without a kid.
        let (set, token) = copies(1, Some("k1"));
        assert!(parse(&token).expect("parses").verify(&set).is_ok());
        let (set, token) = copies(1, None);
        assert!(parse(&token).expect("parses").verify(&set).is_ok());
        // Many copies under one kid: the first is the one checked.
        let (set, token) = copies(50, Some("k1"));
        assert!(parse(&token).expect("parses").verify(&set).is_ok());
        // Hostile: without a kid, several fitting keys are ambiguous, not tried in turn.
        let (set, token) = copies(3, None);
        assert!(matches!(parse(&token).expect("parses").verify(&set), Err(JwtError::NoKey)));
        // An RSA key never stands in for an EC one.
        let (_, token) = copies(1, Some("k1"));
        let rsa = json!({"keys": [{"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB"}]});
        assert!(matches!(parse(&token).expect("parses").verify(&rsa), Err(JwtError::NoKey)));
    }

    fn rsa(n_bytes: &[u8], e_bytes: &[u8]) -> Value {
        json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(n_bytes), "e": URL_SAFE_NO_PAD.encode(e_bytes)})
    }

    /// A modulus of exactly `bits` bits (top bit set, odd).
    fn modulus(bits: usize) -> Vec<u8> {
        let mut n = vec![0x5a_u8; bits.div_ceil(8)];
        n[0] = 1 << ((bits - 1) % 8);
        if let Some(last) = n.last_mut() {
            *last |= 1;
        }
        n
    }

    #[test]
    fn rsa_keys_that_could_never_verify_are_refused() {
        let f4 = [1, 0, 1];
        for ok in [
            rsa(&modulus(2048), &f4),
            rsa(&modulus(4096), &[3]),
            rsa(&modulus(8192), &f4),
            rsa(&modulus(3072), &[1, 0xff, 0xff, 0xff, 0xff]),
        ] {
            assert!(check_signing_jwk(&ok).is_ok(), "{ok}");
        }
        // A leading zero byte does not count towards the size.
        let mut padded = vec![0];
        padded.extend(modulus(8192));
        assert!(check_signing_jwk(&rsa(&padded, &f4)).is_ok());
        for bad in [
            rsa(&modulus(8193), &f4),
            rsa(&modulus(16384), &f4),
            rsa(&modulus(2047), &f4),
            rsa(&modulus(2048), &[1]),
            rsa(&modulus(2048), &[0x01, 0x00, 0x00]),
            rsa(&modulus(2048), &[2, 0, 0, 0, 1]),
            rsa(&modulus(2048), &[]),
            json!({"kty": "RSA", "n": "***", "e": "AQAB"}),
            json!({"kty": "RSA", "e": "AQAB"}),
            json!({"kty": "RSA", "use": "sig", "n": URL_SAFE_NO_PAD.encode(modulus(8200)), "e": "AQAB"}),
        ] {
            assert!(check_signing_jwk(&bad).is_err(), "{bad}");
        }
        // Keys Mamori never verifies with are not judged here.
        assert!(check_signing_jwk(&json!({"kty": "RSA", "use": "enc", "n": URL_SAFE_NO_PAD.encode(modulus(8200)), "e": "AQAB"})).is_ok());
        assert!(check_signing_jwk(&json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"})).is_ok());
    }
}
