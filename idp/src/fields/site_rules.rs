//! What a relying site registers beyond its name and URIs, with one rule each for every
//! surface (admin API, CLI, console, dynamic registration, SAML metadata): scopes, the
//! client kind and application type, its public keys (JWK Set) and its certificates.
//!
//! A refusal that names a value says it as `field: `value`: why` in the detail; the
//! console shows the key's text with `{value}` filled in by [`shown_value`]. Key material
//! is never a shown value.

use mamori_untrusted::client_keys::{self, JwkRefusal, JwkSetRefusal};
use mamori_untrusted::site_certificate::{self, CertificateRefusal, CertificateUse, Screened};

use super::FieldError;

pub const KEY_SCOPE_UNKNOWN: &str = "field.scope.unknown";
pub const KEY_CLIENT_KIND: &str = "field.client_kind.unknown";
pub const KEY_APPLICATION_TYPE: &str = "field.application_type.unknown";
pub const KEY_JWKS_SHAPE: &str = "field.jwks.shape";
pub const KEY_JWKS_SECRET: &str = "field.jwks.secret";
pub const KEY_JWKS_ENCRYPTION: &str = "field.jwks.encryption";
pub const KEY_JWKS_UNUSABLE: &str = "field.jwks.unusable";
pub const KEY_CERT_NOT_PEM: &str = "field.certificate.not_pem";
pub const KEY_CERT_GARBAGE: &str = "field.certificate.not_a_certificate";
pub const KEY_CERT_KEY: &str = "field.certificate.unusable_key";
pub const KEY_CERT_EXPIRED: &str = "field.certificate.expired";
pub const KEY_CERT_NOT_YET_VALID: &str = "field.certificate.not_yet_valid";

/// Every key here (each is in both catalogues, as [`super::KEYS`]'s are).
pub const KEYS: [&str; 13] = [
    KEY_SCOPE_UNKNOWN,
    KEY_CLIENT_KIND,
    KEY_APPLICATION_TYPE,
    KEY_JWKS_SHAPE,
    KEY_JWKS_SECRET,
    KEY_JWKS_ENCRYPTION,
    KEY_JWKS_UNUSABLE,
    KEY_CERT_NOT_PEM,
    KEY_CERT_GARBAGE,
    KEY_CERT_KEY,
    KEY_CERT_EXPIRED,
    KEY_CERT_NOT_YET_VALID,
    "field.jwks.too_many",
];

/// The scopes Mamori itself offers (discovery's `scopes_supported`).
pub const OFFERED_SCOPES: [&str; 4] = crate::oidc::authorize::STANDARD_SCOPES;

/// A value as a refusal may show it: the first 80 characters, without backticks or
/// control characters (it sits between backticks in the detail, and on a page).
fn shown(value: &str) -> String {
    value.chars().filter(|c| *c != '`' && !c.is_control()).take(80).collect()
}

fn naming(field: &'static str, key: &'static str, value: &str, why: impl std::fmt::Display) -> FieldError {
    FieldError::new(field, key, format!("{field}: `{}`: {why}", shown(value)))
}

/// The value a refusal names (between the first backticks after `field: `, or the
/// position in `field: key 2: …`), for the console's `{value}`.
pub fn shown_value(refused: &FieldError) -> Option<&str> {
    let rest = refused.detail.strip_prefix(refused.field)?.strip_prefix(": ")?;
    if let Some(quoted) = rest.strip_prefix('`') {
        return quoted.split_once('`').map(|(value, _)| value);
    }
    let position = rest.strip_prefix("key ")?;
    let digits = position.find(|c: char| !c.is_ascii_digit()).unwrap_or(position.len());
    Some(&position[..digits]).filter(|d| !d.is_empty())
}

