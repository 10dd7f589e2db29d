//! Message catalogs: flat JSON objects under messages/<locale>/, one file per area of the
//! UI; keys are unique across files and both languages have the same keys.

use std::collections::HashMap;

use crate::{Locale, MESSAGES};

pub struct Catalogs {
    ja: HashMap<String, String>,
    en: HashMap<String, String>,
}

/// Shown for a key missing from a catalog; the crate's tests make sure none is.
const MISSING: &str = "??";

impl Catalogs {
    pub fn embedded() -> Self {
        Self { ja: merged("ja"), en: merged("en") }
    }

    pub fn message(&self, locale: Locale, key: &str) -> &str {
        let catalog = match locale {
            Locale::Ja => &self.ja,
            Locale::En => &self.en,
        };
        catalog.get(key).map(String::as_str).unwrap_or(MISSING)
    }

    /// A message counting `n` (its `{n}` filled in): the key's `.one` variant when `n` is
    /// one and the catalogue has it ("1 more wrong attempt"), else the key itself.
    pub fn counted(&self, locale: Locale, key: &str, n: u64) -> String {
        let singular = format!("{key}.one");
        let text =
            if n == 1 && self.message(locale, &singular) != MISSING { self.message(locale, &singular) } else { self.message(locale, key) };
        text.replace("{n}", &n.to_string())
    }
}

fn merged(locale: &str) -> HashMap<String, String> {
    MESSAGES
        .iter()
        .filter(|(l, _, _)| *l == locale)
        // Embedded at build time and checked by the tests below.
        .flat_map(|(_, _, json)| serde_json::from_str::<HashMap<String, String>>(json).unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod glossary_tests {
    use std::collections::HashMap;

    use crate::{MESSAGES, TEMPLATES};

    /// Where `variant` stands in `text` as a word of its own (for Latin letters: not
    /// inside a longer word, so `user id` does not find `user identity`).
    fn used(text: &str, variant: &str) -> bool {
        let latin = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        text.match_indices(variant).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + variant.len()..].chars().next();
            !variant.is_ascii() || (!latin(before) && !latin(after))
        })
    }

    #[test]
    fn catalogues_and_mails_spell_each_term_one_way() {
        let glossary: HashMap<String, serde_json::Value> =
            serde_json::from_str(include_str!("../glossary.json")).expect("ui/glossary.json is JSON");
        let mut found = Vec::new();
        for locale in ["ja", "en"] {
            let terms = glossary[locale].as_object().expect("terms per language");
            let messages = MESSAGES.iter().filter(|(l, _, _)| *l == locale).map(|(_, file, json)| (file.to_string(), *json));
            let suffix = format!(".{locale}.txt");
            let mails =
                TEMPLATES.iter().filter(|(name, _)| name.starts_with("mail/") && name.ends_with(&suffix)).map(|(n, s)| (n.to_string(), *s));
            for (file, text) in messages.chain(mails) {
                for (term, variants) in terms {
                    for variant in variants.as_array().expect("a list of spellings").iter().filter_map(|v| v.as_str()) {
                        if used(text, variant) {
                            found.push(format!("{locale} {file}: `{variant}` where the glossary says `{term}`"));
                        }
                    }
                }
            }
        }
        assert!(found.is_empty(), "other spellings than the glossary's:\n{}", found.join("\n"));
        // The check itself finds what it should, and nothing inside a longer word.
        assert!(used("ユーザーIDを入力", "ユーザーID") && used("Please sign in.", "sign in"));
        assert!(!used("a user identity", "user id") && !used("design in", "sign in"));
    }
}

#[cfg(test)]
mod counted_tests {
    use super::*;

    #[test]
    fn one_is_singular_where_the_language_has_a_singular() {
        let c = Catalogs::embedded();
        assert_eq!(c.counted(Locale::En, "login.attempts_left", 1), "Warning: 1 more wrong attempt will lock the account.");
        assert_eq!(c.counted(Locale::En, "login.attempts_left", 2), "Warning: 2 more wrong attempts will lock the account.");
        assert!(c.counted(Locale::Ja, "login.attempts_left", 1).contains('1'));
        // Every `.one` variant belongs to a counted message, in both languages.
        for locale in [Locale::En, Locale::Ja] {
            let catalog = if locale == Locale::En { &c.en } else { &c.ja };
            for key in catalog.keys().filter_map(|k| k.strip_suffix(".one")) {
                assert!(c.message(locale, key).contains("{n}"), "{key}");
                assert!(c.counted(locale, key, 1).contains('1') && !c.counted(locale, key, 1).contains("{n}"), "{key}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_file_parses_keys_are_unique_and_both_languages_match() {
        let mut keys: HashMap<&str, HashSet<String>> = HashMap::new();
        for (locale, file, json) in MESSAGES {
            let map: HashMap<String, String> = serde_json::from_str(json).unwrap_or_else(|e| panic!("messages/{locale}/{file}: {e}"));
            let set = keys.entry(locale).or_default();
            for key in map.into_keys() {
                assert!(set.insert(key.clone()), "messages/{locale}: key {key} defined twice");
            }
        }
        let ja = &keys["ja"];
        let en = &keys["en"];
        let mut only_ja: Vec<_> = ja.difference(en).collect();
        let mut only_en: Vec<_> = en.difference(ja).collect();
        only_ja.sort();
        only_en.sort();
        assert!(only_ja.is_empty() && only_en.is_empty(), "ja only: {only_ja:?}, en only: {only_en:?}");
        assert!(!ja.is_empty());
    }
}
