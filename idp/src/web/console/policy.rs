//! The tenant's policy in the console: every knob the admin API's policy document has,
//! grouped as an operator thinks of them (passwords, lockout, devices, certificates,
//! login methods, sessions), each with the values it takes. Saving sends the whole
//! policy through the service function the API's PUT uses, which checks the knobs
//! against each other and writes the audit event; a refused form saves nothing and
//! names the knob.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use mamori_storage::model::TenantPolicy;

use super::sites::NoticeQuery;
use super::{Console, console_or_return, open_console};
use crate::admin::{AdminError, tenants};
use crate::state::SharedState;
use crate::urlcode;
use crate::web::context::{FormFields, PageCtx, field};

pub fn routes() -> Router<SharedState> {
    Router::new().route("/console/t/{tenant}/policy", get(show).post(save))
}

/// How a knob is entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A whole number from `min` up (the storage column's 32-bit limit above).
    Number { min: u32 },
    /// A checkbox.
    Switch,
    /// One of fixed values.
    Choice(&'static [&'static str]),
    /// Several of the login methods (checkboxes).
    Methods,
    /// Several of the password character classes (checkboxes).
    Classes,
}

const METHODS: &[&str] =
    &["cert", "cert+password", "cert+password+otp", "password", "password+otp", "cert+passkey", "cert+password+passkey", "passkey"];
const CLASSES: &[&str] = &["digits", "upper", "lower", "symbols"];

/// Every knob, by group, in the order of the page; the names are [`TenantPolicy`]'s fields
/// (a test checks that none is missing).
const GROUPS: &[(&str, &[(&str, Kind)])] = &[
    (
        "passwords",
        &[
            ("password_min_length", Kind::Number { min: 1 }),
            ("password_max_length", Kind::Number { min: 1 }),
            ("password_char_classes", Kind::Classes),
            ("password_expiry_days", Kind::Number { min: 0 }),
            ("password_history_count", Kind::Number { min: 1 }),
            ("password_reissue_enabled", Kind::Switch),
        ],
    ),
    (
        "lockout",
        &[
            ("lockout_threshold_password", Kind::Number { min: 1 }),
            ("lockout_threshold_secret_answer", Kind::Number { min: 1 }),
            ("lockout_threshold_enrollment_otp", Kind::Number { min: 1 }),
            ("lockout_release_minutes", Kind::Number { min: 0 }),
            ("show_attempts_left", Kind::Switch),
        ],
    ),
    (
        "devices",
        &[("max_devices", Kind::Number { min: 1 }), ("self_service_enabled", Kind::Switch), ("device_management_enabled", Kind::Switch)],
    ),
    (
        "certificates",
        &[
            ("certificate_validity_days", Kind::Number { min: 1 }),
            ("certificate_key_type", Kind::Choice(&["p256", "rsa2048"])),
            ("pkcs12_format", Kind::Choice(&["modern", "legacy"])),
            ("user_certificate_reissue_enabled", Kind::Switch),
            ("enrollment_ticket_hours", Kind::Number { min: 1 }),
            ("download_ticket_hours", Kind::Number { min: 1 }),
            ("download_max_count", Kind::Number { min: 1 }),
            ("reissue_link_minutes", Kind::Number { min: 1 }),
        ],
    ),
    (
        "lifecycle",
        &[
            ("certificate_expiry_reminder_days", Kind::Number { min: 0 }),
            ("certificate_expiry_reminder_repeats", Kind::Number { min: 0 }),
            ("renewal_grace_days", Kind::Number { min: 1 }),
            ("csr_min_rsa_bits", Kind::Number { min: 2048 }),
        ],
    ),
    (
        "methods",
        &[
            ("allowed_login_methods", Kind::Methods),
            ("default_login_method", Kind::Choice(METHODS)),
            ("login_method_change_enabled", Kind::Switch),
            ("otp_kind", Kind::Choice(&["totp", "email"])),
        ],
    ),
    ("sessions", &[("session_idle_minutes", Kind::Number { min: 1 }), ("session_absolute_minutes", Kind::Number { min: 1 })]),
    ("provisioning", &[("scim_enrollment_mail", Kind::Switch)]),
];

