//! Mamori's user interface: minijinja templates, the ja/en message catalogs and the
//! CSS, all embedded in the binary so a deployment has no asset files to lose.
#![forbid(unsafe_code)]

mod catalog;
mod locale;

use std::sync::Arc;

use minijinja::{Environment, State, Value};

pub use catalog::Catalogs;
pub use locale::{Locale, negotiate_locale};

/// The stylesheet, served by the server under [`STYLESHEET_PATH`].
pub const STYLESHEET: &str = include_str!("../assets/mamori.css");
pub const STYLESHEET_PATH: &str = "/assets/mamori.css";
/// The passkey pages' script (the only script of the pages), under [`PASSKEY_SCRIPT_PATH`].
pub const PASSKEY_SCRIPT: &str = include_str!("../assets/passkey.js");
pub const PASSKEY_SCRIPT_PATH: &str = "/assets/passkey.js";

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}
pub(crate) use embedded::MESSAGES;
use embedded::TEMPLATES;

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("template {name} failed to render: {source}")]
    Render {
        name: String,
        #[source]
        source: minijinja::Error,
    },
}

/// The template environment with the message catalogs installed as the `t()` function.
#[derive(Clone)]
pub struct Ui {
    env: Arc<Environment<'static>>,
    catalogs: Arc<Catalogs>,
}

impl Ui {
    pub fn new() -> Self {
        let catalogs = Arc::new(Catalogs::embedded());
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // The templates are ours and compiled in: a syntax error is caught by the
            // crate's tests, so a failure here can only be a build that skipped them.
            if let Err(err) = env.add_template(name, source) {
                panic!("embedded template {name} does not parse: {err}");
            }
        }
        let lookup = Arc::clone(&catalogs);
        // `t("key")` looks the key up in the catalog of the page's `locale` variable.
        env.add_function("t", move |state: &State, key: &str| -> String {
            let locale = state.lookup("locale").and_then(|v| v.as_str().and_then(Locale::from_tag)).unwrap_or_default();
            lookup.message(locale, key).to_owned()
        });
        let lookup = Arc::clone(&catalogs);
        // `tn("key", n)`: a counted message ([`Catalogs::counted`]).
        env.add_function("tn", move |state: &State, key: &str, n: u64| -> String {
            let locale = state.lookup("locale").and_then(|v| v.as_str().and_then(Locale::from_tag)).unwrap_or_default();
            lookup.counted(locale, key, n)
        });
        Self { env: Arc::new(env), catalogs }
    }

    /// One message from the catalog, for text built outside templates (mail subjects,
    /// JSON errors).
    pub fn message(&self, locale: Locale, key: &str) -> String {
        self.catalogs.message(locale, key).to_owned()
    }

    /// A message counting `n`, singular where the language has one ("1 more wrong
    /// attempt"), with `{n}` filled in.
    pub fn counted(&self, locale: Locale, key: &str, n: u64) -> String {
        self.catalogs.counted(locale, key, n)
    }

    /// Renders `name` for `locale`. `context` is any serialisable value whose fields the
    /// template reads; `locale` and `stylesheet` are added here for every page.
    pub fn render(&self, name: &str, locale: Locale, context: impl serde::Serialize) -> Result<String, UiError> {
        let render_err = |source| UiError::Render { name: name.to_owned(), source };
        let template = self.env.get_template(name).map_err(render_err)?;
        let ctx = minijinja::context! {
            locale => locale.tag(),
            other_locale => locale.other().tag(),
            other_locale_name => locale.other().native_name(),
            stylesheet => STYLESHEET_PATH,
            ..Value::from(minijinja::value::Serde(&context))
        };
        template.render(ctx).map_err(render_err)
    }
}

impl Default for Ui {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_in_both_languages() {
        let ui = Ui::new();
        let ctx = minijinja::context! { title => "t", message => "m", status => 404 };
        // Pages only: layouts and mail bodies are checked through the pages and mails that use them.
        for (name, _) in TEMPLATES.iter().filter(|(n, _)| *n != "base.html" && !n.starts_with("mail/") && !n.starts_with("_")) {
            for locale in [Locale::Ja, Locale::En] {
                let html = ui.render(name, locale, &ctx).expect("renders");
                assert!(html.contains(&format!("lang=\"{}\"", locale.tag())), "{name} {locale:?}");
                assert!(html.contains("?lang="), "{name} has no language switch");
                assert!(!html.contains("??"), "{name} {locale:?} has a missing message: {html}");
            }
        }
    }

    #[test]
    fn values_are_html_escaped() {
        let ui = Ui::new();
        let html = ui.render("error.html", Locale::En, minijinja::context! { message => "<script>x</script>" }).expect("renders");
        assert!(!html.contains("<script>x"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
