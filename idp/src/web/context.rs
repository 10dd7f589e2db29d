//! What a page handler works with: the server state, the connection, the request headers
//! and the page language; rendering with a CSRF token, CSRF checks, bounded form fields,
//! and the one mapping of internal failures to an error page (503 when storage is down).
//! Shared by the login, enrollment and download pages.

use std::collections::HashMap;

use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::csrf;
use super::page::{LangQuery, PageLocale};
use crate::app::App;
use crate::state::ConnectionInfo;
use crate::state::SharedState;

/// Longest value accepted in any form field, in characters. Every real value (IDs,
/// passwords up to the policy's maximum, answers) is far shorter; longer ones are refused
/// before any hashing or lookup.
pub const MAX_FIELD_CHARS: usize = 256;

pub type FormFields = HashMap<String, String>;

pub struct PageCtx {
    pub state: SharedState,
    pub conn: ConnectionInfo,
    pub headers: HeaderMap,
    pub page: PageLocale,
}

impl PageCtx {
    pub fn new(state: SharedState, conn: ConnectionInfo, headers: HeaderMap, lang: &LangQuery) -> Self {
        let page = PageLocale::from_request(lang, &headers);
        Self { state, conn, headers, page }
    }

    pub fn app(&self) -> &App {
        &self.state.app
    }

    /// Shows the tenant's name, logo and colour on the pages this request renders.
    pub async fn show_tenant(&self, tenant: &mamori_storage::model::Tenant) {
        self.page.set_brand(&super::brand::PageBrand::load(&self.state.app, tenant).await);
    }

    /// [`Self::show_tenant`] on a login page: with the relying site `return_to` leads to.
    pub async fn show_login_tenant(&self, tenant: &mamori_storage::model::Tenant, return_to: Option<&str>) {
        let mut brand = super::brand::PageBrand::load(&self.state.app, tenant).await;
        if let Some(return_to) = return_to {
            brand.site_name = super::brand::relying_site_name(&self.state.app, return_to).await;
        }
        self.page.set_brand(&brand);
    }

    /// [`Self::show_tenant`] for a tenant known by its slug (nothing when unknown).
    pub async fn show_tenant_slug(&self, slug: &str, return_to: Option<&str>) {
        if crate::fields::TenantSlug::parse(slug).is_ok()
            && let Some(Ok(Some(tenant))) = super::brand::decoration(crate::oidc::recent_tenant_by_slug(&self.state.app, slug)).await
        {
            self.show_login_tenant(&tenant, return_to).await;
        }
    }

    /// One message in the page's language.
    pub fn message(&self, key: &str) -> String {
        self.state.app.ui.message(self.page.locale, key)
    }

    /// Renders a page without a form.
    pub fn render(&self, status: StatusCode, template: &str, ctx: serde_json::Value) -> Response {
        self.page.render(&self.state, status, template, ctx)
    }

    /// Renders a page with a CSRF token in `csrf_token` (and the CSRF cookie if new).
    pub fn form(&self, status: StatusCode, template: &str, mut ctx: serde_json::Value) -> Response {
        let issued = csrf::issue(&self.state.app.csrf, &self.headers);
        if let Some(map) = ctx.as_object_mut() {
            map.insert(csrf::CSRF_FIELD.into(), issued.token.clone().into());
        }
        let mut response = self.page.render(&self.state, status, template, ctx);
        csrf::attach(&mut response, &issued);
        response
    }

    /// The password reissue form (on the main listener, where it is served), for the
    /// tenant when it is known: "Forgot your password?" on the login pages.
    pub fn password_reissue_url(&self, tenant: Option<&str>) -> String {
        let main = &self.state.urls.main;
        match tenant {
            Some(slug) => format!("{main}/reissue/password?tenant={}", crate::urlcode::component(slug)),
            None => format!("{main}/reissue/password"),
        }
    }

    /// The lock page, with the way to a new password once the account is unlocked.
    pub fn locked_page(&self, render: fn(&Self, StatusCode, &str, serde_json::Value) -> Response, tenant: Option<&str>) -> Response {
        render(self, StatusCode::FORBIDDEN, "login/locked.html", serde_json::json!({ "reissue_url": self.password_reissue_url(tenant) }))
    }