/// Switches whose consequences the label alone does not tell: a hint under them says.
const SWITCH_HINTS: &[&str] = &["scim_enrollment_mail"];

/// The largest number a knob takes where the policy sets no lower ceiling: what its
/// 32-bit signed column holds.
const MAX_NUMBER: u32 = i32::MAX as u32;

/// The range a number knob takes: the policy's own floor and ceiling where it has them
/// (the service checks the same), else `min` to the column's limit.
fn number_range(knob: &str, min: u32) -> std::ops::RangeInclusive<u32> {
    TenantPolicy::floor_of(knob).unwrap_or(min).max(min)..=TenantPolicy::ceiling_of(knob).unwrap_or(MAX_NUMBER)
}

fn policy_path(tenant: &str) -> String {
    format!("/console/t/{}/policy", urlcode::component(tenant))
}

async fn show(ctx: PageCtx, Path(tenant): Path<String>, Query(query): Query<NoticeQuery>) -> Response {
    let console = console_or_return!(ctx, &policy_path(&tenant));
    let policy = match tenants::policy(console.ctx.app(), &console.principal, &tenant).await {
        Ok(policy) => policy,
        Err(err) => return console.refused(&err).await,
    };
    let notice = query.text(&console, &["saved", "branding_saved"], "console.policy.notice");
    let values = serde_json::to_value(&policy).unwrap_or_default();
    policy_page(&console, &tenant, StatusCode::OK, &values, &[], None, notice).await
}

/// The page after a refused branding form: the policy as stored, the branding as typed.
pub(super) async fn page_with_branding(
    console: &Console,
    tenant: &str,
    status: StatusCode,
    problems: &[String],
    typed: &serde_json::Value,
) -> Response {
    let policy = match tenants::policy(console.ctx.app(), &console.principal, tenant).await {
        Ok(policy) => policy,
        Err(err) => return console.refused(&err).await,
    };
    let values = serde_json::to_value(&policy).unwrap_or_default();
    let branding = super::branding::fields(console, tenant, Some(typed)).await;
    policy_page_with(console, tenant, status, &values, problems, None, None, branding).await
}

/// The page, its fields filled from `values` (the policy as stored, or as typed).
async fn policy_page(
    console: &Console,
    tenant: &str,
    status: StatusCode,
    values: &serde_json::Value,
    problems: &[String],
    invalid: Option<&str>,
    notice: Option<String>,
) -> Response {
    let branding = super::branding::fields(console, tenant, None).await;
    policy_page_with(console, tenant, status, values, problems, invalid, notice, branding).await
}

