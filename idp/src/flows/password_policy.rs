//! The password rules of the spec. Each violated rule is reported on its own, so the form
//! can name it instead of saying "invalid". Reuse of recent passwords needs their hashes
//! and is checked by the caller with the hasher ([`PasswordProblem::Reused`]).

use mamori_storage::model::TenantPolicy;

/// ASCII symbols allowed in passwords (the manual prints `¥` for the backslash).
pub const SYMBOLS: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordProblem {
    TooShort,
    TooLong,
    /// A character outside half-width ASCII (e.g. full-width letters, kana, spaces).
    NotHalfWidth,
    DigitsNotAllowed,
    UpperNotAllowed,
    LowerNotAllowed,
    SymbolsNotAllowed,
    ContainsUserId,
    ContainsEmailLocalPart,
    ConfirmationMismatch,
    Reused,
}

impl PasswordProblem {
    /// The message key naming the rule.
    pub fn message_key(self) -> &'static str {
        match self {
            Self::TooShort => "password.rule.too_short",
            Self::TooLong => "password.rule.too_long",
            Self::NotHalfWidth => "password.rule.not_half_width",
            Self::DigitsNotAllowed => "password.rule.digits_not_allowed",
            Self::UpperNotAllowed => "password.rule.upper_not_allowed",
            Self::LowerNotAllowed => "password.rule.lower_not_allowed",
            Self::SymbolsNotAllowed => "password.rule.symbols_not_allowed",
            Self::ContainsUserId => "password.rule.contains_user_id",
            Self::ContainsEmailLocalPart => "password.rule.contains_email",
            Self::ConfirmationMismatch => "password.rule.confirmation_mismatch",
            Self::Reused => "password.rule.reused",
        }
    }
}

/// Checks `password` against the tenant's rules; empty when it may be used (subject to
/// the reuse check).
pub fn check_password(
    policy: &TenantPolicy,
    password: &str,
    confirmation: &str,
    login_id: &str,
    emails: &[String],
) -> Vec<PasswordProblem> {
    use PasswordProblem as P;
    let mut problems = Vec::new();
    let length = password.chars().count();
    if length < policy.password_min_length as usize {
        problems.push(P::TooShort);
    }
    if length > policy.password_max_length as usize {
        problems.push(P::TooLong);
    }
    let classes = &policy.password_char_classes;
    let mut seen = |problem| {
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    };
    for c in password.chars() {
        match c {
            '0'..='9' if !classes.digits => seen(P::DigitsNotAllowed),
            'A'..='Z' if !classes.upper => seen(P::UpperNotAllowed),
            'a'..='z' if !classes.lower => seen(P::LowerNotAllowed),
            c if SYMBOLS.contains(c) && !classes.symbols => seen(P::SymbolsNotAllowed),
            c if !c.is_ascii_alphanumeric() && !SYMBOLS.contains(c) => seen(P::NotHalfWidth),
            _ => {}
        }
    }
    let lower = password.to_lowercase();
    if !login_id.is_empty() && lower.contains(&login_id.to_lowercase()) {
        problems.push(P::ContainsUserId);
    }
    let contains_local_part = emails
        .iter()
        .filter_map(|e| e.split('@').next())
        .filter(|local| local.len() >= 3)
        .any(|local| lower.contains(&local.to_lowercase()));
    if contains_local_part {
        problems.push(P::ContainsEmailLocalPart);
    }
    if password != confirmation {
        problems.push(P::ConfirmationMismatch);
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use PasswordProblem as P;

    fn check(password: &str) -> Vec<PasswordProblem> {
        check_password(&TenantPolicy::default(), password, password, "p-01-usr012", &["taro.yamada@example.jp".into()])
    }

    #[test]
    fn a_good_password_passes() {
        assert!(check("Blue-Sky7!").is_empty());
        assert!(check("abcdefgh").is_empty(), "no class is mandatory by default");
        let (first, second) = SYMBOLS.split_at(16);
        assert!(check(first).is_empty() && check(second).is_empty(), "every listed symbol is allowed");
    }

    #[test]
    fn each_rule_is_named() {
        assert_eq!(check("Short1!"), vec![P::TooShort]);
        assert_eq!(check(&"a".repeat(33)), vec![P::TooLong]);
        assert_eq!(check("ｆｕｌｌｗｉｄｔｈ1"), vec![P::NotHalfWidth]);
        assert_eq!(check("pass word12"), vec![P::NotHalfWidth], "spaces are not allowed");
        assert_eq!(check("xxP-01-USR012xx"), vec![P::ContainsUserId]);
        assert_eq!(check("my-taro.yamada-pw"), vec![P::ContainsEmailLocalPart]);
        let mismatch = check_password(&TenantPolicy::default(), "Blue-Sky7!", "Blue-Sky8!", "someone", &[]);
        assert_eq!(mismatch, vec![P::ConfirmationMismatch]);
    }

    #[test]
    fn classes_can_be_forbidden_and_several_rules_fail_together() {
        let mut policy = TenantPolicy::default();
        policy.password_char_classes.symbols = false;
        policy.password_char_classes.digits = false;
        let problems = check_password(&policy, "ab1!", "ab1!", "user", &[]);
        assert_eq!(problems, vec![P::TooShort, P::DigitsNotAllowed, P::SymbolsNotAllowed]);
    }
}
