//! The text profile of user IDs and display names, after PRECIS (RFC 8264/8265) and
//! Unicode TR 39, so that two names that look alike on a screen or in an audit line are
//! not two different accounts:
//!
//! - both: Unicode NFC as typed (a decomposed `ń` beside the precomposed one is refused,
//!   not silently folded); no fullwidth or halfwidth form (`ｒoot`, `／`: what PRECIS's
//!   width mapping would change); no Default_Ignorable_Code_Point (variation selectors,
//!   U+17B4, zero-width and bidirectional controls, tag characters); no look-alike of `/`
//!   or `\` (U+2215, U+29F8, …, by TR 39's confusables); letters of one script, or of
//!   scripts TR 39 allows together (its restriction levels);
//! - user IDs, like RFC 8265's UsernameCasePreserved: unchanged by NFKC (no compatibility
//!   character at all), every non-ASCII character allowed in identifiers by TR 39's
//!   General Security Profile, and scripts at most "Highly Restrictive" (one script, or
//!   Latin with Han and Hiragana/Katakana, Han with Bopomofo, or Hangul). Uniqueness
//!   within a tenant ignores case (the store keeps a lower-cased key with a unique index);
//! - display names, like RFC 8266's Nickname but refusing rather than mapping: scripts at
//!   most "Moderately Restrictive" (also Latin with one other recommended script other
//!   than Cyrillic or Greek); a name in a single script of any status passes.

use unicode_normalization::{is_nfc, is_nfkc};
use unicode_security::confusable_detection::skeleton;
use unicode_security::mixed_script::AugmentedScriptSet;
use unicode_security::{GeneralSecurityProfile as _, RestrictionLevel, RestrictionLevelDetection as _};

/// Default_Ignorable_Code_Point (Unicode DerivedCoreProperties.txt): code points that
/// render as nothing when a font lacks them.
const DEFAULT_IGNORABLE: [(char, char); 17] = [
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFF8}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

/// Whether `c` is a Default_Ignorable_Code_Point.
pub fn is_default_ignorable(c: char) -> bool {
    DEFAULT_IGNORABLE.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// The Halfwidth and Fullwidth Forms block: each has a `<wide>` or `<narrow>`
/// decomposition, i.e. PRECIS's width mapping would change it.
fn is_width_form(c: char) -> bool {
    ('\u{FF01}'..='\u{FFEE}').contains(&c)
}

/// A non-ASCII character that TR 39 says is confusable with `/` or `\`: in a user ID it
/// would read as a path, in a display name as "tenant / user".
fn is_slash_look_alike(c: char) -> bool {
    !c.is_ascii() && skeleton(c.encode_utf8(&mut [0; 4])).any(|s| s == '/' || s == '\\')
}

/// The characters that belong to a script (not Common or Inherited: digits, punctuation,
/// symbols and combining marks go with any script).
fn scripted(text: &str) -> String {
    text.chars().filter(|&c| !AugmentedScriptSet::for_char(c).is_all()).collect()
}

/// Why a text fails the rules both fields share, if it does.
fn common_fault(text: &str) -> Option<&'static str> {
    if !is_nfc(text) {
        return Some("not in Unicode normalization form C");
    }
    if text.chars().any(is_width_form) {
        return Some("a fullwidth or halfwidth form");
    }
    if text.chars().any(is_default_ignorable) {
        return Some("an invisible (default-ignorable) character");
    }
    if text.chars().any(is_slash_look_alike) {
        return Some("a look-alike of / or \\");
    }
    None
}

/// What in a user ID breaks its profile (see the module notes), if anything.
pub fn login_id_fault(login_id: &str) -> Option<&'static str> {
    if let Some(fault) = common_fault(login_id) {
        return Some(fault);
    }
    if !is_nfkc(login_id) {
        return Some("a compatibility character");
    }
    if login_id.chars().any(|c| !c.is_ascii() && !c.identifier_allowed()) {
        return Some("a character not allowed in identifiers");
    }
    let letters = scripted(login_id);
    if !AugmentedScriptSet::for_str(&letters).is_empty() || letters.detect_restriction_level() <= RestrictionLevel::HighlyRestrictive {
        None
    } else {
        Some("letters of scripts that are not used together")
    }
}

/// What in a display name breaks its profile (see the module notes), if anything.
pub fn display_name_fault(name: &str) -> Option<&'static str> {
    if let Some(fault) = common_fault(name) {
        return Some(fault);
    }
    let letters = scripted(name);
    if !AugmentedScriptSet::for_str(&letters).is_empty() || letters.detect_restriction_level() <= RestrictionLevel::ModeratelyRestrictive {
        None
    } else {
        Some("letters of scripts that are not used together")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honest_ids_pass() {
        for id in [
            "root-admin",
            "taro.yamada",
            "user_1@acme",
            "山田太郎",
            "やまだ",
            "ヤマダ-01",
            "山田たろう",
            "zoë",
            "müller",
            "иван",
            "κώστας",
            "김철수",
            "O'Brien",
        ] {
            assert_eq!(login_id_fault(id), None, "{id}");
        }
    }

    #[test]
    fn look_alike_ids_are_refused() {
        let decomposed = "root-admin\u{301}";
        for id in [
            "r\u{43e}\u{43e}t-admin", // Cyrillic о
            "\u{ff52}oot-admin",      // fullwidth ｒ
            decomposed,
            "root\u{fe0f}-admin",
            "root\u{17b4}admin",
            "root\u{ff0f}admin",
            "root\u{2215}admin",
            "root\u{29f8}admin",
            "root\u{2044}admin",
            "ｒｏｏｔ",
            "ﬁle",           // the ligature: NFKC changes it
            "admin\u{b2}",   // superscript two
            "pay\u{440}al",  // Cyrillic р
            "\u{3b1}dmin",   // Greek α
            "admin\u{2764}", // a symbol is no identifier character
            "root\u{e0041}",
        ] {
            assert!(login_id_fault(id).is_some(), "{id:?}");
        }
        assert_eq!(login_id_fault("root-admi\u{144}"), None, "precomposed ń");
    }

    #[test]
    fn japanese_and_other_honest_display_names_pass() {
        for name in [
            "山田 太郎",
            "山田\u{3000}太郎",
            "やまだ タロウ",
            "Taro 山田",
            "Zoë O'Brien-Smith",
            "❤ fan",
            "Иван Петров",
            "Γιώργος",
            "José 김",
            "Sales / Tokyo",
            "ᏣᎳᎩ",
        ] {
            assert_eq!(display_name_fault(name), None, "{name}");
        }
    }

    #[test]
    fn look_alike_display_names_are_refused() {
        for name in [
            "R\u{43e}\u{43e}t Admin",
            "\u{ff32}oot",
            "Zoe\u{308}",
            "\u{2764}\u{fe0f} fan",
            "Taro\u{17b4}",
            "Sales \u{2215} Tokyo",
            "Sales \u{29f8} Tokyo",
            "Sales \u{ff0f} Tokyo",
            "\u{ff80}\u{ff9b}\u{ff73}", // halfwidth katakana
            "Paypal \u{3b1}",
        ] {
            assert!(display_name_fault(name).is_some(), "{name:?}");
        }
    }
}
