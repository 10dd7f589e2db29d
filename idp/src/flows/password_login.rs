//! Login without a client certificate (flow 3 for the `password` and `password+otp`
//! methods): the ID/password opens the transaction that the certificate opens otherwise.
//!
//! The method is read from the user record once the ID is typed. Only a user whose
//! method needs no certificate can get past this step; for everyone else — an unknown ID,
//! an ID of another tenant, a disabled user, a user whose method needs a certificate —
//! the answer is the same failure after the same one hash (the dummy one), so the page
//! tells nobody whether an ID exists or which method it has. A certificate user's
//! password is never checked here: no password oracle and no lockout for anybody without
//! the certificate.

use mamori_storage::model::{LoginResult, Tenant, User, UserStatus};
use time::OffsetDateTime;

use super::events::{Attempt, record_login_event};
use super::login::{Factor, LoginProgress, failure, next_step};
use crate::app::App;
use crate::fields::TenantSlug;

/// Where an attempt comes from, for the login history.
pub struct Origin {
    pub source_ip: String,
    pub user_agent: Option<String>,
}

impl Origin {
    fn attempt<'a>(&self, tenant: &Tenant, user: Option<&User>, login_id: &'a str) -> Attempt<'a> {
        Attempt {
            tenant_id: tenant.id,
            user_id: user.map(|u| u.id),
            login_id: Some(login_id),
            source_ip: self.source_ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}

/// A login opened by a right password: `progress.step` says what follows.
pub struct Started {
    pub tenant: Tenant,
    pub user: User,
    pub progress: LoginProgress,
}

pub enum StartOutcome {
    Accepted(Box<Started>),
    /// Wrong password, unknown ID, a locked account or a method that needs a certificate:
    /// one answer for all. Without a certificate nothing has named the user yet, so no
    /// "N attempts left" and no lock page either, whatever the policy shows elsewhere:
    /// they would tell a stranger that the ID exists.
    Failed,
}

/// The user the typed ID names: in the given tenant, or, without one, in the only tenant
/// that has this ID (an ID several tenants have needs the tenant: relying sites pass it).
/// A slug that does not parse ([`TenantSlug`]) names no tenant and is ignored.
pub async fn find_user(app: &App, tenant_slug: Option<&str>, login_id: &str) -> anyhow::Result<Option<(Tenant, User)>> {
    let login_id = login_id.trim();
    if login_id.is_empty() {
        return Ok(None);
    }
    let tenants = match tenant_slug.filter(|s| TenantSlug::parse(s).is_ok()) {
        Some(slug) => app.storage.tenants().get_by_slug(slug).await?.into_iter().collect(),
        None => app.storage.tenants().list().await?,
    };
    let mut found = Vec::new();
    for tenant in tenants {
        if let Some(user) = app.storage.users().get_by_login_id(tenant.id, login_id).await? {
            found.push((tenant, user));
        }
    }
    Ok(if found.len() == 1 { found.pop() } else { None })
}

/// Whether the login may offer the ID/password form without a certificate: some method
/// the tenant allows (any tenant's, when it is not known yet) needs none.
pub async fn offered(app: &App, tenant_slug: Option<&str>) -> anyhow::Result<bool> {
    let tenants = match tenant_slug.filter(|s| TenantSlug::parse(s).is_ok()) {
        Some(slug) => app.storage.tenants().get_by_slug(slug).await?.into_iter().collect(),
        None => app.storage.tenants().list().await?,
    };
    Ok(tenants.iter().any(certificate_optional))
}

/// Whether a method the tenant allows needs no certificate.
pub fn certificate_optional(tenant: &Tenant) -> bool {
    tenant.policy.allowed_login_methods.iter().any(|m| !m.needs_certificate())
}

/// Whether no method the tenant allows needs a certificate (the login need not go near
/// the certificate listener at all).
pub fn certificate_never_needed(tenant: &Tenant) -> bool {
    !tenant.policy.allowed_login_methods.iter().any(|m| m.needs_certificate())
}

/// Opens the transaction of a certificate-less login after a right password.
pub fn start_without_certificate(user: &User, tenant: &Tenant, return_to: Option<String>, now: OffsetDateTime) -> LoginProgress {
    let factors = vec![Factor::Pwd];
    LoginProgress {
        user_id: user.id,
        certificate: None,
        step: next_step(user, tenant, &factors, now),
        factors,
        return_to,
        email_code: None,
        login_hint: None,
        step_up_passkey: false,
    }
}

