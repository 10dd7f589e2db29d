//! Refused API calls leave a trace: a 403 or 404 answered to a known token is an audit
//! event (`api.refused`, outcome `failure`) with the token's id, the source address and
//! the method and path tried; a 401 is a logged security event only, so that callers
//! without a valid token cannot grow the database. The token itself is never recorded.

use std::sync::{Arc, Mutex};

use axum::extract::{OriginalUri, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use crate::admin::{Principal, Reach, audit};
use crate::state::SharedState;

/// Filled by the [`super::extract::Caller`] extractor with whom it authenticated, read by
/// [`record_refusals`] once the handler has answered.
#[derive(Clone, Default)]
pub(super) struct CallerSlot(Arc<Mutex<Option<(SharedState, Principal)>>>);

impl CallerSlot {
    pub(super) fn fill(&self, state: &SharedState, principal: &Principal) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((state.clone(), principal.clone()));
        }
    }

    fn take(&self) -> Option<(SharedState, Principal)> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Marks a response whose refusal the service layer has already audited in detail
/// (a user with a wider role), so that it is not recorded twice.
#[derive(Clone, Copy)]
pub(super) struct AlreadyAudited;

/// The longest path kept in an audit record.
const MAX_PATH: usize = 300;

pub(crate) async fn record_refusals(mut request: Request, next: Next) -> Response {
    let slot = CallerSlot::default();
    request.extensions_mut().insert(slot.clone());
    // The path as sent: inside the nested router the URI has lost the API's prefix.
    let path = request.extensions().get::<OriginalUri>().map_or_else(|| request.uri().path().to_owned(), |u| u.path().to_owned());
    let tried = format!("{} {path}", request.method());
    let response = next.run(request).await;
    let status = response.status();
    if !matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND) || response.extensions().get::<AlreadyAudited>().is_some() {
        return response;
    }
    // No principal: the caller never authenticated (a 401, logged by the extractor) or
    // asked for no API resource at all.
    if let Some((state, principal)) = slot.take() {
        let tried: String = tried.chars().take(MAX_PATH).collect();
        // A tenant admin's refusals belong to its own tenant's trail, where it can see them.
        let tenant = match principal.reach {
            Reach::Tenant(id) => Some(id),
            Reach::AllTenants => None,
        };
        let details = serde_json::json!({"status": status.as_u16()});
        audit::record_refused(&state.app, &principal, tenant, "api.refused", &tried, details).await;
    }
    response
}
