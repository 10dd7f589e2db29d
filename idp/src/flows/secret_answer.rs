//! Secret questions and answers (flows 1, 4, 5 and 6): the fixed list of questions, each
//! with a stable code stored on the user, and the normalisation that makes an answer
//! typed on a phone in full-width mode match the one typed on a PC. Only the Argon2id
//! hash of the normalised answer is stored.

use unicode_normalization::UnicodeNormalization as _;

use crate::app::App;

/// One question of the list: `code` is what the user record keeps, `label_key` the
/// message key of its ja/en text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SecretQuestion {
    pub code: &'static str,
    pub label_key: &'static str,
}

/// The questions users choose from. Codes are stored in the database: never rename one;
/// add new ones at the end.
pub const SECRET_QUESTIONS: &[SecretQuestion] = &[
    SecretQuestion { code: "first-car", label_key: "secret_question.first-car" },
    SecretQuestion { code: "mother-maiden-name", label_key: "secret_question.mother-maiden-name" },
    SecretQuestion { code: "disliked-food", label_key: "secret_question.disliked-food" },
    SecretQuestion { code: "first-school", label_key: "secret_question.first-school" },
    SecretQuestion { code: "childhood-friend", label_key: "secret_question.childhood-friend" },
];

/// Longest answer accepted, in characters after normalisation.
pub const MAX_ANSWER_CHARS: usize = 100;

/// The question with `code`, if it is one of ours.
pub fn find_question(code: &str) -> Option<&'static SecretQuestion> {
    SECRET_QUESTIONS.iter().find(|q| q.code == code)
}

/// What is wrong with a submitted question and answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerProblem {
    UnknownQuestion,
    EmptyAnswer,
    /// Shorter than [`min_answer_chars`]: guessed in a few tries.
    AnswerTooShort,
    AnswerTooLong,
}

impl AnswerProblem {
    pub fn message_key(self) -> &'static str {
        match self {
            Self::UnknownQuestion => "secret_answer.problem.choose_question",
            Self::EmptyAnswer => "secret_answer.problem.empty",
            Self::AnswerTooShort => "secret_answer.problem.too_short",
            Self::AnswerTooLong => "secret_answer.problem.too_long",
        }
    }
}

/// The canonical form of an answer: Unicode NFKC (full-width letters and digits become
/// half-width, half-width kana become full-width), lower case, surrounding white space
/// removed and inner runs of white space (including the ideographic space) reduced to
/// one ASCII space. Japanese text is otherwise kept as typed.
pub fn normalise_answer(answer: &str) -> String {
    let folded: String = answer.nfkc().collect::<String>().to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks a question code and answer as submitted; empty when they may be stored.
/// The fewest characters an answer may have: 3 in Latin script, 2 where it has other
/// characters (a kanji surname such as 山田 is a real answer, and each of its characters
/// is one of thousands, not of 26).
pub fn min_answer_chars(normalised: &str) -> usize {
    if normalised.is_ascii() { 3 } else { 2 }
}

pub fn check_question_and_answer(question_code: &str, answer: &str) -> Vec<AnswerProblem> {
    let mut problems = Vec::new();
    if find_question(question_code).is_none() {
        problems.push(AnswerProblem::UnknownQuestion);
    }
    let normalised = normalise_answer(answer);
    if normalised.chars().any(char::is_control) {
        // Nothing anyone types: an answer of control characters is no answer.
        problems.push(AnswerProblem::EmptyAnswer);
    } else if normalised.is_empty() {
        problems.push(AnswerProblem::EmptyAnswer);
    } else if normalised.chars().count() < min_answer_chars(&normalised) {
        problems.push(AnswerProblem::AnswerTooShort);
    } else if normalised.chars().count() > MAX_ANSWER_CHARS {
        problems.push(AnswerProblem::AnswerTooLong);
    }
    problems
}

/// The Argon2id hash to store for `answer` (normalised first).
pub async fn hash_secret_answer(app: &App, answer: &str) -> anyhow::Result<String> {
    Ok(app.hasher.hash(&normalise_answer(answer)).await?)
}

/// Whether `answer` matches the stored hash; always spends one hash, also when the user
/// has no answer stored, so timing does not tell.
pub async fn verify_secret_answer(app: &App, stored_hash: Option<&str>, answer: &str) -> anyhow::Result<bool> {
    Ok(app.hasher.verify(&normalise_answer(answer), stored_hash).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_case_and_spaces_fold() {
        assert_eq!(normalise_answer("  Ｔｏｙｏｔａ "), "toyota");
        assert_eq!(normalise_answer("TOYOTA"), normalise_answer("toyota"));
        assert_eq!(normalise_answer("\u{3000}Toyota\u{3000}Corolla\t "), "toyota corolla");
        assert_eq!(normalise_answer("Toyota   Corolla"), "toyota corolla");
    }

    #[test]
    fn full_width_digits_become_ascii() {
        assert_eq!(normalise_answer("第１小学校"), "第1小学校");
        assert_eq!(normalise_answer("１９８５"), "1985");
    }

    #[test]
    fn japanese_text_is_kept() {
        assert_eq!(normalise_answer("ピーマン"), "ピーマン");
        assert_eq!(normalise_answer(" 山田　花子 "), "山田 花子");
        // Half-width katakana is the same answer as full-width.
        assert_eq!(normalise_answer("ﾋﾟｰﾏﾝ"), "ピーマン");
        assert_eq!(normalise_answer("すずき"), "すずき");
        assert_ne!(normalise_answer("すずき"), normalise_answer("スズキ"));
    }

    #[test]
    fn questions_have_unique_stable_codes() {
        let codes: Vec<_> = SECRET_QUESTIONS.iter().map(|q| q.code).collect();
        for code in ["first-car", "mother-maiden-name", "disliked-food", "first-school", "childhood-friend"] {
            assert!(codes.contains(&code), "{code}");
        }
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        for q in SECRET_QUESTIONS {
            assert_eq!(q.label_key, format!("secret_question.{}", q.code));
        }
        assert!(find_question("first-car").is_some());
        assert!(find_question("First-Car").is_none());
    }

    #[test]
    fn answers_are_checked() {
        assert!(check_question_and_answer("first-car", "Toyota").is_empty());
        assert_eq!(check_question_and_answer("nope", "xyz"), vec![AnswerProblem::UnknownQuestion]);
        assert_eq!(check_question_and_answer("first-car", "x"), vec![AnswerProblem::AnswerTooShort]);
        assert_eq!(check_question_and_answer("first-car", &"\u{0}\u{1}".repeat(10)), vec![AnswerProblem::EmptyAnswer]);
        assert_eq!(check_question_and_answer("first-car", " ab "), vec![AnswerProblem::AnswerTooShort]);
        assert!(check_question_and_answer("first-car", "VW1").is_empty());
        assert!(check_question_and_answer("mother-maiden-name", "山田").is_empty(), "two kanji are enough");
        assert_eq!(check_question_and_answer("mother-maiden-name", "林"), vec![AnswerProblem::AnswerTooShort]);
        assert_eq!(check_question_and_answer("first-car", " \u{3000} "), vec![AnswerProblem::EmptyAnswer]);
        assert_eq!(check_question_and_answer("first-car", &"a".repeat(101)), vec![AnswerProblem::AnswerTooLong]);
        assert!(check_question_and_answer("first-car", &"あ".repeat(100)).is_empty());
    }
}
