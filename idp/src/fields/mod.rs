//! The values every surface takes from people and other programs (admin API, CLI,
//! console, CSV import, dynamic registration, login forms), each with one parser: what
//! one surface refuses no other may store or look up. No HTTP, no storage here.
//!
//! A refusal is a [`FieldError`]: the field, a message key of the UI catalogue (which the
//! console shows in the operator's language; `ui/messages/*/fields.json` and
//! `oidc.json`) and an English detail for the API, the CLI and the logs.

pub mod branding;
mod profile;
pub mod redirect_uri;
pub mod site_rules;

use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory as _};

pub use branding::{AccentColour, Logo};
pub use redirect_uri::RedirectUri;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct FieldError {
    /// The field, as the admin API and the registration metadata spell it.
    pub field: &'static str,
    /// A key of the UI's message catalogue saying why, in both languages.
    pub key: &'static str,
    /// English, starting with the field name (`slug: …`): what the API's problem detail,
    /// the CLI and the logs say.
    pub detail: String,
}

impl FieldError {
    fn new(field: &'static str, key: &'static str, detail: impl Into<String>) -> Self {
        FieldError { field, key, detail: detail.into() }
    }
}

pub const KEY_TENANT_SLUG: &str = "field.tenant_slug.invalid";
pub const KEY_LOGIN_ID: &str = "field.login_id.invalid";
pub const KEY_LOGIN_ID_PROFILE: &str = "field.login_id.profile";
pub const KEY_DISPLAY_NAME: &str = "field.display_name.invalid";
pub const KEY_DISPLAY_NAME_PROFILE: &str = "field.display_name.profile";
pub const KEY_EMAIL: &str = "field.email.invalid";
pub const KEY_CLIENT_NAME: &str = "field.client_name.invalid";
pub const KEY_CLIENT_NAME_PROFILE: &str = "field.client_name.profile";

/// Every message key a [`FieldError`] can carry (a test checks each is in both catalogues).
pub const KEYS: [&str; 21] = [
    KEY_TENANT_SLUG,
    KEY_LOGIN_ID,
    KEY_LOGIN_ID_PROFILE,
    KEY_DISPLAY_NAME,
    KEY_DISPLAY_NAME_PROFILE,
    KEY_EMAIL,
    KEY_CLIENT_NAME,
    KEY_CLIENT_NAME_PROFILE,
    redirect_uri::KEY_NOT_A_URL,
    redirect_uri::KEY_NOT_CANONICAL,
    redirect_uri::KEY_USERINFO,
    redirect_uri::KEY_FRAGMENT,
    redirect_uri::KEY_NOT_HTTPS,
    redirect_uri::KEY_FETCH_NOT_HTTPS,
    redirect_uri::KEY_HOST,
    redirect_uri::KEY_PORT,
    branding::KEY_ACCENT_COLOUR,
    branding::KEY_ACCENT_CONTRAST,
    branding::KEY_LOGO_NOT_PNG,
    branding::KEY_LOGO_SVG,
    branding::KEY_LOGO_TOO_LARGE,
];

/// Characters that render as nothing, or change how the text around them renders, so
/// that two names that look the same on a screen or in an audit line differ, or one
/// that looks harmless reads otherwise (a "Trojan Source" reordering):
///
/// - `Cc` control characters (C0, DEL, C1);
/// - `Cf` format characters, among them U+00AD soft hyphen, U+061C arabic letter mark,
///   U+180E, U+200B–U+200F (zero-width space, non-joiner, joiner, LRM, RLM),
///   U+202A–U+202E (bidirectional embeddings and overrides), U+2060–U+2064,
///   U+2066–U+2069 (bidirectional isolates), U+FEFF (zero-width no-break space / BOM),
///   U+FFF9–U+FFFB and the tag characters U+E0001, U+E0020–U+E007F;
/// - `Zl` U+2028 and `Zp` U+2029 (line and paragraph separators);
/// - `Co` private use, `Cs` surrogates and `Cn` unassigned code points (which render as
///   nothing or as whatever a font decides);
/// - letters and symbols that are blank by design: U+034F combining grapheme joiner,
///   U+115F, U+1160, U+3164, U+FFA0 (Hangul fillers), U+2800 (braille blank).
pub fn is_invisible(c: char) -> bool {
    matches!(
        c.general_category(),
        G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator | G::PrivateUse | G::Surrogate | G::Unassigned
    ) || matches!(c, '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}')
}