#[allow(clippy::too_many_arguments)]
async fn policy_page_with(
    console: &Console,
    tenant: &str,
    status: StatusCode,
    values: &serde_json::Value,
    problems: &[String],
    invalid: Option<&str>,
    notice: Option<String>,
    branding: serde_json::Value,
) -> Response {
    let msg = |key: String| console.ctx.message(&key);
    let groups: Vec<serde_json::Value> = GROUPS
        .iter()
        .map(|(group, knobs)| {
            let knobs: Vec<serde_json::Value> = knobs
                .iter()
                .map(|(name, kind)| {
                    let value = &values[*name];
                    let (kind_name, hint, options) = match kind {
                        Kind::Number { min } => {
                            let range = number_range(name, *min);
                            let (min, max) = (*range.start(), *range.end());
                            // Where 0 means something other than "never", the hint says what.
                            let key = match (*name, min) {
                                ("certificate_expiry_reminder_repeats", _) => "console.policy.allowed.from_0_none",
                                (_, 0) => "console.policy.allowed.from_0",
                                _ => "console.policy.allowed.range",
                            };
                            let hint = msg(key.to_owned()).replace("{min}", &min.to_string()).replace("{max}", &max.to_string());
                            ("number", hint, Vec::new())
                        }
                        Kind::Switch if SWITCH_HINTS.contains(name) => ("switch", msg(format!("console.policy.hint.{name}")), Vec::new()),
                        Kind::Switch => ("switch", String::new(), Vec::new()),
                        Kind::Choice(choices) => {
                            let options = choices
                                .iter()
                                .map(|c| serde_json::json!({"value": c, "label": choice_label(console, name, c), "selected": value == c}))
                                .collect();
                            ("choice", String::new(), options)
                        }
                        Kind::Methods => {
                            let options = METHODS
                                .iter()
                                .map(|m| {
                                    let on = value.as_array().is_some_and(|a| a.iter().any(|v| v == m));
                                    serde_json::json!({"value": m, "label": choice_label(console, name, m), "selected": on})
                                })
                                .collect();
                            ("multi", msg("console.policy.allowed.some".into()), options)
                        }
                        Kind::Classes => {
                            let options = CLASSES
                                .iter()
                                .map(|c| serde_json::json!({"value": c, "label": choice_label(console, name, c), "selected": value[*c] == true}))
                                .collect();
                            ("multi", msg("console.policy.allowed.some".into()), options)
                        }
                    };
                    let shown = match value {
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::String(s) => s.clone(),
                        _ => String::new(),
                    };
                    serde_json::json!({
                        "name": name,
                        "label": msg(format!("console.policy.knob.{name}")),
                        "kind": kind_name,
                        "value": shown,
                        "checked": value == true,
                        "options": options,
                        "hint": hint,
                        "invalid": invalid == Some(*name),
                    })
                })
                .collect();
            serde_json::json!({"name": group, "legend": msg(format!("console.policy.group.{group}")), "knobs": knobs})
        })
        .collect();
    console
        .page(
            status,
            "console/policy.html",
            tenant,
            serde_json::json!({
                "groups": groups, "problem": problems, "notice": notice, "action": policy_path(tenant), "branding": branding,
                "preview": preview(console, values),
            }),
        )
        .await
}

/// What users are told under the values on the page: the password rule as the
/// enrollment and password pages write it, and what wrong passwords lead to. Values the
/// form could not read are shown as typed.
fn preview(console: &Console, values: &serde_json::Value) -> serde_json::Value {
    let shown = |knob: &str| match &values[knob] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let release = values["lockout_release_minutes"].as_u64();
    let lockout_key = if release == Some(0) { "console.policy.preview.lockout_admin" } else { "console.policy.preview.lockout_timed" };
    let lockout = console
        .ctx
        .message(lockout_key)
        .replace("{n}", &shown("lockout_threshold_password"))
        .replace("{m}", &shown("lockout_release_minutes"));
    serde_json::json!({"min": shown("password_min_length"), "max": shown("password_max_length"), "lockout": lockout})
}

fn choice_label(console: &Console, knob: &str, value: &str) -> String {
    match knob {
        "allowed_login_methods" | "default_login_method" => console.ctx.message(&format!("account.method.{value}")),
        _ => console.ctx.message(&format!("console.policy.choice.{knob}.{value}")),
    }
}

/// Why a knob's typed value is refused before the policy's own checks, as a message key.
#[derive(Debug, PartialEq, Eq)]
struct Unreadable {
    knob: &'static str,
    key: &'static str,
}

