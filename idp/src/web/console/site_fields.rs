//! The registration fields of a relying site beyond its name, redirect URIs, kind,
//! machine-to-machine access and claim list (those are `sites::SiteForm`'s own): every
//! other field the admin API sets (`admin::api::sites_schema`), on the registration form
//! and, where the service lets them change, on the site's page. The values are read here
//! only as far as a form needs (lists, choices, JSON text); every check is the service's
//! (`admin::federation`), whose refusal is shown with [`refusal_message`]. The URIs go
//! through the one redirect URI validator behind the service.

use mamori_storage::model::{AccessTokenFormat, OidcClient, SigningAlgorithm};
use serde::Serialize;

use super::Console;
use crate::admin::AdminError;
use crate::admin::federation::{ClientRegistration, ClientUpdate};
use crate::oidc::clients::ClientSettings;
use crate::web::context::{FormFields, MAX_FIELD_CHARS, field};

/// The token endpoint authentication methods a confidential client may register with
/// (a public client's is `none`), as the API names them.
pub(super) const CONFIDENTIAL_METHODS: [&str; 5] =
    ["client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"];

/// The most characters each long field takes (the page's `maxlength`); other fields keep
/// the usual bound. A JWK Set of many RSA keys is long; the form's body limit bounds all.
pub(super) fn max_chars(name: &str) -> usize {
    match name {
        "redirect_uris" | "post_logout_redirect_uris" | "request_uris" => 4000,
        "backchannel_logout_uri" | "jwks_uri" | "tls_client_auth_subject_dn" => 2000,
        "scopes" => 1000,
        "tls_client_certificate" => 8000,
        "jwks" => 32_000,
        _ => MAX_FIELD_CHARS,
    }
}

/// The fields as typed (or as the client has them), for the form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct SiteExtras {
    /// Registration only: empty for a generated ID.
    pub(super) client_id: String,
    /// Registration only, for a confidential client.
    pub(super) auth_method: String,
    /// Refresh tokens with the authorization code flow.
    pub(super) refresh: bool,
    pub(super) post_logout_redirect_uris: String,
    pub(super) scopes: String,
    pub(super) access_token_format: String,
    pub(super) id_token_alg: String,
    pub(super) first_party: bool,
    pub(super) require_pkce: bool,
    pub(super) request_uris: String,
    pub(super) backchannel_logout_uri: String,
    pub(super) jwks: String,
    pub(super) jwks_uri: String,
    /// Registration only: tls_client_auth's subject DN, self_signed_tls_client_auth's
    /// certificate, and binding access tokens to the certificate.
    pub(super) tls_client_auth_subject_dn: String,
    pub(super) tls_client_certificate: String,
    pub(super) tls_bound: bool,
}

