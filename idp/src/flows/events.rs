//! Login events: every attempt, success or failure, with time, source IP and factors.

use mamori_storage::model::{LoginResult, NewLoginEvent};
use uuid::Uuid;

use crate::app::App;

pub struct Attempt<'a> {
    pub tenant_id: Uuid,
    pub user_id: Option<Uuid>,
    pub login_id: Option<&'a str>,
    pub source_ip: String,
    pub user_agent: Option<String>,
}

/// Records an event; a storage failure is logged, never shown to the user as a login error.
pub async fn record_login_event(app: &App, attempt: &Attempt<'_>, result: LoginResult, factors: &[&str]) {
    app.metrics.login(result.as_str(), factors);
    let event = login_event(app, attempt, result, factors);
    if let Err(err) = app.storage.login_events().record(&event).await {
        tracing::error!(%err, "could not record a login event");
    }
}

/// The event of an attempt at `app.now()`.
pub fn login_event(app: &App, attempt: &Attempt<'_>, result: LoginResult, factors: &[&str]) -> NewLoginEvent {
    NewLoginEvent {
        tenant_id: attempt.tenant_id,
        user_id: attempt.user_id,
        attempted_login_id: attempt.login_id.map(str::to_owned),
        occurred_at: app.now(),
        source_ip: attempt.source_ip.clone(),
        result,
        factors: factors.iter().map(|f| (*f).to_owned()).collect(),
        user_agent: attempt.user_agent.clone(),
        detail: None,
    }
}