/// The ID/password step of a login without a certificate.
pub async fn submit(
    app: &App,
    tenant_slug: Option<&str>,
    login_id: &str,
    password: &str,
    return_to: Option<String>,
    origin: &Origin,
) -> anyhow::Result<StartOutcome> {
    let now = app.now();
    let found = find_user(app, tenant_slug, login_id).await?;
    let typed = login_id.trim();
    // Only an active user whose method needs no certificate may be checked at all.
    // A passkey-only user has no password to check: the same failure as anyone else's.
    let candidate = found
        .as_ref()
        .filter(|(_, u)| !u.login_method.needs_certificate() && u.login_method.needs_password() && u.status == UserStatus::Active);
    let Some((tenant, user)) = candidate else {
        // Spend the hash a real check would, then give the one failure answer.
        let _ = app.hasher.verify(password, None).await?;
        match &found {
            Some((tenant, user)) => {
                let result = if user.status == UserStatus::Active { LoginResult::NoCertificate } else { LoginResult::UserDisabled };
                record_login_event(app, &origin.attempt(tenant, Some(user), typed), result, &[]).await;
            }
            None => tracing::info!(source_ip = %origin.source_ip, "login without certificate for an unknown user ID"),
        }
        return Ok(StartOutcome::Failed);
    };
    let user = &super::login::release_expired_lock(app, tenant, user.clone(), now).await?;
    let attempt = origin.attempt(tenant, Some(user), typed);
    if user.is_locked() {
        let _ = app.hasher.verify(password, None).await?;
        record_login_event(app, &attempt, LoginResult::Locked, &[]).await;
        return Ok(StartOutcome::Failed);
    }
    if !app.hasher.verify(password, user.password_hash.as_deref()).await? {
        let outcome = app.storage.users().record_failed_password(user.id, tenant.policy.lockout_threshold_password, now).await?;
        record_login_event(app, &attempt, LoginResult::WrongPassword, &[]).await;
        // Counted (and locked at the threshold) all the same; only the page says less.
        let _ = failure(app, tenant, outcome);
        return Ok(StartOutcome::Failed);
    }
    // A password that raced a lock, or a method change to a certificate method, is refused.
    let user = app.storage.users().get(user.id).await?;
    if user.is_locked() {
        record_login_event(app, &attempt, LoginResult::Locked, &[]).await;
        return Ok(StartOutcome::Failed);
    }
    if user.login_method.needs_certificate() {
        record_login_event(app, &attempt, LoginResult::NoCertificate, &[]).await;
        return Ok(StartOutcome::Failed);
    }
    app.storage.users().reset_failed_passwords(user.id, now).await?;
    let progress = start_without_certificate(&user, tenant, return_to, now);
    if progress.step == super::login::LoginStep::ChangePassword {
        record_login_event(app, &attempt, super::login::password_change_reason(&user), &[]).await;
    }
    Ok(StartOutcome::Accepted(Box::new(Started { tenant: tenant.clone(), user, progress })))
}

#[cfg(test)]
mod tests {
    use mamori_storage::model::{LoginMethod, TenantPolicy};
    use uuid::Uuid;

    use super::*;
    use crate::flows::login::{LoginStep, satisfies};

    fn tenant(methods: Vec<LoginMethod>) -> Tenant {
        Tenant {
            id: Uuid::nil(),
            slug: "acme".into(),
            display_name: "ACME".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            policy: TenantPolicy { allowed_login_methods: methods, ..TenantPolicy::default() },
        }
    }

    fn user(method: LoginMethod) -> User {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        User {
            id: Uuid::new_v4(),
            tenant_id: Uuid::nil(),
            login_id: "p-01-usr012".into(),
            display_name: String::new(),
            locale: mamori_storage::model::Locale::Ja,
            time_zone: "Asia/Tokyo".into(),
            login_method: method,
            status: UserStatus::Active,
            locked_at: None,
            lock_reason: None,
            failed_password_count: 0,
            failed_secret_answer_count: 0,
            password_hash: Some("$argon2id$…".into()),
            password_changed_at: Some(now),
            password_must_change: false,
            secret_question: None,
            secret_answer_hash: None,
            external_id: None,
            version: 0,
            totp_secret_sealed: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_001)
    }

    #[test]
    fn login_without_certificate_asks_what_the_method_still_needs() {
        use LoginMethod as M;
        let t = tenant(vec![M::Password, M::PasswordOtp]);
        let p = start_without_certificate(&user(M::Password), &t, Some("/oidc/resume/x".into()), now());
        assert_eq!((p.step.clone(), p.factors.clone()), (LoginStep::Done, vec![Factor::Pwd]));
        assert_eq!(p.certificate, None);
        assert_eq!(p.return_to.as_deref(), Some("/oidc/resume/x"), "OIDC/SAML resumption is kept");
        assert_eq!(crate::flows::login::amr(&p.factors), vec!["pwd"], "no swk without a certificate");
        let p = start_without_certificate(&user(M::PasswordOtp), &t, None, now());
        assert_eq!(p.step, LoginStep::Otp);
        let mut expired = user(M::PasswordOtp);
        expired.password_must_change = true;
        assert_eq!(start_without_certificate(&expired, &t, None, now()).step, LoginStep::ChangePassword);
    }

    #[test]
    fn login_without_certificate_never_satisfies_a_certificate_method() {
        use LoginMethod as M;
        let t = tenant(vec![M::CertPassword, M::Password]);
        for method in [M::Cert, M::CertPassword, M::CertPasswordOtp] {
            let p = start_without_certificate(&user(method), &t, None, now());
            assert_eq!(p.step, LoginStep::CertificateRequired, "{method:?}");
            assert!(!satisfies(method, &[Factor::Pwd, Factor::Otp]), "{method:?}");
            assert!(satisfies(method, &[Factor::Certificate, Factor::Pwd, Factor::Otp]), "{method:?}");
        }
        assert!(satisfies(M::Password, &[Factor::Pwd]));
        assert!(!satisfies(M::PasswordOtp, &[Factor::Pwd]));
        assert!(satisfies(M::PasswordOtp, &[Factor::Pwd, Factor::Otp]));
        assert_eq!(crate::flows::login::amr(&[Factor::Pwd, Factor::Otp]), vec!["pwd", "otp", "mfa"]);
    }

    #[test]
    fn login_without_certificate_is_offered_by_the_tenants_methods() {
        use LoginMethod as M;
        assert!(!certificate_optional(&tenant(vec![M::Cert, M::CertPassword])));
        assert!(certificate_optional(&tenant(vec![M::CertPassword, M::PasswordOtp])));
        assert!(!certificate_never_needed(&tenant(vec![M::CertPassword, M::PasswordOtp])));
        assert!(certificate_never_needed(&tenant(vec![M::Password, M::PasswordOtp])));
    }
}