/// The policy the form describes, starting from `current` (every knob is on the form, so
/// each is replaced). Numbers must be whole numbers in their range; choices one of theirs.
fn read_form(current: &TenantPolicy, fields: &FormFields) -> Result<(TenantPolicy, serde_json::Value), (Unreadable, serde_json::Value)> {
    let mut values = serde_json::to_value(current).unwrap_or_default();
    let mut refused = None;
    for (name, kind) in GROUPS.iter().flat_map(|(_, knobs)| knobs.iter()) {
        let typed = field(fields, name).trim();
        let value = match kind {
            Kind::Number { min } => match typed.parse::<u32>() {
                Ok(n) if number_range(name, *min).contains(&n) => serde_json::json!(n),
                _ => {
                    refused.get_or_insert(Unreadable { knob: name, key: "console.policy.problem.number" });
                    serde_json::json!(typed)
                }
            },
            Kind::Switch => serde_json::json!(typed == "on"),
            Kind::Choice(choices) => {
                if !choices.contains(&typed) {
                    refused.get_or_insert(Unreadable { knob: name, key: "console.policy.problem.choice" });
                }
                serde_json::json!(typed)
            }
            Kind::Methods => {
                serde_json::json!(METHODS.iter().filter(|m| field(fields, &format!("{name}.{m}")) == "on").collect::<Vec<_>>())
            }
            Kind::Classes => serde_json::Value::Object(
                CLASSES.iter().map(|c| ((*c).to_owned(), serde_json::json!(field(fields, &format!("{name}.{c}")) == "on"))).collect(),
            ),
        };
        values[*name] = value;
    }
    if let Some(refused) = refused {
        return Err((refused, values));
    }
    match serde_json::from_value::<TenantPolicy>(values.clone()) {
        Ok(policy) => Ok((policy, values)),
        // Every value was checked above; a knob the table lacks would land here.
        Err(_) => Err((Unreadable { knob: "", key: "console.error.invalid" }, values)),
    }
}

async fn save(ctx: PageCtx, Path(tenant): Path<String>, form: Result<Form<FormFields>, FormRejection>) -> Response {
    let console = console_or_return!(ctx, &policy_path(&tenant));
    let fields = match console.ctx.accept_form(form) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let app = console.ctx.app();
    let current = match tenants::policy(app, &console.principal, &tenant).await {
        Ok(policy) => policy,
        Err(err) => return console.refused(&err).await,
    };
    let label = |knob: &str| console.ctx.message(&format!("console.policy.knob.{knob}"));
    let (refused, values) = match read_form(&current, &fields) {
        Ok((policy, values)) => match tenants::replace_policy(app, &console.principal, &tenant, policy).await {
            Ok(_) => return Redirect::to(&format!("{}?notice=saved", policy_path(&tenant))).into_response(),
            Err(AdminError::Field(refused)) => (Unreadable { knob: refused.field, key: refused.key }, values),
            Err(err) => return console.refused(&err).await,
        },
        Err(unreadable) => unreadable,
    };
    let problem = if refused.knob.is_empty() {
        console.ctx.message(refused.key)
    } else {
        format!("{}: {}", label(refused.knob), console.ctx.message(refused.key))
    };
    policy_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &values, &[problem], Some(refused.knob), None).await
}

#[cfg(test)]
mod tests {
    use mamori_storage::model::LoginMethod;

    use super::*;

    /// Every login method, so the table's list cannot fall behind the model's.
    fn all_methods() -> Vec<String> {
        LoginMethod::ALL.iter().map(ToString::to_string).collect()
    }

    fn form_of(policy: &TenantPolicy) -> FormFields {
        let values = serde_json::to_value(policy).expect("serialises");
        let mut form = FormFields::new();
        for (name, kind) in GROUPS.iter().flat_map(|(_, knobs)| knobs.iter()) {
            let value = &values[*name];
            match kind {
                Kind::Number { .. } => {
                    form.insert((*name).into(), value.to_string());
                }
                Kind::Switch => {
                    if value == true {
                        form.insert((*name).into(), "on".into());
                    }
                }
                Kind::Choice(_) => {
                    form.insert((*name).into(), value.as_str().expect("text").into());
                }
                Kind::Methods => {
                    for m in value.as_array().expect("list") {
                        form.insert(format!("{name}.{}", m.as_str().expect("text")), "on".into());
                    }
                }
                Kind::Classes => {
                    for c in CLASSES {
                        if value[*c] == true {
                            form.insert(format!("{name}.{c}"), "on".into());
                        }
                    }
                }
            }
        }
        form
    }