/// The accessors every validated text has: the text as given (never rewritten).
macro_rules! text_type {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}
pub(crate) use text_type;

/// A tenant's slug, as URLs carry it (`/t/{slug}/…`): 1 to 63 lower-case ASCII letters,
/// digits and hyphens, not starting with a hyphen (a DNS label's shape, so it may also
/// name a host). Creating a tenant and looking one up by a slug from a URL or a form use
/// the same rule: a text that does not parse names no tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantSlug(String);
text_type!(TenantSlug);

impl TenantSlug {
    pub fn parse(slug: &str) -> Result<Self, FieldError> {
        // A DNS label's letter-digit-hyphen rule, and no `--` anywhere: that is where IDNA
        // puts its `xn--` prefix, so a slug cannot pose as the encoding of a look-alike.
        let ok = !slug.is_empty()
            && slug.len() <= 63
            && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !slug.starts_with('-')
            && !slug.ends_with('-')
            && !slug.contains("--");
        if ok {
            Ok(TenantSlug(slug.to_owned()))
        } else {
            Err(FieldError::new(
                "slug",
                KEY_TENANT_SLUG,
                "slug: 1 to 63 lower-case letters, digits or hyphens, a hyphen only between two letters or digits",
            ))
        }
    }
}

/// A user ID: 1 to 64 characters, no space of any kind, no [`is_invisible`] character,
/// none of `/ ? # % \` (it appears in URLs), and the user-ID profile of [`profile`]
/// (PRECIS UsernameCasePreserved-like, TR 39 "Highly Restrictive").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoginId(String);
text_type!(LoginId);

impl LoginId {
    /// Whether two user IDs name the same user: IDs that differ only in case are one
    /// (the tenant's unique key is the lower-cased ID, `login_id_key`), so `Alice` for
    /// `alice` is no rename. The stored ID keeps the case it was created with.
    pub fn same_user(a: &str, b: &str) -> bool {
        mamori_storage::model::login_id_key(a) == mamori_storage::model::login_id_key(b)
    }

    pub fn parse(login_id: &str) -> Result<Self, FieldError> {
        const RULE: &str = "login_id: 1 to 64 characters without spaces, control, invisible or bidirectional characters, or / ? # % \\";
        let ok = !login_id.is_empty()
            && login_id.chars().count() <= MAX_LOGIN_ID_CHARS
            && !login_id.chars().any(|c| is_invisible(c) || c.is_whitespace() || "/?#%\\".contains(c));
        if !ok {
            return Err(FieldError::new("login_id", KEY_LOGIN_ID, RULE));
        }
        match profile::login_id_fault(login_id) {
            None => Ok(LoginId(login_id.to_owned())),
            Some(fault) => Err(FieldError::new(
                "login_id",
                KEY_LOGIN_ID_PROFILE,
                format!(
                    "login_id: {fault} (user IDs are NFC, without compatibility, invisible or look-alike characters, in one script or Japanese, Chinese or Korean with Latin)"
                ),
            )),
        }
    }
}

/// A person's or a tenant's display name: 1 to 200 characters, not only blanks, no
/// [`is_invisible`] character, of the spaces only U+0020 and the ideographic space U+3000
/// (Japanese names use it; the other spaces, no-break, en, em, thin, …, only make
/// look-alikes), and the display-name profile of [`profile`] (TR 39 "Moderately
/// Restrictive"). A tenant's name is shown to its users and written into certificate
/// names, so it hides no reordering or invisible character either.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);
text_type!(DisplayName);