impl Default for SiteExtras {
    /// A new site's form: the API's defaults.
    fn default() -> Self {
        SiteExtras {
            client_id: String::new(),
            auth_method: "client_secret_basic".to_owned(),
            refresh: true,
            post_logout_redirect_uris: String::new(),
            scopes: "openid profile email".to_owned(),
            access_token_format: AccessTokenFormat::Jwt.to_string(),
            id_token_alg: SigningAlgorithm::Es256.to_string(),
            first_party: false,
            require_pkce: false,
            request_uris: String::new(),
            backchannel_logout_uri: String::new(),
            jwks: String::new(),
            jwks_uri: String::new(),
            tls_client_auth_subject_dn: String::new(),
            tls_client_certificate: String::new(),
            tls_bound: false,
        }
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

impl SiteExtras {
    pub(super) fn from_fields(fields: &FormFields) -> Self {
        let text = |name: &str| field(fields, name).trim().to_owned();
        let on = |name: &str| field(fields, name) == "on";
        SiteExtras {
            client_id: text("client_id"),
            auth_method: text("auth_method"),
            refresh: on("refresh"),
            post_logout_redirect_uris: field(fields, "post_logout_redirect_uris").to_owned(),
            scopes: text("scopes"),
            access_token_format: text("access_token_format"),
            id_token_alg: text("id_token_alg"),
            first_party: on("first_party"),
            require_pkce: on("require_pkce"),
            request_uris: field(fields, "request_uris").to_owned(),
            backchannel_logout_uri: text("backchannel_logout_uri"),
            jwks: text("jwks"),
            jwks_uri: text("jwks_uri"),
            tls_client_auth_subject_dn: text("tls_client_auth_subject_dn"),
            tls_client_certificate: text("tls_client_certificate"),
            tls_bound: on("tls_bound"),
        }
    }

    /// The fields of a registered client, for its edit form.
    pub(super) fn of(client: &OidcClient, settings: &ClientSettings) -> Self {
        SiteExtras {
            client_id: client.client_id.clone(),
            auth_method: client.token_endpoint_auth_method.clone(),
            refresh: client.grant_types.iter().any(|g| g == "refresh_token")
                || !client.grant_types.iter().any(|g| g == "authorization_code"),
            post_logout_redirect_uris: client.post_logout_redirect_uris.join("\n"),
            scopes: client.scopes.join(" "),
            access_token_format: client.access_token_format.to_string(),
            // Absent means RS256 (ClientSettings' own rule).
            id_token_alg: settings.id_token_signed_response_alg.unwrap_or(SigningAlgorithm::Rs256).to_string(),
            first_party: client.first_party,
            require_pkce: client.require_pkce,
            request_uris: settings.request_uris.join("\n"),
            backchannel_logout_uri: settings.backchannel_logout_uri.clone().unwrap_or_default(),
            jwks: client.jwks.as_deref().map(pretty_json).unwrap_or_default(),
            jwks_uri: client.jwks_uri.clone().unwrap_or_default(),
            tls_client_auth_subject_dn: settings.tls_client_auth_subject_dn.clone().unwrap_or_default(),
            tls_client_certificate: String::new(),
            tls_bound: settings.tls_client_certificate_bound_access_tokens,
        }
    }

    fn choices(&self) -> Result<(AccessTokenFormat, SigningAlgorithm, Option<serde_json::Value>), Vec<&'static str>> {
        let format = self.access_token_format.parse::<AccessTokenFormat>().ok();
        let alg = self.id_token_alg.parse::<SigningAlgorithm>().ok();
        let jwks = match optional(&self.jwks) {
            Some(text) => serde_json::from_str::<serde_json::Value>(&text).ok().map(Some),
            None => Some(None),
        };
        match (format, alg, jwks) {
            (Some(format), Some(alg), Some(jwks)) => Ok((format, alg, jwks)),
            (format, alg, jwks) => {
                let mut problems = Vec::new();
                if format.is_none() || alg.is_none() {
                    problems.push("console.sites.problem.choice");
                }
                if jwks.is_none() {
                    problems.push("console.sites.problem.jwks");
                }
                Err(problems)
            }
        }
    }

    /// Blanks a JWK Set holding private parts or a symmetric key, so that a refused form
    /// does not send the secret back to the browser (it is refused, never stored).
    pub(super) fn forget_secret_keys(&mut self) {
        let typed = serde_json::from_str::<serde_json::Value>(&self.jwks).ok();
        if typed.is_some_and(|set| crate::fields::site_rules::jwks_holds_secret(&set)) {
            self.jwks.clear();
        }
    }

    /// Fills in the registration's other fields; the keys of what a form cannot even
    /// hold (an unknown choice, JWKS that is not JSON). The rest is the service's to check.
    pub(super) fn apply(&self, reg: &mut ClientRegistration, public: bool) -> Result<(), Vec<&'static str>> {
        let (format, alg, jwks) = self.choices()?;
        if !public && !CONFIDENTIAL_METHODS.contains(&self.auth_method.as_str()) {
            return Err(vec!["console.sites.problem.choice"]);
        }
        reg.client_id = optional(&self.client_id);
        reg.token_endpoint_auth_method = if public { "none".to_owned() } else { self.auth_method.clone() };
        reg.post_logout_redirect_uris = lines(&self.post_logout_redirect_uris);
        reg.scopes = words(&self.scopes);
        reg.access_token_format = format;
        reg.id_token_signed_response_alg = alg;
        reg.first_party = self.first_party;
        reg.require_pkce = public || self.require_pkce;
        reg.request_uris = lines(&self.request_uris);
        reg.backchannel_logout_uri = optional(&self.backchannel_logout_uri);
        reg.jwks = jwks;
        reg.jwks_uri = optional(&self.jwks_uri);
        reg.tls_client_auth_subject_dn = optional(&self.tls_client_auth_subject_dn);
        reg.tls_client_certificate_pem = optional(&self.tls_client_certificate);
        reg.tls_client_certificate_bound_access_tokens = self.tls_bound;
        Ok(())
    }
}