    pub fn error(&self, status: StatusCode, key: &str) -> Response {
        self.page.error_page(&self.state, status, key)
    }

    /// An error page whose back link returns to the account page, not the start page.
    pub fn error_to_account(&self, status: StatusCode, key: &str) -> Response {
        self.page.error_page_back(&self.state, status, key, "/account", "error.back_account")
    }

    /// An error page whose back link returns to the operators' console.
    pub fn error_to_console(&self, status: StatusCode, key: &str) -> Response {
        self.page.error_page_back(&self.state, status, key, "/console", "error.back_console")
    }

    /// The form's CSRF token matches the browser's CSRF cookie, and the browser says the
    /// form was posted from one of Mamori's own pages.
    pub fn csrf_ok(&self, form: &FormFields) -> bool {
        csrf::posted_from(&self.headers, &[&self.state.urls.main, &self.state.urls.mtls])
            && form.get(csrf::CSRF_FIELD).is_some_and(|t| csrf::verify(&self.state.app.csrf, &self.headers, t))
    }

    /// Checks what every POST must pass before anything else: a readable form, a valid
    /// CSRF token (403 `csrf.invalid`), and no over-long field.
    // The error is the page to answer with, built once per request: no need to box it.
    #[allow(clippy::result_large_err)]
    pub fn accept_form(&self, form: Result<axum::extract::Form<FormFields>, FormRejection>) -> Result<FormFields, Response> {
        let Ok(axum::extract::Form(form)) = form else {
            return Err(self.error(StatusCode::BAD_REQUEST, "enroll.form.invalid"));
        };
        if !self.csrf_ok(&form) {
            return Err(self.error(StatusCode::FORBIDDEN, "csrf.invalid"));
        }
        if let Some((name, max)) = overlong_field(&form, field_max_chars) {
            return Err(self.too_long_page(name, max, self.way_back(Some(&form))));
        }
        Ok(form)
    }

    /// The refusal of a form with a value longer than `max` in the field `name` (only a
    /// hand-made request gets past the page's `maxlength`): the page names the field in
    /// the page's language and links back to the form, nothing having been done.
    pub fn too_long(&self, name: &str, max: usize) -> Response {
        self.too_long_page(name, max, self.way_back(None))
    }

    fn too_long_page(&self, name: &str, max: usize, back: String) -> Response {
        // A field the user cannot see (a hidden field, or a name the page never had) is
        // not named: its raw name would mean nothing to the reader.
        let message = match field_label(&self.state.app.ui, self.page.locale, name) {
            Some(label) => self.message("form.too_long.field").replace("{field}", &label),
            None => self.message("form.too_long.hidden"),
        };
        let message = message.replace("{max}", &max.to_string());
        let ctx = serde_json::json!({ "message": message, "back": back });
        self.render(StatusCode::BAD_REQUEST, "error.html", ctx)
    }

    /// The page a posted form came from, to go back to: the `Referer` when it is a page
    /// of the listener this request came to (the browser sends it for same-origin posts;
    /// it keeps the page's `return_to`), else the address the language switch uses, with
    /// the form's own `tenant` and `return_to` (when they are well-formed) so that the way
    /// back keeps the tenant's form and the relying site's login.
    fn way_back(&self, form: Option<&FormFields>) -> String {
        let here = match self.conn.listener {
            crate::state::ListenerKind::Main => &self.state.urls.main,
            crate::state::ListenerKind::Mtls => &self.state.urls.mtls,
        };
        let here = url::Url::parse(here).ok().map(|u| u.origin());
        let from_referer = self
            .headers
            .get(axum::http::header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| url::Url::parse(v).ok())
            .filter(|r| here.as_ref() == Some(&r.origin()))
            .and_then(|r| super::request::local_return_target(&r[url::Position::BeforePath..]));
        from_referer.unwrap_or_else(|| {
            let address = self.page.switch_address().to_owned();
            let Some(form) = form.filter(|_| !address.contains('?')) else { return address };
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            let tenant = form.get("tenant").filter(|t| crate::fields::TenantSlug::parse(t).is_ok());
            if let Some(tenant) = tenant {
                query.append_pair("tenant", tenant);
            }
            if let Some(target) = form.get("return_to").and_then(|r| super::request::local_return_target(r)) {
                query.append_pair("return_to", &target);
            }
            let query = query.finish();
            if query.is_empty() { address } else { format!("{address}?{query}") }
        })
    }

