//! Creating and changing users in the console: the new-user form (the user and its first
//! device, then an enrollment ticket shown once, as the user page's button gives one),
//! the edit form (name, language, login method, each device's e-mail address), and the
//! confirmation page in front of the changes that destroy or lock something (delete,
//! disable, ending the sessions). Every change calls the service functions the REST API
//! calls, which check the role, confine to the tenant and write the audit trail.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use mamori_storage::model::{Device, LoginMethod, User};
use serde::Serialize;

use super::users::{enrollment_page, user_href};
use super::{Console, console_or_return, open_console};
use crate::admin::users::{self, NewUserInput, UserChanges};
use crate::admin::{AdminError, tenants};
use crate::fields::Email;
use crate::state::SharedState;
use crate::urlcode;
use crate::web::context::{FormFields, PageCtx, field};

pub fn routes() -> Router<SharedState> {
    // Not under `users/`: "new" may well be someone's user ID.
    Router::new()
        .route("/console/t/{tenant}/new-user", get(new_form).post(create))
        .route("/console/t/{tenant}/users/{login_id}/edit", get(edit_form).post(save))
}

/// The actions that destroy or lock something: the first POST shows what will happen,
/// only the confirmation page's own POST (with `confirmed=yes`) does it.
pub(super) const CONFIRMED_ACTIONS: &[&str] = &["delete", "disable", "end-sessions"];

fn new_user_path(tenant: &str) -> String {
    format!("/console/t/{}/new-user", urlcode::component(tenant))
}

/// The login methods the tenant allows, the `selected` one marked, for a `<select>`.
fn method_options(console: &Console, allowed: &[LoginMethod], selected: &str) -> Vec<serde_json::Value> {
    allowed
        .iter()
        .map(|m| {
            let value = m.to_string();
            serde_json::json!({"value": value, "label": console.ctx.message(&format!("account.method.{value}")), "selected": value == selected})
        })
        .collect()
}

/// What the new-user form was filled in with, to show it again.
#[derive(Debug, Default, Serialize)]
struct NewUserForm {
    login_id: String,
    display_name: String,
    email: String,
    login_method: String,
    locale: String,
}

impl NewUserForm {
    fn from_fields(fields: &FormFields) -> Self {
        NewUserForm {
            login_id: field(fields, "login_id").trim().to_owned(),
            display_name: field(fields, "display_name").trim().to_owned(),
            email: field(fields, "email").trim().to_owned(),
            login_method: field(fields, "login_method").to_owned(),
            locale: field(fields, "locale").to_owned(),
        }
    }
}

async fn new_form(ctx: PageCtx, Path(tenant): Path<String>) -> Response {
    let console = console_or_return!(ctx, &new_user_path(&tenant));
    new_user_page(&console, &tenant, StatusCode::OK, &NewUserForm::default(), &[], &[]).await
}

async fn new_user_page(
    console: &Console,
    tenant: &str,
    status: StatusCode,
    form: &NewUserForm,
    problems: &[String],
    invalid: &[&str],
) -> Response {
    let policy = match tenants::policy(console.ctx.app(), &console.principal, tenant).await {
        Ok(policy) => policy,
        Err(err) => return console.refused(&err).await,
    };
    let method = if form.login_method.is_empty() { policy.default_login_method.to_string() } else { form.login_method.clone() };
    let mut ctx = serde_json::to_value(form).unwrap_or_default();
    if let Some(map) = ctx.as_object_mut() {
        map.insert("methods".into(), serde_json::json!(method_options(console, &policy.allowed_login_methods, &method)));
        map.insert("problem".into(), serde_json::json!(problems));
        map.insert("invalid".into(), serde_json::json!(invalid));
        map.insert("action".into(), serde_json::json!(new_user_path(tenant)));
    }
    console.page(status, "console/user_new.html", tenant, ctx).await
}

