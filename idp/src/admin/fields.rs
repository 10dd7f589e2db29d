//! The checks of a user's identifying fields, one function per field, called by every
//! surface that writes them (API, console, CSV import, CLI): what one surface refuses no
//! other may store.

use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory as _};

use super::AdminError;

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

/// A user ID: 1 to 64 characters, no space of any kind, no [`is_invisible`] character,
/// none of `/ ? # % \` (it appears in URLs), and the user-ID profile of
/// [`super::profile`] (PRECIS UsernameCasePreserved-like, TR 39 "Highly Restrictive").
pub fn check_login_id(login_id: &str) -> Result<(), AdminError> {
    const RULE: &str = "login_id: 1 to 64 characters without spaces, control, invisible or bidirectional characters, or / ? # % \\";
    let ok = !login_id.is_empty()
        && login_id.chars().count() <= 64
        && !login_id.chars().any(|c| is_invisible(c) || c.is_whitespace() || "/?#%\\".contains(c));
    if !ok {
        return Err(AdminError::Invalid(RULE.to_owned()));
    }
    match super::profile::login_id_fault(login_id) {
        None => Ok(()),
        Some(fault) => Err(AdminError::Invalid(format!(
            "login_id: {fault} (user IDs are NFC, without compatibility, invisible or look-alike characters, in one script or Japanese, Chinese or Korean with Latin)"
        ))),
    }
}

/// A display name: 1 to 200 characters, not only blanks, no [`is_invisible`] character,
/// of the spaces only U+0020 and the ideographic space U+3000 (Japanese names use it;
/// the other spaces, no-break, en, em, thin, …, only make look-alikes), and the
/// display-name profile of [`super::profile`] (TR 39 "Moderately Restrictive").
pub fn check_display_name(name: &str) -> Result<(), AdminError> {
    let odd_space = |c: char| c.general_category() == G::SpaceSeparator && c != ' ' && c != '\u{3000}';
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(|c| is_invisible(c) || odd_space(c)) {
        return Err(AdminError::Invalid("display_name: 1 to 200 characters, no control, invisible or bidirectional characters".to_owned()));
    }
    match super::profile::display_name_fault(name) {
        None => Ok(()),
        Some(fault) => Err(AdminError::Invalid(format!(
            "display_name: {fault} (names are NFC, without invisible, fullwidth or look-alike characters, in scripts used together)"
        ))),
    }
}

/// A device's e-mail address, by the mailer's own rule ([`crate::mail::address::parse`]).
pub fn check_email(email: &str) -> Result<(), AdminError> {
    crate::mail::address::parse(email)
        .map(|_| ())
        .map_err(|_| AdminError::Invalid(format!("email: {email:?} is not an e-mail address Mamori can send mail to")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_ids_and_names_pass() {
        for id in ["p-01-usr012", "taro.yamada", "山田太郎", "user_1@acme"] {
            assert!(check_login_id(id).is_ok(), "{id}");
        }
        for name in ["Taro Yamada", "山田\u{3000}太郎", "O'Brien-Smith", "Zoë", "❤ fan"] {
            assert!(check_display_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused_in_both_fields() {
        let hidden = [
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
        for c in hidden {
            assert!(check_login_id(&format!("admin{c}")).is_err(), "login ID with U+{:04X}", c as u32);
            assert!(check_display_name(&format!("Taro{c} Yamada")).is_err(), "display name with U+{:04X}", c as u32);
        }
    }

    #[test]
    fn look_alike_spaces_are_refused() {
        for c in ['\u{A0}', '\u{2002}', '\u{2009}', '\u{202F}', '\u{205F}'] {
            assert!(check_display_name(&format!("Taro{c}Yamada")).is_err(), "U+{:04X}", c as u32);
        }
        assert!(check_login_id("a b").is_err());
        assert!(check_login_id("a\u{3000}b").is_err());
        assert!(check_display_name(" \u{3000} ").is_err(), "blank");
    }

    #[test]
    fn login_id_keeps_its_url_and_length_rules() {
        for bad in ["", "a/b", "a?b", "a#b", "a%b", "a\\b"] {
            assert!(check_login_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_login_id(&"a".repeat(64)).is_ok());
        assert!(check_login_id(&"a".repeat(65)).is_err());
        assert!(check_display_name(&"名".repeat(200)).is_ok());
        assert!(check_display_name(&"名".repeat(201)).is_err());
    }

    #[test]
    fn email_is_the_mailers_rule() {
        assert!(check_email("taro@example.jp").is_ok());
        let refused = check_email("a\"b<c>@acme.test");
        assert!(matches!(refused, Err(AdminError::Invalid(_))), "{refused:?}");
    }
}