    /// The page for a failure we did not plan for: 503 when storage is unreachable (the
    /// user may retry), else 500. The detail goes to the log, never to the page.
    pub fn internal(&self, err: &anyhow::Error) -> Response {
        tracing::error!(error = %format!("{err:#}"), "request failed");
        if is_unavailable(err) {
            self.error(StatusCode::SERVICE_UNAVAILABLE, "error.unavailable")
        } else {
            self.error(StatusCode::INTERNAL_SERVER_ERROR, "error.internal")
        }
    }
}

/// Every page handler starts from this: the server state, the connection, the headers and
/// the page language (the `lang` query parameter, else the remembered choice, else
/// Accept-Language). Other query parameters are the handler's own.
impl FromRequestParts<SharedState> for PageCtx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Response> {
        let lang = LangQuery { lang: lang_parameter(parts.uri.query()) };
        let Some(conn) = parts.extensions.get::<ConnectionInfo>().cloned() else {
            // Only a router served outside `listener::serve` lacks it: a wiring fault.
            tracing::error!("a page was served without connection information");
            return Err((StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response());
        };
        let stays_here = parts.extensions.get::<super::page::SwitchStaysHere>().is_some();
        let mut ctx = PageCtx::new(state.clone(), conn, parts.headers.clone(), &lang);
        ctx.page.set_switch_address(super::page::switch_address(&parts.method, &parts.uri, stays_here));
        Ok(ctx)
    }
}

/// The `lang` parameter of a query string, if any; the rest of the query is not read here,
/// so a page's own malformed parameters are its handler's to answer.
pub(crate) fn lang_parameter(query: Option<&str>) -> Option<String> {
    crate::urlcode::form_pairs(query?).into_iter().find(|(k, _)| k == "lang").map(|(_, v)| v)
}

/// A posted page form that passed [`PageCtx::accept_form`]: readable, CSRF-checked, no
/// over-long field. Its rejection is the error page already rendered in the user's language.
pub struct Posted {
    pub ctx: PageCtx,
    pub form: FormFields,
}

impl FromRequest<SharedState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &SharedState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let ctx = PageCtx::from_request_parts(&mut parts, state).await?;
        let form = axum::extract::Form::<FormFields>::from_request(Request::from_parts(parts, body), state).await;
        let form = ctx.accept_form(form)?;
        Ok(Posted { ctx, form })
    }
}

/// A posted page form sent as `multipart/form-data` because it carries a file: the same
/// checks as [`Posted`] (readable, CSRF token, no over-long short field). Short text
/// parts land in `form`; files and text longer than [`MAX_FIELD_CHARS`] (a pasted
/// certificate request) land in `large`, as bytes, for the handler to bound and check.
/// The whole body is bounded by the route's `DefaultBodyLimit`; beyond it the answer is
/// the 413 page.
/// The text parts of an upload form that may be longer than [`MAX_FIELD_CHARS`]: a
/// certificate request pasted as PEM, a previewed CSV file carried to its confirmation.
/// Every other text part is bounded like a field.
pub const LONG_TEXT_PARTS: &[&str] = &["csr_pem", "csv"];

pub struct PostedUpload {
    pub ctx: PageCtx,
    pub form: FormFields,
    pub large: HashMap<String, Vec<u8>>,
}

impl PostedUpload {
    /// A part's bytes, short or large; `None` when absent or empty.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        let value = self.large.get(name).map(Vec::as_slice).or_else(|| self.form.get(name).map(String::as_bytes));
        value.filter(|v| !v.is_empty())
    }
}