/// Creates the user with its first device, then hands out the enrollment ticket: the
/// operator leaves with the URL and one-time password to give the user.
async fn create(ctx: PageCtx, Path(tenant): Path<String>, form: Result<Form<FormFields>, FormRejection>) -> Response {
    let console = console_or_return!(ctx, &new_user_path(&tenant));
    let fields = match console.ctx.accept_form(form) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let form = NewUserForm::from_fields(&fields);
    let app = console.ctx.app();
    let input = NewUserInput {
        login_id: form.login_id.clone(),
        email: form.email.clone(),
        display_name: Some(form.display_name.clone()),
        login_method: Some(form.login_method.clone()),
        locale: Some(form.locale.clone()),
        time_zone: None,
        ..Default::default()
    };
    let created = match users::create(app, &console.principal, &tenant, &input).await {
        Ok(user) => user,
        Err(err) => {
            return match form_problem(&console, &err) {
                Some((message, field)) => {
                    new_user_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &form, &[message], &[field]).await
                }
                None => console.refused(&err).await,
            };
        }
    };
    let href = user_href(&tenant, &created.login_id);
    match users::enrollment_ticket(app, &console.principal, &tenant, &created.login_id, &console.ctx.state.urls.main).await {
        Ok(issued) => enrollment_page(&console, &tenant, &href, &issued, true).await,
        // The user exists; the operator can get the ticket from the user's page.
        Err(err) => console.refused(&err).await,
    }
}

/// A refusal that belongs on the form: its text in the operator's language and the field
/// it names. Other refusals (not found, role, outage) get the console's error pages.
fn form_problem(console: &Console, err: &AdminError) -> Option<(String, &'static str)> {
    let (key, field) = match err {
        AdminError::Field(refused) => (refused.key, refused.field),
        // The service's texts start with the field they are about.
        AdminError::Invalid(why) if why.starts_with("login_method") => ("console.user_form.problem.method", "login_method"),
        AdminError::Invalid(why) if why.starts_with("locale") => ("console.user_form.problem.locale", "locale"),
        AdminError::Conflict(_) => ("console.user_form.problem.taken", "login_id"),
        AdminError::Invalid(_) => ("console.error.invalid", ""),
        _ => return None,
    };
    Some((console.ctx.message(key), field))
}

async fn edit_form(ctx: PageCtx, Path((tenant, login_id)): Path<(String, String)>) -> Response {
    let href = user_href(&tenant, &login_id);
    let console = console_or_return!(ctx, &format!("{href}/edit"));
    let (user, devices) = match user_and_devices(&console, &tenant, &login_id).await {
        Ok(found) => found,
        Err(err) => return console.refused(&err).await,
    };
    let form = EditForm::of(&user, &devices);
    edit_page(&console, &tenant, &user, StatusCode::OK, &form, &[], &[]).await
}

async fn user_and_devices(console: &Console, tenant: &str, login_id: &str) -> Result<(User, Vec<Device>), AdminError> {
    let app = console.ctx.app();
    let user = users::get(app, &console.principal, tenant, login_id).await?;
    let devices = users::devices(app, &console.principal, tenant, login_id).await?.into_iter().filter(|d| !d.is_deleted()).collect();
    Ok((user, devices))
}

/// The edit form's values: the user's, or what was typed.
#[derive(Debug, Serialize)]
struct EditForm {
    display_name: String,
    login_method: String,
    locale: String,
    /// (device number, address) of each device in use.
    emails: Vec<(u32, String)>,
}

impl EditForm {
    fn of(user: &User, devices: &[Device]) -> Self {
        EditForm {
            display_name: user.display_name.clone(),
            login_method: user.login_method.to_string(),
            locale: user.locale.to_string(),
            emails: devices.iter().map(|d| (d.device_no, d.email.clone())).collect(),
        }
    }

    fn from_fields(fields: &FormFields, devices: &[Device]) -> Self {
        EditForm {
            display_name: field(fields, "display_name").trim().to_owned(),
            login_method: field(fields, "login_method").to_owned(),
            locale: field(fields, "locale").to_owned(),
            emails: devices.iter().map(|d| (d.device_no, field(fields, &format!("email_{}", d.device_no)).trim().to_owned())).collect(),
        }
    }
}

