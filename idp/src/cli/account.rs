//! `mamori admin user reissue-cert` (flow 6 started by an operator: a mail with a
//! single-use link to the device's address) and `mamori admin tenant policy` (show or
//! change a tenant's policy knobs, e.g. to switch self-service features off).

use anyhow::Context as _;
use clap::Args;
use mamori_storage::model::TenantPolicy;

use super::OutputArgs;
use super::admin::find_tenant;
use crate::app::App;
use crate::flows::events::Attempt;

#[derive(Debug, Args)]
pub struct ReissueCertArgs {
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub login_id: String,
    /// Device No (1, 2, …); the first active device when absent.
    #[arg(long)]
    pub device: Option<u32>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct TenantPolicyArgs {
    #[arg(long)]
    pub tenant: String,
    /// A knob to change, as KEY=VALUE (VALUE in JSON, or a bare string), e.g.
    /// `--set device_management_enabled=false --set max_devices=2`; repeatable. Without
    /// any, the policy is printed.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Starts a certificate reissue: the link goes by mail to the device's address; nothing
/// secret is printed.
pub async fn reissue_cert(app: &App, args: ReissueCertArgs) -> anyhow::Result<()> {
    let tenant = find_tenant(app, &args.tenant).await?;
    let user = app
        .storage
        .users()
        .get_by_login_id(tenant.id, &args.login_id)
        .await?
        .with_context(|| format!("--login-id {}: no such user in tenant `{}`", args.login_id, tenant.slug))?;
    let devices = app.storage.devices().list_for_user(user.id, false).await?;
    let device = match args.device {
        Some(no) => devices
            .into_iter()
            .find(|d| d.device_no == no)
            .with_context(|| format!("--device {no}: {} has no such active device", user.login_id))?,
        None => devices.into_iter().next().with_context(|| format!("{} has no active device", user.login_id))?,
    };
    if user.secret_answer_hash.is_none() {
        anyhow::bail!("{} has not enrolled yet (no secret answer): use `mamori admin user enroll`", user.login_id);
    }
    let base = app.config.main_public_url(app.config.server.listen.port());
    let attempt =
        Attempt { tenant_id: tenant.id, user_id: Some(user.id), login_id: Some(&user.login_id), source_ip: "cli".into(), user_agent: None };
    let expires = crate::flows::reissue::start_certificate_reissue(app, &tenant, &user, &device, &base, &attempt).await?;
    let json = serde_json::json!({
        "login_id": user.login_id, "device": device.device_no, "mailed_to": device.email, "expires_at": super::quickstart::utc_seconds(expires),
    });
    match args.output.output {
        super::OutputFormat::Json => super::output::line(&serde_json::to_string_pretty(&json)?),
        super::OutputFormat::Text => super::output::line(&format!(
            "certificate reissue for device {} of {}: the link was mailed to {} (valid until {})",
            device.device_no,
            user.login_id,
            device.email,
            super::quickstart::utc_seconds(expires)
        )),
    }
}

/// Prints the policy, or applies `--set` changes after checking the result.
pub async fn tenant_policy(app: &App, args: TenantPolicyArgs) -> anyhow::Result<()> {
    let tenant = find_tenant(app, &args.tenant).await?;
    if args.set.is_empty() {
        // The policy is a document of knobs: text shows it as JSON too.
        return super::output::line(&serde_json::to_string_pretty(&tenant.policy)?);
    }
    let policy = apply_settings(&tenant.policy, &args.set)?;
    // Checked and audited like the API's change.
    let policy = crate::admin::tenants::replace_policy(app, &crate::admin::Principal::local_cli(), &tenant.slug, policy)
        .await
        .map_err(super::oidc::cli_error)?;
    let changed: Vec<&str> = args.set.iter().filter_map(|s| s.split_once('=').map(|(k, _)| k)).collect();
    let json = serde_json::json!({ "tenant": tenant.slug, "changed": changed, "policy": policy });
    super::output::print(args.output.output, &json, || format!("updated the policy of tenant {}", tenant.slug))
}

fn apply_settings(policy: &TenantPolicy, settings: &[String]) -> anyhow::Result<TenantPolicy> {
    let mut json = serde_json::to_value(policy)?;
    for setting in settings {
        let (key, value) = setting.split_once('=').with_context(|| format!("--set {setting}: use KEY=VALUE"))?;
        let map = json.as_object_mut().context("policy is not an object")?;
        if !map.contains_key(key) {
            let known: Vec<&String> = map.keys().collect();
            anyhow::bail!("--set {setting}: unknown policy key `{key}` (known: {known:?})");
        }
        let value = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
        map.insert(key.to_owned(), value);
    }
    let policy: TenantPolicy = serde_json::from_value(json).map_err(|e| anyhow::anyhow!("--set: {e}"))?;
    policy.validate().map_err(|e| anyhow::anyhow!("--set: {e}"))?;
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_change_knobs_and_are_checked() {
        let base = TenantPolicy::default();
        let p = apply_settings(&base, &["device_management_enabled=false".into(), "max_devices=2".into()]).expect("valid");
        assert!(!p.device_management_enabled);
        assert_eq!(p.max_devices, 2);
        let p = apply_settings(&base, &["otp_kind=email".into(), r#"allowed_login_methods=["cert+password","cert+password+otp"]"#.into()])
            .expect("valid");
        assert_eq!(p.allowed_login_methods.len(), 2);
        assert!(apply_settings(&base, &["nope=1".into()]).is_err());
        assert!(apply_settings(&base, &["max_devices=0".into()]).is_err(), "validated");
        assert!(apply_settings(&base, &["max_devices".into()]).is_err());
    }
}
