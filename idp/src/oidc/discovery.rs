//! Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414), with the RFC 8705
//! `mtls_endpoint_aliases` on the client-certificate listener. Built with openidconnect's
//! `ProviderMetadata` (Core and RP-Initiated Logout fields) plus [`Extra`] for the OAuth
//! extensions the crate has no fields for.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthUrl, AuthenticationContextClass, EndSessionUrl, IssuerUrl, JsonWebKeySetUrl, LanguageTag,
    LogoutProviderMetadata, PkceCodeChallengeMethod, ProviderMetadata, RegistrationUrl, ResponseTypes, Scope, TokenUrl, UserInfoUrl,
};
use serde::{Deserialize, Serialize};

use super::error::OAuthError;
use super::{Issuer, acr};
use crate::state::SharedState;

pub async fn openid_configuration(
    State(state): State<SharedState>,
    slug: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    // A tenant segment that is not UTF-8 once decoded names no issuer.
    let Ok(Path(slug)) = slug else {
        return super::cors::vary_only(OAuthError::NotFound("no such issuer").into_response());
    };
    let response = document(&state, &slug).await;
    super::cors::for_tenant(&state, &slug, &headers, response).await
}

async fn document(state: &SharedState, slug: &str) -> Response {
    match super::issuer(state, slug).await {
        Ok(Some(issuer)) => match metadata(&issuer) {
            Ok(document) => axum::Json(document).into_response(),
            Err(err) => OAuthError::internal(&err).into_response(),
        },
        // No such issuer: its metadata does not exist (a 400 would say the request was at fault).
        Ok(None) => OAuthError::NotFound("no such issuer").into_response(),
        Err(err) => OAuthError::internal(&err).into_response(),
    }
}

/// The discovery document: Core metadata, `end_session_endpoint` from RP-Initiated
/// Logout, and [`Extra`].
pub type Metadata = ProviderMetadata<
    LogoutProviderMetadata<Extra>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Metadata from OAuth specifications that openidconnect's `ProviderMetadata` lacks:
/// RFC 7009, 7662, 9126, 8705, 7636, 9207, and the OpenID logout/prompt registries.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Extra {
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub pushed_authorization_request_endpoint: String,
    pub mtls_endpoint_aliases: MtlsAliases,
    pub revocation_endpoint_auth_methods_supported: Vec<CoreClientAuthMethod>,
    pub introspection_endpoint_auth_methods_supported: Vec<CoreClientAuthMethod>,
    /// RFC 8414 §2: MUST be present when `private_key_jwt` is among the methods above.
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<CoreJwsSigningAlgorithm>,
    pub introspection_endpoint_auth_signing_alg_values_supported: Vec<CoreJwsSigningAlgorithm>,
    pub code_challenge_methods_supported: Vec<PkceCodeChallengeMethod>,
    pub require_pushed_authorization_requests: bool,
    pub prompt_values_supported: Vec<CoreAuthPrompt>,
    pub authorization_response_iss_parameter_supported: bool,
    pub tls_client_certificate_bound_access_tokens: bool,
    pub frontchannel_logout_supported: bool,
    pub backchannel_logout_supported: bool,
    /// Logout tokens carry `sid`, and so do ID tokens of grants from a session.
    pub backchannel_logout_session_supported: bool,
}

impl AdditionalProviderMetadata for Extra {}

/// RFC 8705 §5: the endpoints that clients authenticating with a certificate call.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct MtlsAliases {
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub pushed_authorization_request_endpoint: String,
}