impl FromRequest<SharedState> for PostedUpload {
    type Rejection = Response;

    async fn from_request(request: Request, state: &SharedState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let ctx = PageCtx::from_request_parts(&mut parts, state).await?;
        let Ok(mut multipart) = axum::extract::Multipart::from_request(Request::from_parts(parts, body), state).await else {
            return Err(ctx.error(StatusCode::BAD_REQUEST, "enroll.form.invalid"));
        };
        let mut form = FormFields::new();
        let mut large = HashMap::new();
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(ctx.error(StatusCode::PAYLOAD_TOO_LARGE, "error.too_large"));
                }
                Err(_) => return Err(ctx.error(StatusCode::BAD_REQUEST, "enroll.form.invalid")),
            };
            let name = field.name().unwrap_or_default().to_owned();
            let is_file = field.file_name().is_some();
            let bytes = match field.bytes().await {
                Ok(bytes) => bytes.to_vec(),
                Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(ctx.error(StatusCode::PAYLOAD_TOO_LARGE, "error.too_large"));
                }
                Err(_) => return Err(ctx.error(StatusCode::BAD_REQUEST, "enroll.form.invalid")),
            };
            match (is_file, String::from_utf8(bytes)) {
                (false, Ok(text)) if text.chars().count() <= MAX_FIELD_CHARS => {
                    form.insert(name, text);
                }
                // A short field sent long by hand is refused by name, as in `Posted`:
                // dropping it would save the form without it.
                (false, Ok(_)) if !LONG_TEXT_PARTS.contains(&name.as_str()) => {
                    return Err(ctx.too_long(&name, MAX_FIELD_CHARS).into_response());
                }
                (_, Ok(text)) => {
                    large.insert(name, text.into_bytes());
                }
                (_, Err(not_text)) => {
                    large.insert(name, not_text.into_bytes());
                }
            }
        }
        if !ctx.csrf_ok(&form) {
            return Err(ctx.error(StatusCode::FORBIDDEN, "csrf.invalid"));
        }
        Ok(PostedUpload { ctx, form, large })
    }
}

/// The fields a form's problems are about, in the form's `order`: `rules` pairs a message
/// key, or a key prefix ending in '.', with the field it names (the first match wins).
pub fn invalid_fields(keys: &[&str], rules: &[(&str, &str)], order: &[&str]) -> Vec<String> {
    let named: Vec<&str> = keys
        .iter()
        .filter_map(|key| {
            rules.iter().find(|(rule, _)| if rule.ends_with('.') { key.starts_with(rule) } else { key == rule }).map(|(_, f)| *f)
        })
        .collect();
    order.iter().filter(|f| named.contains(f)).map(|f| (*f).to_owned()).collect()
}

/// The most characters a posted field may have: the field rule's bound where a rule has
/// one (the same number the pages put in `maxlength`), else [`MAX_FIELD_CHARS`].
pub fn field_max_chars(name: &str) -> usize {
    use crate::fields::{MAX_DISPLAY_NAME_CHARS, MAX_EMAIL_CHARS, MAX_LOGIN_ID_CHARS};
    match name {
        "login_id" => MAX_LOGIN_ID_CHARS,
        "display_name" => MAX_DISPLAY_NAME_CHARS,
        "email" | "device_email" | "device_email_confirmation" => MAX_EMAIL_CHARS,
        "secret_answer" => crate::flows::secret_answer::MAX_ANSWER_CHARS,
        // A passkey ceremony's sealed state and the browser's answer (hidden fields).
        "ceremony" => 16 * 1024,
        "credential" => crate::flows::passkey::MAX_RESPONSE,
        _ => MAX_FIELD_CHARS,
    }
}

/// The first field (by name, so the answer does not hang on hash order) whose value is
/// longer than `limit(name)` characters, with that limit.
pub fn overlong_field(form: &FormFields, limit: impl Fn(&str) -> usize) -> Option<(&str, usize)> {
    let mut names: Vec<&String> = form.keys().collect();
    names.sort();
    names.into_iter().find_map(|name| {
        let max = limit(name);
        (form[name].chars().count() > max).then_some((name.as_str(), max))
    })
}