/// A stored JSON text laid out for a textarea (as stored when it is not JSON).
fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// Into `update`, the fields of a checked form that differ from the client as it is
/// (the others are not sent: a stored value from before a stricter rule must not block
/// changing something else; the audit trail names only what changed).
pub(super) fn changes(client: &OidcClient, settings: &ClientSettings, checked: &ClientRegistration, update: &mut ClientUpdate) {
    if checked.post_logout_redirect_uris != client.post_logout_redirect_uris {
        update.post_logout_redirect_uris = Some(checked.post_logout_redirect_uris.clone());
    }
    if checked.scopes != client.scopes {
        update.scopes = Some(checked.scopes.clone());
    }
    if checked.access_token_format != client.access_token_format {
        update.access_token_format = Some(checked.access_token_format);
    }
    if settings.id_token_signed_response_alg.unwrap_or(SigningAlgorithm::Rs256) != checked.id_token_signed_response_alg {
        update.id_token_signed_response_alg = Some(checked.id_token_signed_response_alg);
    }
    if checked.first_party != client.first_party {
        update.first_party = Some(checked.first_party);
    }
    // A public client always needs PKCE, whatever the box says.
    let pkce = checked.require_pkce || client.token_endpoint_auth_method == "none";
    if pkce != client.require_pkce {
        update.require_pkce = Some(pkce);
    }
    if checked.request_uris != settings.request_uris {
        update.request_uris = Some(checked.request_uris.clone());
    }
    if checked.backchannel_logout_uri != settings.backchannel_logout_uri {
        update.backchannel_logout_uri = Some(checked.backchannel_logout_uri.clone());
    }
    let stored_jwks = client.jwks.as_deref().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
    if checked.jwks != stored_jwks {
        update.jwks = Some(checked.jwks.clone());
    }
    if checked.jwks_uri != client.jwks_uri {
        update.jwks_uri = Some(checked.jwks_uri.clone());
    }
}

/// What the form says about a refusal of the service: a field's own message (its label
/// first), or a message for the field the service's text starts with; `None` for the
/// refusals the console's error pages answer (not found, role, outage).
pub(super) fn refusal_message(console: &Console, err: &AdminError, fallback: &str) -> Option<String> {
    let key = match err {
        AdminError::Field(refused) => {
            let label_key = format!("console.sites.{}", refused.field);
            let label = console.ctx.message(&label_key);
            let message = console.field_text(refused);
            return Some(if label == "??" { message } else { format!("{label}: {message}") });
        }
        AdminError::Conflict(_) => "console.sites.problem.client_id_taken",
        AdminError::Invalid(why) => {
            const PREFIXES: [(&str, &str); 8] = [
                ("client_id", "console.sites.problem.client_id"),
                ("jwks", "console.sites.problem.jwks"),
                ("give jwks or jwks_uri", "console.sites.problem.jwks_both"),
                ("scopes", "console.sites.problem.scopes"),
                ("grant_types", "console.sites.problem.grants"),
                ("tls_client_auth_subject_dn", "console.sites.problem.tls_subject_dn"),
                ("tls_client_certificate", "console.sites.problem.tls_certificate"),
                ("request_uris", "console.sites.problem.request_uris"),
            ];
            tracing::info!(why, "console: OIDC client refused");
            PREFIXES.iter().find(|(prefix, _)| why.starts_with(prefix)).map_or(fallback, |(_, key)| *key)
        }
        _ => return None,
    };
    Some(console.ctx.message(key))
}