pub fn metadata(issuer: &Issuer) -> anyhow::Result<Metadata> {
    let auth_methods = vec![
        CoreClientAuthMethod::ClientSecretBasic,
        CoreClientAuthMethod::ClientSecretPost,
        CoreClientAuthMethod::PrivateKeyJwt,
        CoreClientAuthMethod::Extension("tls_client_auth".into()),
        CoreClientAuthMethod::Extension("self_signed_tls_client_auth".into()),
        CoreClientAuthMethod::None,
    ];
    let signing = vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256];
    let assertion_algs = vec![
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    ];
    let extra = Extra {
        revocation_endpoint: issuer.endpoint("revoke"),
        introspection_endpoint: issuer.endpoint("introspect"),
        pushed_authorization_request_endpoint: issuer.endpoint("par"),
        mtls_endpoint_aliases: MtlsAliases {
            token_endpoint: issuer.mtls_endpoint("token"),
            userinfo_endpoint: issuer.mtls_endpoint("userinfo"),
            revocation_endpoint: issuer.mtls_endpoint("revoke"),
            introspection_endpoint: issuer.mtls_endpoint("introspect"),
            pushed_authorization_request_endpoint: issuer.mtls_endpoint("par"),
        },
        revocation_endpoint_auth_methods_supported: auth_methods.clone(),
        introspection_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint_auth_signing_alg_values_supported: assertion_algs.clone(),
        introspection_endpoint_auth_signing_alg_values_supported: assertion_algs.clone(),
        code_challenge_methods_supported: vec![PkceCodeChallengeMethod::new("S256".into())],
        require_pushed_authorization_requests: false,
        prompt_values_supported: vec![CoreAuthPrompt::None, CoreAuthPrompt::Login, CoreAuthPrompt::Consent],
        authorization_response_iss_parameter_supported: true,
        tls_client_certificate_bound_access_tokens: true,
        frontchannel_logout_supported: false,
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
    };
    let logout = LogoutProviderMetadata {
        end_session_endpoint: Some(EndSessionUrl::new(issuer.endpoint("end_session"))?),
        additional_metadata: extra,
    };
    let locales = || Some(vec![LanguageTag::new("ja".into()), LanguageTag::new("en".into())]);
    let claims = [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "azp",
        "at_hash",
        "sid",
        "name",
        "preferred_username",
        "locale",
        "zoneinfo",
        "updated_at",
        "email",
        "email_verified",
    ];
    Ok(Metadata::new(
        IssuerUrl::new(issuer.url.clone())?,
        AuthUrl::new(issuer.endpoint("authorize"))?,
        JsonWebKeySetUrl::new(issuer.endpoint("jwks"))?,
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        signing,
        logout,
    )
    .set_token_endpoint(Some(TokenUrl::new(issuer.endpoint("token"))?))
    .set_userinfo_endpoint(Some(UserInfoUrl::new(issuer.endpoint("userinfo"))?))
    .set_registration_endpoint(Some(RegistrationUrl::new(issuer.endpoint("register"))?))
    .set_scopes_supported(Some(["openid", "profile", "email", "offline_access"].map(|s| Scope::new(s.into())).to_vec()))
    .set_response_modes_supported(Some(vec![CoreResponseMode::Query, CoreResponseMode::FormPost]))
    .set_grant_types_supported(Some(vec![CoreGrantType::AuthorizationCode, CoreGrantType::RefreshToken, CoreGrantType::ClientCredentials]))
    .set_request_object_signing_alg_values_supported(Some(assertion_algs.clone()))
    .set_token_endpoint_auth_methods_supported(Some(auth_methods))
    .set_token_endpoint_auth_signing_alg_values_supported(Some(assertion_algs))
    .set_claims_supported(Some(claims.map(|c| CoreClaimName::new(c.into())).to_vec()))
    .set_claims_parameter_supported(Some(true))
    .set_request_parameter_supported(Some(true))
    .set_request_uri_parameter_supported(Some(true))
    // Only URLs the client registered in `request_uris` are fetched (no open fetcher).
    .set_require_request_uri_registration(Some(true))
    .set_acr_values_supported(Some(acr::SUPPORTED.map(|a| AuthenticationContextClass::new(a.into())).to_vec()))
    .set_ui_locales_supported(locales())
    .set_claims_locales_supported(locales()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The document the crate builds has exactly the fields and values of the JSON that
    /// Mamori published before it was built with openidconnect.
    #[test]
    fn metadata_keeps_every_published_field() {
        let tenant = mamori_storage::model::Tenant {
            id: uuid::Uuid::new_v4(),
            slug: "acme".into(),
            display_name: "Acme".into(),
            policy: Default::default(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let issuer = Issuer { tenant, url: "https://idp.example/t/acme".into(), mtls_url: "https://mtls.idp.example:8443/t/acme".into() };
        let document = serde_json::to_value(metadata(&issuer).expect("builds")).expect("serializes");
        let (base, mtls) = ("https://idp.example/t/acme", "https://mtls.idp.example:8443/t/acme");
        let auth_methods =
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth", "none"];
        let assertion_algs = ["ES256", "RS256", "PS256"];
        let expected = json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "userinfo_endpoint": format!("{base}/userinfo"),
            "jwks_uri": format!("{base}/jwks"),
            "registration_endpoint": format!("{base}/register"),
            "end_session_endpoint": format!("{base}/end_session"),
            "revocation_endpoint": format!("{base}/revoke"),
            "introspection_endpoint": format!("{base}/introspect"),
            "pushed_authorization_request_endpoint": format!("{base}/par"),
            "mtls_endpoint_aliases": {
                "token_endpoint": format!("{mtls}/token"),
                "userinfo_endpoint": format!("{mtls}/userinfo"),
                "revocation_endpoint": format!("{mtls}/revoke"),
                "introspection_endpoint": format!("{mtls}/introspect"),
                "pushed_authorization_request_endpoint": format!("{mtls}/par"),
            },
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256", "RS256"],
            "request_object_signing_alg_values_supported": assertion_algs,
            "token_endpoint_auth_methods_supported": auth_methods,
            "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "introspection_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
            "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "sid",
                "name", "preferred_username", "locale", "zoneinfo", "updated_at", "email", "email_verified"],
            "claims_parameter_supported": true,
            "request_parameter_supported": true,
            "request_uri_parameter_supported": true,
            "require_request_uri_registration": true,
            "require_pushed_authorization_requests": false,
            "acr_values_supported": acr::SUPPORTED,
            "ui_locales_supported": ["ja", "en"],
            "claims_locales_supported": ["ja", "en"],
            "prompt_values_supported": ["none", "login", "consent"],
            "authorization_response_iss_parameter_supported": true,
            "tls_client_certificate_bound_access_tokens": true,
            "frontchannel_logout_supported": false,
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
        });
        assert_eq!(document, expected);
    }
}
