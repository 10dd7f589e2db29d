//! The password rules of the spec. Each violated rule is reported on its own, so the form
//! can name it instead of saying "invalid". Reuse of recent passwords needs their hashes
//! and is checked by the caller with the hasher ([`PasswordProblem::Reused`]).
//!
//! Beyond the tenant's composition rules, NIST SP 800-63B §3.1.1.2 asks that passwords
//! found in breach corpuses, and repetitive or sequential ones, be refused whatever the
//! policy: the binary carries the 100,000 most common passwords of the SecLists
//! "10-million-password-list" (`idp/data/common-passwords.txt`, sorted bytewise).

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
    /// On the list of the most common (breached) passwords, in any letter case.
    Common,
    /// One character repeated, or a run of consecutive ones (`aaaaaaaa`, `abcdefgh`, `98765432`).
    Sequential,
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
            Self::Common => "password.rule.common",
            Self::Sequential => "password.rule.sequential",
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
    let id = login_id.to_lowercase();
    let reversed: String = id.chars().rev().collect();
    if !id.is_empty() && (lower.contains(&id) || lower.contains(&reversed)) {
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
    if is_common(password) || is_common(&lower) {
        problems.push(P::Common);
    }
    if is_sequential(password) {
        problems.push(P::Sequential);
    }
    if password != confirmation {
        problems.push(P::ConfirmationMismatch);
    }
    problems
}

/// The common passwords, one a line, sorted bytewise (see the module docs).
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

/// Whether `word` is a line of [`COMMON_PASSWORDS`]: a binary search over the text
/// itself, so the list costs no memory beyond the binary and no start-up time.
fn is_common(word: &str) -> bool {
    let text = COMMON_PASSWORDS.as_bytes();
    let (mut lo, mut hi) = (0usize, text.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = text[lo..mid].iter().rposition(|&b| b == b'\n').map_or(lo, |i| lo + i + 1);
        let end = text[mid..hi].iter().position(|&b| b == b'\n').map_or(hi, |i| mid + i);
        match text[start..end].cmp(word.as_bytes()) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = end + 1,
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    false
}

/// Whether every character follows the one before by the same step of -1, 0 or +1.
fn is_sequential(password: &str) -> bool {
    let codes: Vec<i64> = password.chars().map(|c| i64::from(u32::from(c))).collect();
    let Some(step) = codes.windows(2).next().map(|w| w[1] - w[0]) else { return false };
    (-1..=1).contains(&step) && codes.windows(2).all(|w| w[1] - w[0] == step)
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
        assert!(check("ravelmoth").is_empty(), "no class is mandatory by default");
        let (first, second) = SYMBOLS.split_at(16);
        assert!(check(first).is_empty() && check(second).is_empty(), "every listed symbol is allowed");
    }

    #[test]
    fn each_rule_is_named() {
        assert_eq!(check("Short1!"), vec![P::TooShort]);
        assert_eq!(check(&"ab".repeat(17)), vec![P::TooLong]);
        assert_eq!(check("ｆｕｌｌｗｉｄｔｈ1"), vec![P::NotHalfWidth]);
        assert_eq!(check("pass word12"), vec![P::NotHalfWidth], "spaces are not allowed");
        assert_eq!(check("xxP-01-USR012xx"), vec![P::ContainsUserId]);
        assert_eq!(check("my-taro.yamada-pw"), vec![P::ContainsEmailLocalPart]);
        let mismatch = check_password(&TenantPolicy::default(), "Blue-Sky7!", "Blue-Sky8!", "someone", &[]);
        assert_eq!(mismatch, vec![P::ConfirmationMismatch]);
    }

    #[test]
    fn common_and_sequential_passwords_are_refused_in_any_case() {
        for common in ["password", "PASSWORD", "Password", "12345678", "qwertyuiop", "iloveyou", "baseball1"] {
            assert!(check(common).contains(&P::Common), "{common}");
        }
        for sequential in ["abcdefghij", "zyxwvuts", "aaaaaaaaa", "98765432", "ABCDEFGHIJ"] {
            assert!(check(sequential).contains(&P::Sequential), "{sequential}");
        }
        // Near misses are not refused for it.
        assert!(check("abcdefgz").is_empty(), "not a run");
        assert!(check("Kq8-vanilla-Tz").is_empty());
        assert!(!is_common(""), "an empty line is not on the list");
        assert!(is_common("!QAZ1qaz"), "the first line");
        assert!(is_common("zzzzzzzzzz"), "and the last");
    }

    #[test]
    fn the_list_is_sorted_as_the_search_needs() {
        let lines: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(lines.len() >= 99_000, "{}", lines.len());
        assert!(lines.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()), "sorted and without duplicates");
        assert!(lines.iter().all(|l| is_common(l)), "every line is found");
    }

    #[test]
    fn the_user_id_backwards_is_refused_too() {
        assert_eq!(check("x210rsu-10-py"), vec![P::ContainsUserId]);
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