async fn edit_page(
    console: &Console,
    tenant: &str,
    user: &User,
    status: StatusCode,
    form: &EditForm,
    problems: &[String],
    invalid: &[String],
) -> Response {
    let policy = match tenants::policy(console.ctx.app(), &console.principal, tenant).await {
        Ok(policy) => policy,
        Err(err) => return console.refused(&err).await,
    };
    // The user's current method stays choosable even where the policy dropped it since.
    let mut allowed = policy.allowed_login_methods.clone();
    if !allowed.contains(&user.login_method) {
        allowed.insert(0, user.login_method);
    }
    let emails: Vec<serde_json::Value> =
        form.emails.iter().map(|(no, email)| serde_json::json!({"device_no": no, "name": format!("email_{no}"), "email": email})).collect();
    let href = user_href(tenant, &user.login_id);
    console
        .page(
            status,
            "console/user_edit.html",
            tenant,
            serde_json::json!({
                "login_id": user.login_id,
                "display_name": form.display_name,
                "locale": form.locale,
                "methods": method_options(console, &allowed, &form.login_method),
                "emails": emails,
                "problem": problems,
                "invalid": invalid,
                "action": format!("{href}/edit"),
                "href": href,
            }),
        )
        .await
}

async fn save(ctx: PageCtx, Path((tenant, login_id)): Path<(String, String)>, form: Result<Form<FormFields>, FormRejection>) -> Response {
    let console = console_or_return!(ctx, &format!("{}/edit", user_href(&tenant, &login_id)));
    let fields = match console.ctx.accept_form(form) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    match save_edit(&console, &tenant, &login_id, &fields).await {
        Ok(response) => response,
        Err(err) => console.refused(&err).await,
    }
}

/// Saves the edit form. Every value is checked before anything is written (the
/// addresses by the same parser the service uses; name and method by the service itself,
/// which writes nothing when it refuses), so a refused form saves nothing.
async fn save_edit(console: &Console, tenant: &str, login_id: &str, fields: &FormFields) -> Result<Response, AdminError> {
    let app = console.ctx.app();
    let (user, devices) = user_and_devices(console, tenant, login_id).await?;
    let form = EditForm::from_fields(fields, &devices);
    if let Some(bad) = form.emails.iter().find(|(_, email)| Email::parse(email).is_err()) {
        let (problems, invalid) = (vec![console.ctx.message(crate::fields::KEY_EMAIL)], vec![format!("email_{}", bad.0)]);
        return Ok(edit_page(console, tenant, &user, StatusCode::UNPROCESSABLE_ENTITY, &form, &problems, &invalid).await);
    }
    // Only what changed is sent: a stored value from before a stricter rule (a name, a
    // method the policy has dropped since) must not block changing something else.
    let changes = UserChanges {
        display_name: (form.display_name != user.display_name).then(|| form.display_name.clone()),
        locale: (form.locale != user.locale.to_string()).then(|| form.locale.clone()),
        time_zone: None,
        login_method: (form.login_method != user.login_method.to_string()).then(|| form.login_method.clone()),
    };
    match users::update(app, &console.principal, tenant, login_id, &changes).await {
        Ok(_) => {}
        Err(err) => {
            let Some((message, field)) = form_problem(console, &err) else { return Err(err) };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(edit_page(console, tenant, &user, status, &form, &[message], &[field.to_owned()]).await);
        }
    }
    for (device_no, email) in &form.emails {
        users::change_device_email(app, &console.principal, tenant, login_id, *device_no, email).await?;
    }
    Ok(Redirect::to(&format!("{}?notice=saved", user_href(tenant, login_id))).into_response())
}

/// The confirmation page of `action`, after the service's own check that the operator
/// may change this user at all (a refusal is audited and shown instead, as it would be
/// on the confirmed POST).
pub(super) async fn confirmation(console: &Console, tenant: &str, login_id: &str, action: &str) -> Result<Response, AdminError> {
    let app = console.ctx.app();
    let audit_action = format!("user.{action}");
    let (_, user) = users::find_to_change(app, &console.principal, tenant, login_id, &audit_action).await?;
    let href = user_href(tenant, login_id);
    let sessions = if action == "end-sessions" { users::sessions(app, &console.principal, tenant, login_id).await?.len() } else { 0 };
    let lead = console.ctx.message(&format!("console.confirm.{action}.lead")).replace("{count}", &sessions.to_string());
    let confirmation = super::Confirmation {
        title_key: format!("console.confirm.{action}.title"),
        submit_key: format!("console.confirm.{action}.submit"),
        lead,
        login_id: Some(user.login_id),
        display_name: Some(user.display_name),
        action: format!("{href}/{action}"),
        back: href,
        ..Default::default()
    };
    Ok(console.confirm(tenant, confirmation).await)
}