/// A scope a client may be registered for: one Mamori offers, or an API's own scope,
/// which is namespaced (`api.read`, `orders:write`, `https://api.example/read`) so that a
/// made-up or mistyped word (`admin`, `bogus`, `OpenID`, `phone`) is not taken for one.
/// Custom scopes are only ever granted as the client's registered list allows and end up
/// in access tokens for the operator's own APIs.
pub fn scope(value: &str) -> Result<(), FieldError> {
    if OFFERED_SCOPES.contains(&value) {
        return Ok(());
    }
    // RFC 6749 §3.3 scope-token characters.
    let token = value.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
    let edges =
        value.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) && value.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    let namespaced = value.contains(['.', ':', '/']);
    if token && edges && namespaced && value.len() <= 200 {
        return Ok(());
    }
    Err(naming(
        "scopes",
        KEY_SCOPE_UNKNOWN,
        value,
        format!(
            "not a scope Mamori offers ({}); an API's own scopes are namespaced, like api.read or orders:write",
            OFFERED_SCOPES.join(", ")
        ),
    ))
}

/// The console's kind of client: `confidential` (authenticates at the token endpoint) or
/// `public` (token endpoint auth method `none`). Returns whether it is public.
pub fn client_kind(value: &str) -> Result<bool, FieldError> {
    match value {
        "confidential" => Ok(false),
        "public" => Ok(true),
        other => Err(naming("kind", KEY_CLIENT_KIND, other, "not a kind of client (confidential or public)")),
    }
}

/// OIDC Dynamic Client Registration §2 `application_type`: `web` or `native`.
pub fn application_type(value: &str) -> Result<(), FieldError> {
    match value {
        "web" | "native" => Ok(()),
        other => Err(naming("application_type", KEY_APPLICATION_TYPE, other, "not an application type (web or native)")),
    }
}

/// A client's JWK Set (inline), screened by [`client_keys::screen_jwk_set`]: public EC
/// P-256 or RSA keys for verifying its signatures. The refusal names the key by its
/// position, never by its contents.
pub fn jwks(set: &serde_json::Value, max_keys: usize) -> Result<(), FieldError> {
    client_keys::screen_jwk_set(set, max_keys).map_err(|refusal| {
        let key = match refusal {
            JwkSetRefusal::NotASet => KEY_JWKS_SHAPE,
            JwkSetRefusal::TooMany(_) => "field.jwks.too_many",
            JwkSetRefusal::Key { why: JwkRefusal::Symmetric | JwkRefusal::PrivateMaterial(_), .. } => KEY_JWKS_SECRET,
            JwkSetRefusal::Key { why: JwkRefusal::EncryptionKey, .. } => KEY_JWKS_ENCRYPTION,
            JwkSetRefusal::Key { .. } => KEY_JWKS_UNUSABLE,
        };
        // `jwks: key 2: why`, as the API and the CLI have always said it.
        FieldError::new("jwks", key, format!("jwks: {refusal}"))
    })
}

/// Whether a JWK Set as typed holds a secret (private parts or a symmetric key): such a
/// set is not shown back, not even on the form that refused it.
pub fn jwks_holds_secret(set: &serde_json::Value) -> bool {
    set.get("keys")
        .and_then(|k| k.as_array())
        .is_some_and(|keys| keys.iter().any(|k| client_keys::screen_jwk(k).is_err_and(JwkRefusal::is_secret)))
}

/// One certificate a site registers, for `purpose`, at `now`: whole, with a usable key,
/// and within its validity period ([`site_certificate`]). `what` says which certificate
/// in the detail (`the signing certificate`); the refusal is for `field`.
pub fn certificate_der(
    field: &'static str,
    what: &str,
    der: &[u8],
    purpose: CertificateUse,
    now: time::OffsetDateTime,
) -> Result<Screened, FieldError> {
    site_certificate::screen_der(der, purpose, now.unix_timestamp()).map_err(|why| certificate_refusal(field, what, why))
}

/// [`certificate_der`] for a certificate given in PEM.
pub fn certificate_pem(
    field: &'static str,
    what: &str,
    pem: &str,
    purpose: CertificateUse,
    now: time::OffsetDateTime,
) -> Result<Screened, FieldError> {
    site_certificate::screen_pem(pem, purpose, now.unix_timestamp()).map_err(|why| certificate_refusal(field, what, why))
}

/// A Unix time as the date an operator reads (UTC).
pub fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