impl DisplayName {
    pub fn parse(name: &str) -> Result<Self, FieldError> {
        let odd_space = |c: char| c.general_category() == G::SpaceSeparator && c != ' ' && c != '\u{3000}';
        if name.trim().is_empty() || name.chars().count() > MAX_DISPLAY_NAME_CHARS || name.chars().any(|c| is_invisible(c) || odd_space(c))
        {
            return Err(FieldError::new(
                "display_name",
                KEY_DISPLAY_NAME,
                "display_name: 1 to 200 characters, no control, invisible or bidirectional characters",
            ));
        }
        match profile::display_name_fault(name) {
            None => Ok(DisplayName(name.to_owned())),
            Some(fault) => Err(FieldError::new(
                "display_name",
                KEY_DISPLAY_NAME_PROFILE,
                format!(
                    "display_name: {fault} (names are NFC, without invisible, fullwidth or look-alike characters, in scripts used together)"
                ),
            )),
        }
    }
}

/// A device's e-mail address, by the mailer's own rule ([`crate::mail::address::parse`]):
/// what is stored is what mail can be sent to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);
text_type!(Email);

impl Email {
    pub fn parse(email: &str) -> Result<Self, FieldError> {
        crate::mail::address::parse(email)
            .map(|_| Email(email.to_owned()))
            .map_err(|_| FieldError::new("email", KEY_EMAIL, format!("email: {email:?} is not an e-mail address Mamori can send mail to")))
    }
}

/// The most characters of a user ID (the login forms' `maxlength`).
pub const MAX_LOGIN_ID_CHARS: usize = 64;

/// The most characters of a display name (the forms' `maxlength`).
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// The most characters of an e-mail address in a form (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// The most characters of a client's name.
pub const MAX_CLIENT_NAME_CHARS: usize = 200;

/// The name of a relying site (an OIDC client), which users read on the consent page:
/// 1 to 200 characters, not only blanks, no [`is_invisible`] character (no control,
/// zero-width or bidirectional character could make it read as another site's). The
/// same for the admin API and CLI (`name`), the console and dynamic registration
/// (`client_name`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientName(String);
text_type!(ClientName);

