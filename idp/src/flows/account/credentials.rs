//! Password change and secret-question change from the portal (flow 4).

use mamori_storage::model::{Tenant, User};

use super::notices::{AccountChange, notify, record_change};
use crate::app::App;
use crate::flows::events::Attempt;
use crate::flows::password_policy::PasswordProblem;
use crate::flows::secret_answer::{self, AnswerProblem};

pub enum PasswordChangeOutcome {
    Changed,
    /// The current password is wrong; `attempts_left` only when the policy shows it.
    WrongCurrent {
        attempts_left: Option<u32>,
    },
    Locked,
    Invalid(Vec<PasswordProblem>),
}

/// Password change from the portal: the current password first (a wrong one counts
/// towards the lockout like at login), then every rule of the spec including reuse.
pub async fn change_password(
    app: &App,
    tenant: &Tenant,
    user: &User,
    current: &str,
    new_password: &str,
    confirmation: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<PasswordChangeOutcome> {
    let now = app.now();
    let users = app.storage.users();
    if !app.hasher.verify(current, user.password_hash.as_deref()).await? {
        let outcome = users.record_failed_password(user.id, tenant.policy.lockout_threshold_password, now).await?;
        app.metrics.lockout("password", &outcome);
        record_change(app, attempt, AccountChange::WrongCurrentPassword).await;
        if outcome.locked {
            return Ok(PasswordChangeOutcome::Locked);
        }
        let shown = tenant.policy.show_attempts_left.then_some(outcome.attempts_left);
        return Ok(PasswordChangeOutcome::WrongCurrent { attempts_left: shown });
    }
    users.reset_failed_passwords(user.id, now).await?;
    let problems = crate::flows::login::validate_new_password(app, tenant, user, new_password, confirmation).await?;
    if !problems.is_empty() {
        return Ok(PasswordChangeOutcome::Invalid(problems));
    }
    let hash = app.hasher.hash(new_password).await?;
    users.set_password(user.id, &hash, false, tenant.policy.password_history_count.max(1), now).await?;
    record_change(app, attempt, AccountChange::PasswordChanged).await;
    notify(app, user, "notice-password-changed", serde_json::json!({ "reissued": false }), &[]).await;
    Ok(PasswordChangeOutcome::Changed)
}

/// Stores a new secret question and answer (hashed, normalised).
pub async fn change_secret_question(
    app: &App,
    user: &User,
    question: &str,
    answer: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<Result<(), Vec<AnswerProblem>>> {
    let problems = secret_answer::check_question_and_answer(question, answer);
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let hash = secret_answer::hash_secret_answer(app, answer).await?;
    app.storage.users().set_secret_answer(user.id, question, &hash, app.now()).await?;
    record_change(app, attempt, AccountChange::SecretQuestionChanged).await;
    notify(app, user, "notice-secret-question-changed", serde_json::json!({}), &[]).await;
    Ok(Ok(()))
}
