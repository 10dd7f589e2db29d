//! Tenants and their policy.

use mamori_storage::model::{ApiScope, PolicyProblem, PolicyRule, Tenant, TenantPolicy};

use super::{AdminError, Listed, Paging, Principal, audit};
use crate::app::App;
// A tenant's name is shown to its users and written into certificate names: the users'
// display-name rule, so it hides no reordering or invisible character either.
use crate::fields::{DisplayName, TenantSlug};

/// Tenants the principal reaches, by slug.
pub async fn list(app: &App, principal: &Principal, paging: Paging) -> Result<Listed<Tenant>, AdminError> {
    principal.require(ApiScope::Read)?;
    let all: Vec<Tenant> = app.storage.tenants().list().await?.into_iter().filter(|t| principal.reaches(t.id)).collect();
    let total = all.len() as u64;
    let items = all.into_iter().skip(usize::try_from(paging.offset).unwrap_or(usize::MAX)).take(paging.limit as usize).collect();
    Ok(Listed { items, total, paging })
}

pub async fn get(app: &App, principal: &Principal, slug: &str) -> Result<Tenant, AdminError> {
    principal.tenant(app, slug, ApiScope::Read).await
}

pub async fn create(
    app: &App,
    principal: &Principal,
    slug: &str,
    display_name: &str,
    policy: Option<TenantPolicy>,
) -> Result<Tenant, AdminError> {
    principal.require_super_admin(ApiScope::Write)?;
    TenantSlug::parse(slug)?;
    DisplayName::parse(display_name)?;
    let policy = policy.unwrap_or_default();
    policy.check().map_err(policy_refusal)?;
    let tenant = app.storage.tenants().create(slug, display_name, &policy, app.now()).await?;
    audit::record(
        app,
        principal,
        Some(tenant.id),
        "tenant.create",
        &format!("tenant:{slug}"),
        serde_json::json!({"display_name": display_name}),
    )
    .await;
    Ok(tenant)
}

pub async fn rename(app: &App, principal: &Principal, slug: &str, display_name: &str) -> Result<Tenant, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Write).await?;
    DisplayName::parse(display_name)?;
    app.storage.tenants().set_display_name(tenant.id, display_name).await?;
    audit::record(
        app,
        principal,
        Some(tenant.id),
        "tenant.update",
        &format!("tenant:{slug}"),
        serde_json::json!({"display_name": display_name}),
    )
    .await;
    Ok(Tenant { display_name: display_name.to_owned(), ..tenant })
}

/// Deletes a tenant with everything it owns (super-admin only).
pub async fn delete(app: &App, principal: &Principal, slug: &str) -> Result<(), AdminError> {
    // Reach first: another tenant is "not found" even here, as everywhere.
    let tenant = principal.tenant(app, slug, ApiScope::Write).await?;
    principal.require_super_admin(ApiScope::Write)?;
    let reason = mamori_ca::RevocationReason::CessationOfOperation.as_str();
    let revoked = app.storage.tenants().delete(tenant.id, reason, app.now()).await?;
    audit::record(
        app,
        principal,
        Some(tenant.id),
        "tenant.delete",
        &format!("tenant:{slug}"),
        serde_json::json!({ "certificates_revoked": revoked }),
    )
    .await;
    Ok(())
}

pub async fn policy(app: &App, principal: &Principal, slug: &str) -> Result<TenantPolicy, AdminError> {
    Ok(principal.tenant(app, slug, ApiScope::Read).await?.policy)
}

/// Replaces the policy after checking its knobs against each other.
pub async fn replace_policy(app: &App, principal: &Principal, slug: &str, policy: TenantPolicy) -> Result<TenantPolicy, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Write).await?;
    policy.check().map_err(policy_refusal)?;
    app.storage.tenants().update_policy(tenant.id, &policy).await?;
    let details = serde_json::to_value(&policy).unwrap_or_default();
    audit::record(app, principal, Some(tenant.id), "tenant.policy.update", &format!("tenant:{slug}"), details).await;
    Ok(policy)
}

/// A refused policy as a refused field: the API names the knob (its detail is the
/// storage rule's text, as before), the console shows the rule in the operator's language.
fn policy_refusal(problem: PolicyProblem) -> AdminError {
    let key = match problem.rule {
        PolicyRule::AtLeastOne => "console.policy.problem.at_least_one",
        PolicyRule::TooLarge => "console.policy.problem.too_large",
        PolicyRule::TooSmall => "console.policy.problem.too_small",
        PolicyRule::BelowMinimum => "console.policy.problem.below_minimum",
        PolicyRule::NoCharacterClass => "console.policy.problem.no_class",
        PolicyRule::NoMethod => "console.policy.problem.no_method",
        PolicyRule::DefaultNotAllowed => "console.policy.problem.default_not_allowed",
        PolicyRule::BelowIdle => "console.policy.problem.below_idle",
        PolicyRule::BelowRsaFloor => "console.policy.problem.below_rsa_floor",
    };
    AdminError::Field(crate::fields::FieldError { field: problem.knob, key, detail: problem.to_string() })
}

/// Every message key [`policy_refusal`] can give (a test checks both catalogues have it).
#[cfg(test)]
pub(crate) const POLICY_KEYS: [&str; 7] = [
    "console.policy.problem.at_least_one",
    "console.policy.problem.too_large",
    "console.policy.problem.below_minimum",
    "console.policy.problem.no_class",
    "console.policy.problem.no_method",
    "console.policy.problem.default_not_allowed",
    "console.policy.problem.below_idle",
];