    #[test]
    fn every_knob_is_on_the_page_once() {
        let values = serde_json::to_value(TenantPolicy::default()).expect("serialises");
        let mut on_page: Vec<&str> = GROUPS.iter().flat_map(|(_, knobs)| knobs.iter().map(|(n, _)| *n)).collect();
        on_page.sort_unstable();
        let mut knobs: Vec<&str> = values.as_object().expect("object").keys().map(String::as_str).collect();
        knobs.sort_unstable();
        assert_eq!(on_page, knobs);
        assert_eq!(METHODS.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>(), all_methods());
    }

    #[test]
    fn every_knob_group_and_hint_speaks_both_languages() {
        let ui = mamori_ui::Ui::new();
        let mut keys: Vec<String> = SWITCH_HINTS.iter().map(|n| format!("console.policy.hint.{n}")).collect();
        for (group, knobs) in GROUPS {
            keys.push(format!("console.policy.group.{group}"));
            keys.extend(knobs.iter().map(|(name, _)| format!("console.policy.knob.{name}")));
        }
        for key in &keys {
            for locale in [mamori_ui::Locale::Ja, mamori_ui::Locale::En] {
                assert!(!ui.message(locale, key).contains("??"), "{key} {locale:?}");
            }
        }
        // Mailing the ticket is weaker than the flows' separate hand-over: the hint says so.
        let hint = ui.message(mamori_ui::Locale::En, "console.policy.hint.scim_enrollment_mail");
        assert!(hint.starts_with("Weaker") && hint.contains("one-time password"), "{hint}");
        assert!(ui.message(mamori_ui::Locale::Ja, "console.policy.hint.scim_enrollment_mail").contains("弱い"));
        assert!(!TenantPolicy::default().scim_enrollment_mail, "off unless a tenant chooses it");
    }

    #[test]
    fn the_form_of_a_policy_reads_back_as_it() {
        let mut policy =
            TenantPolicy { lockout_release_minutes: 15, show_attempts_left: false, scim_enrollment_mail: true, ..TenantPolicy::default() };
        policy.password_char_classes.symbols = false;
        policy.allowed_login_methods = vec![LoginMethod::CertPassword, LoginMethod::Password];
        let (read, _) = read_form(&TenantPolicy::default(), &form_of(&policy)).expect("readable");
        assert_eq!(read, policy);
    }

    #[test]
    fn unreadable_values_name_their_knob() {
        let base = TenantPolicy::default();
        for (knob, typed, key) in [
            ("max_devices", "three", "console.policy.problem.number"),
            ("max_devices", "-1", "console.policy.problem.number"),
            ("lockout_threshold_password", "0", "console.policy.problem.number"),
            ("password_expiry_days", "99999999999", "console.policy.problem.number"),
            ("password_expiry_days", "2147483648", "console.policy.problem.number"),
            ("certificate_key_type", "rsa512", "console.policy.problem.choice"),
            ("default_login_method", "magic", "console.policy.problem.choice"),
        ] {
            let mut form = form_of(&base);
            form.insert(knob.into(), typed.into());
            let (refused, values) = read_form(&base, &form).expect_err(typed);
            assert_eq!(refused, Unreadable { knob, key }, "{knob}={typed}");
            assert_eq!(values[knob], serde_json::json!(typed), "shown again as typed");
        }
        // Zero is a value where it means "never".
        let mut form = form_of(&base);
        form.insert("password_expiry_days".into(), "0".into());
        assert_eq!(read_form(&base, &form).expect("readable").0.password_expiry_days, 0);
    }
}
