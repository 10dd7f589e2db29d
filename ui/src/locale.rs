//! Which language a page is in: an explicit choice (the switch on every page, kept in a
//! cookie) wins over the browser's Accept-Language; Japanese is the service's first language.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Locale {
    #[default]
    Ja,
    En,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::Ja, Locale::En];

    pub fn tag(self) -> &'static str {
        match self {
            Locale::Ja => "ja",
            Locale::En => "en",
        }
    }

    /// The name of the language in itself, as the switch shows it.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::Ja => "日本語",
            Locale::En => "English",
        }
    }

    pub fn other(self) -> Locale {
        match self {
            Locale::Ja => Locale::En,
            Locale::En => Locale::Ja,
        }
    }

    /// Parses a language tag such as `en`, `en-US` or `ja-JP`; other languages are `None`.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "ja" => Some(Locale::Ja),
            "en" => Some(Locale::En),
            _ => None,
        }
    }
}

/// Chooses the page language from an explicit choice (query or cookie) and the
/// Accept-Language header, honouring q-values.
pub fn negotiate_locale(explicit: Option<&str>, accept_language: Option<&str>) -> Locale {
    if let Some(locale) = explicit.and_then(Locale::from_tag) {
        return locale;
    }
    let Some(header) = accept_language else {
        return Locale::default();
    };
    let mut best: Option<(f32, Locale)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let Some(locale) = parts.next().and_then(Locale::from_tag) else {
            continue;
        };
        let q = parts.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok())).unwrap_or(1.0);
        // Strictly greater keeps the first of equal weights, as the header lists preference order.
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, locale));
        }
    }
    best.map(|(_, l)| l).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_choice_wins() {
        assert_eq!(negotiate_locale(Some("en"), Some("ja")), Locale::En);
        assert_eq!(negotiate_locale(Some("fr"), Some("en-US")), Locale::En);
    }

    #[test]
    fn accept_language_with_q_values() {
        assert_eq!(negotiate_locale(None, Some("en-US,en;q=0.9,ja;q=0.8")), Locale::En);
        assert_eq!(negotiate_locale(None, Some("fr;q=1, ja;q=0.5, en;q=0.4")), Locale::Ja);
        assert_eq!(negotiate_locale(None, Some("de, fr")), Locale::Ja);
        assert_eq!(negotiate_locale(None, Some("en;q=0")), Locale::Ja);
        assert_eq!(negotiate_locale(None, None), Locale::Ja);
    }
}
