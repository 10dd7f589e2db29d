//! The API's request and response bodies (with their OpenAPI schemas) and their
//! conversions from the domain types.

use mamori_storage::model::{AuditEvent, Certificate, Device, LoginEvent, Tenant, TenantPolicy, User};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::admin::{AdminError, Listed};

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn opt_rfc3339(t: Option<OffsetDateTime>) -> Option<String> {
    t.map(rfc3339)
}

/// Parses an RFC 3339 query value.
pub fn parse_time(name: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>, AdminError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map_err(|_| AdminError::Invalid(format!("{name}: `{v}` is not an RFC 3339 time such as 2026-04-01T09:00:00Z")))
        })
        .transpose()
}

/// Paging of every list: `offset` (default 0) and `limit` (1 to 500, default 50).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many items to skip.
    pub offset: Option<u64>,
    /// How many items to return (1 to 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Paging facts of a list response; the next page starts at `offset + items.len()`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageInfo {
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

impl<T> From<&Listed<T>> for PageInfo {
    fn from(l: &Listed<T>) -> Self {
        PageInfo { total: l.total, offset: l.paging.offset, limit: l.paging.limit }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantOut {
    pub slug: String,
    pub display_name: String,
    pub created_at: String,
}

impl From<&Tenant> for TenantOut {
    fn from(t: &Tenant) -> Self {
        TenantOut { slug: t.slug.clone(), display_name: t.display_name.clone(), created_at: rfc3339(t.created_at) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    pub items: Vec<TenantOut>,
    pub page: PageInfo,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantCreate {
    /// Lower-case letters, digits and hyphens, used in URLs.
    pub slug: String,
    pub display_name: String,
    /// The default policy when absent.
    pub policy: Option<PolicyDoc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantUpdate {
    pub display_name: String,
}

/// Which characters passwords may use.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordCharClassesDoc {
    pub digits: bool,
    pub upper: bool,
    pub lower: bool,
    pub symbols: bool,
}

/// A tenant's policy (the same knobs as `mamori admin tenant policy`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// Subset of cert, cert+password, cert+password+otp, password, password+otp.
    pub allowed_login_methods: Vec<String>,
    pub default_login_method: String,
    pub password_min_length: u32,
    pub password_max_length: u32,
    pub password_char_classes: PasswordCharClassesDoc,
    /// 0 = never.
    pub password_expiry_days: u32,
    pub password_history_count: u32,
    pub lockout_threshold_password: u32,
    pub lockout_threshold_secret_answer: u32,
    pub lockout_threshold_enrollment_otp: u32,
    /// Minutes after which a lock for wrong passwords ends by itself; 0 (the default) =
    /// only an operator unlocks.
    #[serde(default)]
    pub lockout_release_minutes: u32,
    pub show_attempts_left: bool,
    pub self_service_enabled: bool,
    pub password_reissue_enabled: bool,
    pub device_management_enabled: bool,
    pub login_method_change_enabled: bool,
    pub user_certificate_reissue_enabled: bool,
    pub max_devices: u32,
    pub certificate_validity_days: u32,
    /// p256 or rsa2048.
    pub certificate_key_type: String,
    /// modern or legacy.
    pub pkcs12_format: String,
    /// totp or email.
    pub otp_kind: String,
    pub session_idle_minutes: u32,
    pub session_absolute_minutes: u32,
    pub enrollment_ticket_hours: u32,
    pub download_ticket_hours: u32,
    pub download_max_count: u32,
    pub reissue_link_minutes: u32,
    // Certificate lifecycle (issue 21); absent from older documents: the defaults.
    /// Days before a device's certificate expires that its user is first mailed a
    /// reminder; 0 = no reminders. Default 30.
    #[serde(default = "lifecycle_default::expiry_reminder_days")]
    pub certificate_expiry_reminder_days: u32,
    /// Further reminders after the first, evenly spaced before the expiry (30 days and 2:
    /// at 30, 20 and 10 days), at most one a day. Default 1.
    #[serde(default = "lifecycle_default::expiry_reminder_repeats")]
    pub certificate_expiry_reminder_repeats: u32,
    /// Days a renewed certificate keeps working if the new one is never used. Default 14.
    #[serde(default = "lifecycle_default::renewal_grace_days")]
    pub renewal_grace_days: u32,
    /// Smallest RSA key (bits) accepted in a certificate signing request, at least 2048.
    #[serde(default = "lifecycle_default::csr_min_rsa_bits")]
    pub csr_min_rsa_bits: u32,
    /// Mail a user created through SCIM (with an e-mail address) an enrollment ticket:
    /// the URL and the one-time password in one mail, which is weaker than handing the
    /// password over separately. Default false (absent from older documents: false).
    #[serde(default)]
    pub scim_enrollment_mail: bool,
}

/// The defaults of the lifecycle knobs: those of [`TenantPolicy::default`].
#[path = "schema_lifecycle.rs"]
mod lifecycle_default;

impl PolicyDoc {
    /// Same field names and spellings as [`TenantPolicy`]: converted through JSON so the
    /// enums' own parsing gives the error message.
    pub fn from_policy(policy: &TenantPolicy) -> Result<PolicyDoc, AdminError> {
        serde_json::to_value(policy)
            .and_then(serde_json::from_value)
            .map_err(|e| AdminError::Internal(format!("policy does not convert: {e}")))
    }

    pub fn to_policy(&self) -> Result<TenantPolicy, AdminError> {
        let value = serde_json::to_value(self).map_err(|e| AdminError::Internal(e.to_string()))?;
        serde_json::from_value(value).map_err(|e| AdminError::Invalid(format!("policy: {e}")))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub login_id: String,
    pub display_name: String,
    /// ja or en.
    pub locale: String,
    pub time_zone: String,
    pub login_method: String,
    /// active or disabled.
    pub status: String,
    pub locked: bool,
    pub locked_at: Option<String>,
    pub lock_reason: Option<String>,
    /// Whether the user has completed enrollment (has a secret answer).
    pub enrolled: bool,
    pub password_must_change: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        UserOut {
            id: u.id.to_string(),
            login_id: u.login_id.clone(),
            display_name: u.display_name.clone(),
            locale: u.locale.to_string(),
            time_zone: u.time_zone.clone(),
            login_method: u.login_method.to_string(),
            status: u.status.to_string(),
            locked: u.is_locked(),
            locked_at: opt_rfc3339(u.locked_at),
            lock_reason: u.lock_reason.map(|r| r.to_string()),
            enrolled: u.secret_answer_hash.is_some(),
            password_must_change: u.password_must_change,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<UserOut>,
    pub page: PageInfo,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// User IDs, display names or e-mail addresses (of active devices) containing this
    /// text, ignoring case.
    pub q: Option<String>,
    /// active or disabled.
    pub status: Option<String>,
    pub locked: Option<bool>,
    pub offset: Option<u64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    pub login_id: String,
    /// E-mail address of the first device.
    pub email: String,
    pub display_name: Option<String>,
    /// The tenant's default when absent.
    pub login_method: Option<String>,
    /// ja (default) or en.
    pub locale: Option<String>,
    /// IANA time zone, Asia/Tokyo by default.
    pub time_zone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub locale: Option<String>,
    pub time_zone: Option<String>,
    pub login_method: Option<String>,
}

/// Hand the URL to the user, and the one-time password through another channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentTicketOut {
    pub login_id: String,
    pub url: String,
    pub one_time_password: String,
    pub expires_at: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReissueIn {
    /// The device (1, 2, …); the first active device when absent.
    pub device_no: Option<u32>,
}

/// A live session of a user.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    pub created_at: String,
    pub last_seen_at: String,
    /// When it ends unless used before.
    pub expires_at: String,
    /// The factors its login proved (RFC 8176 amr values: swk, pwd, otp).
    pub factors: Vec<String>,
}

impl From<&crate::admin::users::UserSession> for SessionOut {
    fn from(s: &crate::admin::users::UserSession) -> Self {
        SessionOut {
            created_at: rfc3339(s.created_at),
            last_seen_at: rfc3339(s.last_seen_at),
            expires_at: rfc3339(s.expires_at),
            factors: s.factors.iter().map(|f| (*f).to_owned()).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEndedOut {
    /// How many sessions ended.
    pub ended: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceEmailIn {
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReissueOut {
    pub device_no: u32,
    /// Where the single-use link was mailed.
    pub mailed_to: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceOut {
    pub device_no: u32,
    /// pc, mobile-phone or smartphone.
    pub device_type: String,
    pub email: String,
    pub created_at: String,
    pub deleted_at: Option<String>,
}

impl From<&Device> for DeviceOut {
    fn from(d: &Device) -> Self {
        DeviceOut {
            device_no: d.device_no,
            device_type: d.device_type.to_string(),
            email: d.email.clone(),
            created_at: rfc3339(d.created_at),
            deleted_at: opt_rfc3339(d.deleted_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateOut {
    /// Lower-case hex.
    pub serial: String,
    pub subject_cn: String,
    pub fingerprint_sha256: String,
    pub not_before: String,
    pub not_after: String,
    /// active or revoked.
    pub status: String,
    pub revoked_at: Option<String>,
    pub revocation_reason: Option<String>,
    pub created_at: String,
}

impl From<&Certificate> for CertificateOut {
    fn from(c: &Certificate) -> Self {
        CertificateOut {
            serial: c.serial_hex.clone(),
            subject_cn: c.subject_cn.clone(),
            fingerprint_sha256: c.fingerprint_sha256.clone(),
            not_before: rfc3339(c.not_before),
            not_after: rfc3339(c.not_after),
            status: c.status.to_string(),
            revoked_at: opt_rfc3339(c.revoked_at),
            revocation_reason: c.revocation_reason.clone(),
            created_at: rfc3339(c.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateList {
    pub items: Vec<CertificateOut>,
    pub page: PageInfo,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CertificateFilter {
    /// The owner's user ID.
    pub login_id: Option<String>,
    /// active or revoked.
    pub status: Option<String>,
    pub serial: Option<String>,
    /// Subject common names containing this text.
    pub subject: Option<String>,
    pub offset: Option<u64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeIn {
    /// RFC 5280 reason: unspecified, key-compromise, ca-compromise, affiliation-changed,
    /// superseded, cessation-of-operation, certificate-hold, privilege-withdrawn.
    #[schema(
        pattern = "^(unspecified|key-compromise|ca-compromise|affiliation-changed|superseded|cessation-of-operation|certificate-hold|privilege-withdrawn)$"
    )]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowFailureOut {
    /// Line of the CSV the row starts on (the header is line 1).
    pub line: u64,
    pub login_id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReportOut {
    /// User IDs created.
    pub created: Vec<String>,
    pub failed: Vec<RowFailureOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginEventOut {
    pub occurred_at: String,
    /// The user, when the attempt could be tied to one.
    pub login_id: Option<String>,
    /// What was typed as the user ID.
    pub attempted_login_id: Option<String>,
    /// success, wrong-password, locked, unknown-user, …
    pub result: String,
    /// Factors completed (amr values: swk, pwd, otp).
    pub factors: Vec<String>,
    pub source_ip: String,
    pub user_agent: Option<String>,
}

impl LoginEventOut {
    pub fn new(e: &LoginEvent, login_id: Option<String>) -> Self {
        LoginEventOut {
            occurred_at: rfc3339(e.occurred_at),
            login_id,
            attempted_login_id: e.attempted_login_id.clone(),
            result: e.result.to_string(),
            factors: e.factors.clone(),
            source_ip: e.source_ip.clone(),
            user_agent: e.user_agent.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginEventList {
    pub items: Vec<LoginEventOut>,
    pub page: PageInfo,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoginEventFilterParams {
    /// The user ID (also finds attempts on IDs that do not exist).
    pub login_id: Option<String>,
    /// RFC 3339 time; events at or after it.
    pub since: Option<String>,
    /// RFC 3339 time; events before it.
    pub until: Option<String>,
    /// A result such as success or wrong-password.
    pub result: Option<String>,
    pub offset: Option<u64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventOut {
    pub id: String,
    /// Who acted, e.g. token:<id>.
    pub actor: String,
    /// What was done, e.g. user.unlock.
    pub action: String,
    /// What it was done to, e.g. tenant:demo/user:alice.
    pub target: String,
    pub occurred_at: String,
    pub source_ip: String,
    pub outcome: String,
    pub details: serde_json::Value,
}

impl From<&AuditEvent> for AuditEventOut {
    fn from(e: &AuditEvent) -> Self {
        AuditEventOut {
            id: e.id.to_string(),
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            occurred_at: rfc3339(e.occurred_at),
            source_ip: e.source_ip.clone(),
            outcome: e.outcome.clone(),
            details: e.details.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventList {
    pub items: Vec<AuditEventOut>,
    pub page: PageInfo,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilterParams {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Targets containing this text.
    pub target: Option<String>,
    /// RFC 3339 time; events at or after it.
    pub since: Option<String>,
    /// RFC 3339 time; events before it.
    pub until: Option<String>,
    pub offset: Option<u64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OidcClientOut {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub jwks_uri: Option<String>,
    pub has_jwks: bool,
    pub scopes: Vec<String>,
    /// The user claims the client may receive; null = every claim its scopes allow.
    pub claims: Option<Vec<String>>,
    pub access_token_format: String,
    /// First-party clients skip the consent screen.
    pub first_party: bool,
    pub require_pkce: bool,
    /// URLs the client may pass as `request_uri` (request objects by reference, fetched
    /// by the provider); matched without their fragment. Empty: none registered.
    pub request_uris: Vec<String>,
    /// Where Mamori POSTs a logout token (Back-Channel Logout 1.0) when a session the
    /// client took part in ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// self_signed_tls_client_auth: SHA-256 (hex) of the registered certificate, the
    /// value a presented certificate is compared with.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls_client_certificate_sha256: Vec<String>,
    pub created_at: String,
}

impl OidcClientOut {
    /// The client's record with the settings kept beside it (`request_uris`).
    pub fn new(c: &mamori_storage::model::OidcClient, settings: &crate::oidc::clients::ClientSettings) -> Self {
        OidcClientOut {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types: c.grant_types.clone(),
            response_types: c.response_types.clone(),
            token_endpoint_auth_method: c.token_endpoint_auth_method.clone(),
            jwks_uri: c.jwks_uri.clone(),
            has_jwks: c.jwks.is_some(),
            scopes: c.scopes.clone(),
            claims: c.claims.clone(),
            access_token_format: c.access_token_format.to_string(),
            first_party: c.first_party,
            require_pkce: c.require_pkce,
            request_uris: settings.request_uris.clone(),
            backchannel_logout_uri: settings.backchannel_logout_uri.clone(),
            tls_client_certificate_sha256: settings.tls_client_certificate_sha256.clone(),
            created_at: rfc3339(c.created_at),
        }
    }
}

impl From<&crate::oidc::clients::RegisteredClient> for OidcClientOut {
    fn from(r: &crate::oidc::clients::RegisteredClient) -> Self {
        OidcClientOut::new(&r.client, &r.settings)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SamlSpOut {
    pub id: String,
    pub entity_id: String,
    pub name: String,
    pub acs_urls: Vec<String>,
    pub name_id_format: String,
    pub attribute_release: serde_json::Value,
    pub want_authn_requests_signed: bool,
    pub sign_response: bool,
    pub sign_assertion: bool,
    pub encrypt_assertion: bool,
    /// Takes IdP-initiated (unsolicited) responses.
    pub allow_unsolicited: bool,
    pub created_at: String,
}

impl From<&mamori_storage::model::SamlServiceProvider> for SamlSpOut {
    fn from(s: &mamori_storage::model::SamlServiceProvider) -> Self {
        SamlSpOut {
            id: s.id.to_string(),
            entity_id: s.entity_id.clone(),
            name: s.name.clone(),
            acs_urls: s.acs.iter().map(|a| a.url.clone()).collect(),
            name_id_format: s.name_id_format.clone(),
            attribute_release: s.attribute_release.clone(),
            want_authn_requests_signed: s.want_authn_requests_signed,
            sign_response: s.sign_response,
            sign_assertion: s.sign_assertion,
            encrypt_assertion: s.encrypt_assertion,
            allow_unsolicited: s.allow_unsolicited,
            created_at: rfc3339(s.created_at),
        }
    }
}
