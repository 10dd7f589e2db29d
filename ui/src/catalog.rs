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
