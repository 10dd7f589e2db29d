//! Message catalogs: one flat JSON object per language, keys shared by both.

use std::collections::HashMap;

use crate::Locale;

pub struct Catalogs {
    ja: HashMap<String, String>,
    en: HashMap<String, String>,
}

/// Shown for a key missing from a catalog; the crate's tests make sure none is.
const MISSING: &str = "??";

impl Catalogs {
    pub fn embedded() -> Self {
        Self {
            ja: parse(include_str!("../messages/ja.json")),
            en: parse(include_str!("../messages/en.json")),
        }
    }

    pub fn message(&self, locale: Locale, key: &str) -> &str {
        let catalog = match locale {
            Locale::Ja => &self.ja,
            Locale::En => &self.en,
        };
        catalog.get(key).map(String::as_str).unwrap_or(MISSING)
    }

    pub fn keys(&self, locale: Locale) -> impl Iterator<Item = &str> {
        match locale {
            Locale::Ja => self.ja.keys(),
            Locale::En => self.en.keys(),
        }
        .map(String::as_str)
    }
}

fn parse(json: &str) -> HashMap<String, String> {
    // Embedded at build time and checked by the tests below.
    serde_json::from_str(json).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogs_parse_and_share_their_keys() {
        let ja: HashMap<String, String> =
            serde_json::from_str(include_str!("../messages/ja.json")).expect("ja.json parses");
        let en: HashMap<String, String> =
            serde_json::from_str(include_str!("../messages/en.json")).expect("en.json parses");
        let mut only_ja: Vec<_> = ja.keys().filter(|k| !en.contains_key(*k)).collect();
        let mut only_en: Vec<_> = en.keys().filter(|k| !ja.contains_key(*k)).collect();
        only_ja.sort();
        only_en.sort();
        assert!(only_ja.is_empty() && only_en.is_empty(), "ja only: {only_ja:?}, en only: {only_en:?}");
        assert!(!ja.is_empty());
    }
}