impl ClientName {
    pub fn parse(name: &str) -> Result<Self, FieldError> {
        if name.trim().is_empty() || name.chars().count() > MAX_CLIENT_NAME_CHARS || name.chars().any(is_invisible) {
            return Err(FieldError::new(
                "name",
                KEY_CLIENT_NAME,
                format!(
                    "name: the name users see on the consent page, 1 to {MAX_CLIENT_NAME_CHARS} characters, no control, invisible or bidirectional characters"
                ),
            ));
        }
        // Users read the name on the consent and login pages ("Log in to Shop"): the
        // display names' profile keeps `Ｓhop` and a Cyrillic-in-Latin `Ѕhop` off them.
        match profile::display_name_fault(name) {
            None => Ok(ClientName(name.to_owned())),
            Some(fault) => Err(FieldError::new(
                "name",
                KEY_CLIENT_NAME_PROFILE,
                format!("name: {fault} (names are NFC, without invisible, fullwidth or look-alike characters, in scripts used together)"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Characters no name may hide: controls, zero-width and bidirectional controls,
    /// blank letters, private use, tags, unassigned.
    const HIDDEN: [char; 36] = [
        '\u{0}',
        '\u{7}',
        '\u{1B}',
        '\u{7F}',
        '\u{85}',
        '\u{AD}',
        '\u{34F}',
        '\u{61C}',
        '\u{115F}',
        '\u{180E}',
        '\u{200B}',
        '\u{200C}',
        '\u{200D}',
        '\u{200E}',
        '\u{200F}',
        '\u{2028}',
        '\u{2029}',
        '\u{202A}',
        '\u{202B}',
        '\u{202C}',
        '\u{202D}',
        '\u{202E}',
        '\u{2060}',
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        '\u{2800}',
        '\u{3164}',
        '\u{E000}',
        '\u{FEFF}',
        '\u{FFA0}',
        '\u{FFF9}',
        '\u{E0001}',
        '\u{E0041}',
        '\u{10FFFF}',
    ];

    fn key<T>(parsed: Result<T, FieldError>) -> Option<(&'static str, &'static str)> {
        parsed.err().map(|e| (e.field, e.key))
    }

    #[test]
    fn tenant_slugs_are_dns_label_shaped() {
        for slug in ["demo", "acme", "acme-2", "t", "0", "1acme", "a1-b2-c3", &"a".repeat(63)] {
            assert_eq!(TenantSlug::parse(slug).map(|s| s.into_string()), Ok(slug.to_owned()));
        }
        let refused = [
            "",
            "Acme",
            "ACME",
            "-acme",
            "acme_x",
            "ac/me",
            "ac.me",
            "a b",
            "acme\n",
            " acme",
            "acme%2f",
            "..",
            "ａｃｍｅ",
            "асme", // Cyrillic а and с
            "acme\u{200B}",
            "\u{202E}emca",
            "ac\u{AD}me",
            "acmé",
            "acme\u{0}",
            "acme-",
            "acme--x",
            "xn--80ak6aa92e",
            "-",
        ];
        for slug in refused.iter().copied().chain([&*"a".repeat(64)]) {
            assert_eq!(key(TenantSlug::parse(slug)), Some(("slug", KEY_TENANT_SLUG)), "{slug:?}");
        }
        let refusal = TenantSlug::parse("Acme").err().map(|e| e.detail).unwrap_or_default();
        assert!(refusal.starts_with("slug: "), "{refusal}");
    }

    #[test]
    fn ordinary_ids_and_names_pass() {
        for id in ["p-01-usr012", "taro.yamada", "山田太郎", "user_1@acme", "O'Brien", &"a".repeat(64)] {
            assert_eq!(LoginId::parse(id).map(|l| l.into_string()), Ok(id.to_owned()));
        }
        for name in ["Taro Yamada", "山田\u{3000}太郎", "O'Brien-Smith", "Zoë", "❤ fan", "Acme 株式会社", &"名".repeat(200)] {
            assert_eq!(DisplayName::parse(name).map(|n| n.into_string()), Ok(name.to_owned()));
        }
        for name in ["Shop", "山田商店のサイト", "Zoë's shop (staging)", "❤ fan club", &"名".repeat(200)] {
            assert_eq!(ClientName::parse(name).map(|n| n.to_string()), Ok(name.to_owned()));
        }
    }

    #[test]
    fn ids_differing_only_in_case_are_the_same_user() {
        assert!(LoginId::same_user("alice", "Alice"));
        assert!(LoginId::same_user("ÉMILE", "émile"), "full Unicode case mapping");
        assert!(!LoginId::same_user("alice", "alice2"), "a rename is not");
        assert!(!LoginId::same_user("alice", "a1ice"), "nor a look-alike");
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused_in_every_name() {
        for c in HIDDEN {
            let u = c as u32;
            assert_eq!(key(LoginId::parse(&format!("admin{c}"))).map(|k| k.0), Some("login_id"), "login ID with U+{u:04X}");
            assert_eq!(key(DisplayName::parse(&format!("Taro{c} Yamada"))).map(|k| k.0), Some("display_name"), "U+{u:04X}");
            assert_eq!(key(ClientName::parse(&format!("Shop{c}"))), Some(("name", KEY_CLIENT_NAME)), "client name with U+{u:04X}");
        }
        // The "Trojan Source" reordering: reads `Acme` on a right-to-left override.
        assert!(ClientName::parse("\u{202E}emcA").is_err());
        assert!(DisplayName::parse("\u{202E}emcA").is_err());
    }

    #[test]
    fn look_alikes_are_refused_in_ids_and_display_names() {
        for c in ['\u{A0}', '\u{2002}', '\u{2009}', '\u{202F}', '\u{205F}'] {
            assert_eq!(key(DisplayName::parse(&format!("Taro{c}Yamada"))), Some(("display_name", KEY_DISPLAY_NAME)), "U+{:04X}", c as u32);
        }
        assert!(LoginId::parse("a b").is_err());
        assert!(LoginId::parse("a\u{3000}b").is_err());
        assert!(DisplayName::parse(" \u{3000} ").is_err(), "blank");
        // Fullwidth, mixed-script and decomposed look-alikes: the profile's own key.
        for id in ["ｒoot", "pаypal", "n\u{301}"] {
            assert_eq!(key(LoginId::parse(id)), Some(("login_id", KEY_LOGIN_ID_PROFILE)), "{id}");
        }
        assert_eq!(key(DisplayName::parse("Ｔaro")), Some(("display_name", KEY_DISPLAY_NAME_PROFILE)));
        // Client names (the consent page's "Log in to …") by the same profile: fullwidth,
        // Cyrillic Ѕ inside Latin, Greek ο inside Latin, decomposed accents.
        for name in ["Ｓhop", "\u{405}hop", "G\u{3bf}\u{3bf}gle", "Caf\u{65}\u{301}"] {
            assert_eq!(key(ClientName::parse(name)), Some(("name", KEY_CLIENT_NAME_PROFILE)), "{name}");
        }
        for name in ["Shop", "Café", "Магазин", "山田商店 Shop", "ショップ2号店"] {
            assert!(ClientName::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn lengths_and_url_characters() {
        for bad in ["", "a/b", "a?b", "a#b", "a%b", "a\\b"] {
            assert_eq!(key(LoginId::parse(bad)), Some(("login_id", KEY_LOGIN_ID)), "{bad:?}");
        }
        assert!(LoginId::parse(&"a".repeat(65)).is_err());
        assert!(DisplayName::parse(&"名".repeat(201)).is_err());
        assert!(ClientName::parse(&"名".repeat(201)).is_err());
        for blank in ["", " ", "\u{3000}", "\t"] {
            assert_eq!(key(ClientName::parse(blank)), Some(("name", KEY_CLIENT_NAME)), "{blank:?}");
        }
    }

    #[test]
    fn email_is_the_mailers_rule() {
        assert_eq!(Email::parse("taro@example.jp").map(|e| e.into_string()), Ok("taro@example.jp".to_owned()));
        for bad in [
            "a\"b<c>@acme.test",
            "taro",
            "taro@localhost",
            "taro@example.jp\r\nBcc: x@evil.example",
            "ｔaro@example.jp",
            "taro\u{200B}@example.jp",
            "",
        ] {
            assert_eq!(key(Email::parse(bad)), Some(("email", KEY_EMAIL)), "{bad:?}");
        }
    }

    #[test]
    fn every_detail_starts_with_its_field() {
        let refusals = [
            TenantSlug::parse("-").err(),
            LoginId::parse("a b").err(),
            LoginId::parse("ｒoot").err(),
            DisplayName::parse("").err(),
            DisplayName::parse("Ｔaro").err(),
            Email::parse("x").err(),
            ClientName::parse("").err(),
            RedirectUri::parse(redirect_uri::REDIRECT_URIS, "http://localhost:@evil.example/cb").err(),
        ];
        for refusal in refusals {
            let refusal = refusal.expect("refused");
            assert!(refusal.detail.starts_with(&format!("{}: ", refusal.field)), "{refusal:?}");
            assert!(KEYS.contains(&refusal.key), "{refusal:?}");
            assert_eq!(refusal.to_string(), refusal.detail);
        }
    }

    /// The console shows the key's text: each is in both catalogues.
    #[test]
    fn every_key_is_in_both_catalogues() {
        let ui = mamori_ui::Ui::new();
        for locale in [mamori_ui::Locale::Ja, mamori_ui::Locale::En] {
            for key in KEYS {
                let text = ui.message(locale, key);
                assert!(text != key && !text.starts_with("??"), "{key} missing in {locale:?}");
            }
        }
    }
}