fn certificate_refusal(field: &'static str, what: &str, why: CertificateRefusal) -> FieldError {
    let (key, value) = match why {
        CertificateRefusal::NotPem => (KEY_CERT_NOT_PEM, None),
        CertificateRefusal::NotACertificate => (KEY_CERT_GARBAGE, None),
        CertificateRefusal::UnusableKey(_) => (KEY_CERT_KEY, None),
        CertificateRefusal::Expired(at) => (KEY_CERT_EXPIRED, Some(date(at))),
        CertificateRefusal::NotYetValid(at) => (KEY_CERT_NOT_YET_VALID, Some(date(at))),
    };
    match (value, why) {
        (Some(value), CertificateRefusal::Expired(_)) => {
            naming(field, key, &value, format!("{what}: it expired on {value}; register the site's current certificate"))
        }
        (Some(value), _) => naming(field, key, &value, format!("{what}: it is not valid before {value}; register it once it is valid")),
        (None, _) => FieldError::new(field, key, format!("{field}: {what}: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offered_and_namespaced_scopes_pass_made_up_words_do_not() {
        for ok in ["openid", "profile", "email", "offline_access", "api.read", "orders:write", "https://api.example/read", "a.b"] {
            assert!(scope(ok).is_ok(), "{ok}");
        }
        for bad in
            ["bogus", "admin", "OpenID", "Email", "phone", "address", "", ".read", "api.", "api read", "api.\"x\"", "api.ｒead", "api\\.x"]
        {
            let refused = scope(bad).expect_err(bad);
            assert_eq!((refused.field, refused.key), ("scopes", KEY_SCOPE_UNKNOWN), "{bad}");
            assert_eq!(shown_value(&refused), Some(shown(bad).as_str()), "{bad}");
        }
        assert!(scope(&format!("api.{}", "r".repeat(200))).is_err());
    }

    #[test]
    fn kinds_and_application_types_are_the_listed_ones() {
        assert_eq!(client_kind("public").ok(), Some(true));
        assert_eq!(client_kind("confidential").ok(), Some(false));
        for bad in ["bogus", "Public", "", "none"] {
            let refused = client_kind(bad).expect_err(bad);
            assert_eq!((refused.key, shown_value(&refused)), (KEY_CLIENT_KIND, Some(bad)));
        }
        assert!(application_type("web").is_ok() && application_type("native").is_ok());
        assert_eq!(
            application_type("bogus").expect_err("refused").detail,
            "application_type: `bogus`: not an application type (web or native)"
        );
    }

    #[test]
    fn a_secret_jwks_is_refused_by_position_only() {
        let private = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "d": "U0VDUkVULVZBTFVF"}]});
        let refused = jwks(&private, 20).expect_err("refused");
        assert_eq!((refused.field, refused.key, shown_value(&refused)), ("jwks", KEY_JWKS_SECRET, Some("1")));
        assert!(!refused.detail.contains("U0VDUkVULVZBTFVF"), "{refused:?}");
        assert!(jwks_holds_secret(&private));
        let oct = serde_json::json!({"keys": [{"kty": "oct", "k": "c2hhcmVk"}]});
        assert_eq!(jwks(&oct, 20).expect_err("refused").key, KEY_JWKS_SECRET);
        assert!(jwks_holds_secret(&oct));
        let enc = serde_json::json!({"keys": [{"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"}]});
        assert_eq!(jwks(&enc, 20).expect_err("refused").key, KEY_JWKS_ENCRYPTION);
        assert!(!jwks_holds_secret(&enc));
        assert_eq!(jwks(&serde_json::json!({"keys": []}), 20).expect_err("refused").key, KEY_JWKS_SHAPE);
    }

    #[test]
    fn every_key_is_in_both_catalogues() {
        let ui = mamori_ui::Ui::new();
        for locale in [mamori_ui::Locale::Ja, mamori_ui::Locale::En] {
            for key in KEYS {
                let text = ui.message(locale, key);
                assert!(text != key && !text.starts_with("??"), "{key} missing in {locale:?}");
            }
        }
    }
}
