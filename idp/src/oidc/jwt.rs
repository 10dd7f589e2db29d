//! Compact JWS (RFC 7515) for what openidconnect has no public type for: signing RFC 9068
//! access tokens (`typ: at+jwt`), and verifying client assertions (RFC 7523), request
//! objects (RFC 9101) and this provider's own tokens against a JWK Set. ID tokens are
//! built and signed by openidconnect (see [`super::id_token`]); both sign through the
//! same [`PrivateSigningKey`] implementation in [`super::keys`].

use std::sync::Arc;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, RsaPublicKeyComponents,
    UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mamori_storage::model::SigningAlgorithm;
use openidconnect::PrivateSigningKey as _;
use serde_json::{Value, json};

use super::keys::{self, DatabaseKey};
use crate::app::App;

/// Signs `claims` with the active key of `algorithm`; `typ` goes into the header
/// (`at+jwt`).
pub async fn sign(app: &App, algorithm: SigningAlgorithm, typ: &str, claims: &Value) -> anyhow::Result<String> {
    let key = keys::signing_key(app, algorithm).await?;
    sign_with(key, typ, claims).await
}

pub async fn sign_with(key: Arc<DatabaseKey>, typ: &str, claims: &Value) -> anyhow::Result<String> {
    let header = json!({ "alg": key.algorithm().as_str(), "kid": key.kid(), "typ": typ });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
    );
    keys::with_key(key, move |key| {
        let signature = key.sign(&keys::jws_algorithm(key.algorithm()), input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    })
    .await?
}

/// A compact JWS taken apart, not yet verified.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub header: Value,
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
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

    /// Verifies against a JWK Set: the key named by `kid`, or else every key that fits
    /// the algorithm. `alg: none` and symmetric algorithms are refused.
    pub fn verify(&self, jwks: &Value) -> Result<(), JwtError> {
        let alg = self.alg();
        if !matches!(alg, "ES256" | "RS256" | "PS256") {
            return Err(JwtError::UnsupportedAlgorithm);
        }
        let kid = self.header["kid"].as_str();
        let candidates: Vec<&Value> = jwks["keys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter(|k| kid.is_none() || k["kid"].as_str() == kid)
                    .filter(|k| k["use"].as_str().is_none_or(|u| u == "sig"))
                    .filter(|k| k["alg"].as_str().is_none_or(|a| a == alg))
                    .collect()
            })
            .unwrap_or_default();
        if candidates.is_empty() {
            return Err(JwtError::NoKey);
        }
        if candidates.iter().any(|jwk| verify_with_jwk(jwk, alg, self.signing_input.as_bytes(), &self.signature)) {
            Ok(())
        } else {
            Err(JwtError::BadSignature)
        }
    }
}

fn field(jwk: &Value, name: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(jwk[name].as_str()?).ok()
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
    use super::*;

    #[test]
    fn malformed_tokens_and_alg_none_are_refused() {
        assert_eq!(parse("a.b").err(), Some(JwtError::Malformed));
        assert_eq!(parse("a.b.c.d").err(), Some(JwtError::Malformed));
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#)
        );
        let parsed = parse(&none).expect("parses");
        assert_eq!(parsed.verify(&json!({"keys": []})), Err(JwtError::UnsupportedAlgorithm));
        let hs = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#)
        );
        assert_eq!(parse(&hs).expect("parses").verify(&json!({"keys": []})), Err(JwtError::UnsupportedAlgorithm));
    }
}