/// What a page calls the field `name`: its `form.field.*` label, a console policy knob's
/// label, the label of `email` for a numbered `email_2`; none for a name no page labels.
pub fn field_label(ui: &mamori_ui::Ui, locale: mamori_ui::Locale, name: &str) -> Option<String> {
    let known = |key: String| Some(ui.message(locale, &key)).filter(|m| m != "??");
    let base = name.split('.').next().unwrap_or(name);
    let unnumbered = base.trim_end_matches(|c: char| c.is_ascii_digit()).trim_end_matches('_');
    known(format!("form.field.{base}"))
        .or_else(|| known(format!("console.policy.knob.{base}")))
        .or_else(|| known(format!("form.field.{unnumbered}")))
}

/// A form field, or "" when absent.
pub fn field<'a>(form: &'a FormFields, name: &str) -> &'a str {
    form.get(name).map_or("", String::as_str)
}

fn is_unavailable(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        matches!(e.downcast_ref::<mamori_storage::StorageError>(), Some(mamori_storage::StorageError::Unavailable))
            || matches!(
                e.downcast_ref::<mamori_storage::model::RedeemError>(),
                Some(mamori_storage::model::RedeemError::Storage(mamori_storage::StorageError::Unavailable))
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_outage_is_recognised_through_context() {
        let err = anyhow::Error::from(mamori_storage::StorageError::Unavailable).context("loading the ticket");
        assert!(is_unavailable(&err));
        let err = anyhow::Error::from(mamori_storage::model::RedeemError::Storage(mamori_storage::StorageError::Unavailable));
        assert!(is_unavailable(&err));
        assert!(!is_unavailable(&anyhow::anyhow!("something else")));
        assert!(!is_unavailable(&anyhow::Error::from(mamori_storage::StorageError::NotFound)));
    }

    #[test]
    fn the_overlong_field_is_named_with_its_label() {
        let mut form = FormFields::new();
        form.insert("password".into(), "x".repeat(MAX_FIELD_CHARS));
        form.insert("login_id".into(), "x".repeat(MAX_FIELD_CHARS + 1));
        form.insert("zeta".into(), "x".repeat(MAX_FIELD_CHARS + 1));
        assert_eq!(overlong_field(&form, |_| MAX_FIELD_CHARS), Some(("login_id", MAX_FIELD_CHARS)));
        assert_eq!(overlong_field(&form, |n| if n == "password" { 10 } else { 1000 }), Some(("password", 10)));
        form.clear();
        form.insert("login_id".into(), "x".repeat(MAX_FIELD_CHARS));
        assert_eq!(overlong_field(&form, |_| MAX_FIELD_CHARS), None, "at the limit is fine");
        // The pages' maxlength is the field rule's bound, and the server holds to it.
        assert_eq!(field_max_chars("login_id"), crate::fields::MAX_LOGIN_ID_CHARS);
        assert_eq!(field_max_chars("device_email"), 254);
        assert_eq!(field_max_chars("display_name"), 200);
        assert_eq!(field_max_chars("secret_answer"), 100);
        assert_eq!(field_max_chars("new_password"), MAX_FIELD_CHARS);
        let ui = mamori_ui::Ui::new();
        assert_eq!(field_label(&ui, mamori_ui::Locale::Ja, "login_id").as_deref(), Some("ユーザID"));
        assert_eq!(field_label(&ui, mamori_ui::Locale::En, "login_id").as_deref(), Some("User ID"));
        assert_eq!(field_label(&ui, mamori_ui::Locale::En, "email_2").as_deref(), Some("E-mail address"));
        assert_eq!(field_label(&ui, mamori_ui::Locale::En, "no_such_field"), None);
        assert_eq!(field_label(&ui, mamori_ui::Locale::En, "csrf_token"), None);
    }

    #[test]
    fn missing_fields_read_as_empty() {
        let mut form = FormFields::new();
        form.insert("a".into(), "x".into());
        assert_eq!(field(&form, "a"), "x");
        assert_eq!(field(&form, "b"), "");
    }
}