/// The select options of the form: `(value, label key, selected)`.
pub(super) fn options(console: &Console, extras: &SiteExtras) -> serde_json::Value {
    let list = |values: &[&str], prefix: &str, selected: &str| -> Vec<serde_json::Value> {
        values
            .iter()
            .map(|v| serde_json::json!({"value": v, "label": console.ctx.message(&format!("{prefix}.{v}")), "selected": *v == selected}))
            .collect()
    };
    serde_json::json!({
        "auth_methods": list(&CONFIDENTIAL_METHODS, "console.sites.auth", &extras.auth_method),
        "token_formats": list(&["jwt", "opaque"], "console.sites.token_format", &extras.access_token_format),
        "id_token_algs": list(&["ES256", "RS256"], "console.sites.id_token_alg", &extras.id_token_alg),
        "auth_method_label": console.ctx.message(&format!("console.sites.auth.{}", extras.auth_method)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(extras: &SiteExtras, public: bool) -> Result<ClientRegistration, Vec<&'static str>> {
        let mut reg = ClientRegistration::default();
        extras.apply(&mut reg, public).map(|()| reg)
    }

    #[test]
    fn the_defaults_are_the_apis() {
        let reg = registration(&SiteExtras::default(), false).expect("valid");
        let api = ClientRegistration::default();
        assert_eq!(reg.token_endpoint_auth_method, api.token_endpoint_auth_method);
        assert_eq!(reg.access_token_format, api.access_token_format);
        assert_eq!(reg.id_token_signed_response_alg, api.id_token_signed_response_alg);
        assert_eq!(reg.scopes, ["openid", "profile", "email"]);
        assert_eq!((reg.client_id, reg.jwks, reg.backchannel_logout_uri), (None, None, None));
        let public = registration(&SiteExtras::default(), true).expect("valid");
        assert_eq!(public.token_endpoint_auth_method, "none");
        assert!(public.require_pkce);
    }

    #[test]
    fn the_form_reads_lists_and_choices() {
        let extras = SiteExtras {
            client_id: "demo.shop".into(),
            auth_method: "private_key_jwt".into(),
            post_logout_redirect_uris: "https://a.example/bye\r\n\r\nhttps://b.example/bye".into(),
            scopes: "openid, email".into(),
            access_token_format: "opaque".into(),
            id_token_alg: "RS256".into(),
            jwks: r#"{"keys": [{"kty": "EC"}]}"#.into(),
            ..SiteExtras::default()
        };
        let reg = registration(&extras, false).expect("valid");
        assert_eq!(reg.client_id.as_deref(), Some("demo.shop"));
        assert_eq!(reg.post_logout_redirect_uris, ["https://a.example/bye", "https://b.example/bye"]);
        assert_eq!(reg.scopes, ["openid", "email"]);
        assert_eq!((reg.access_token_format, reg.id_token_signed_response_alg), (AccessTokenFormat::Opaque, SigningAlgorithm::Rs256));
        assert!(reg.jwks.is_some());
        for bad in [
            SiteExtras { jwks: "{not json".into(), ..SiteExtras::default() },
            SiteExtras { access_token_format: "paseto".into(), ..SiteExtras::default() },
            SiteExtras { auth_method: "none".into(), ..SiteExtras::default() },
        ] {
            assert!(registration(&bad, false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_what_changed_is_sent() {
        let client = OidcClient {
            id: uuid::Uuid::nil(),
            tenant_id: uuid::Uuid::nil(),
            client_id: "c-1".into(),
            client_secret_hash: None,
            name: "Shop".into(),
            redirect_uris: vec!["https://a.example/cb".into()],
            post_logout_redirect_uris: vec!["https://a.example/bye".into()],
            grant_types: vec!["authorization_code".into()],
            response_types: Vec::new(),
            token_endpoint_auth_method: "client_secret_basic".into(),
            jwks: None,
            jwks_uri: None,
            scopes: vec!["openid".into(), "email".into()],
            claims: None,
            access_token_format: AccessTokenFormat::Jwt,
            first_party: false,
            require_pkce: false,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let settings = ClientSettings { id_token_signed_response_alg: Some(SigningAlgorithm::Es256), ..ClientSettings::default() };
        let extras = SiteExtras::of(&client, &settings);
        assert!(!extras.refresh, "code without refresh tokens stays so");
        let same = registration(&extras, false).expect("valid");
        let mut update = ClientUpdate::default();
        changes(&client, &settings, &same, &mut update);
        assert!(
            update.scopes.is_none()
                && update.jwks.is_none()
                && update.id_token_signed_response_alg.is_none()
                && update.require_pkce.is_none(),
            "{update:?}"
        );
        let edited = SiteExtras { first_party: true, backchannel_logout_uri: "https://a.example/bc".into(), ..extras };
        let mut update = ClientUpdate::default();
        changes(&client, &settings, &registration(&edited, false).expect("valid"), &mut update);
        assert_eq!((update.first_party, update.backchannel_logout_uri), (Some(true), Some(Some("https://a.example/bc".to_owned()))));
    }
}
