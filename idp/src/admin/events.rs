//! The login history of a tenant: query and CSV export.

use mamori_storage::model::{ApiScope, LoginEvent, LoginEventQuery};

use super::{AdminError, Listed, Paging, Principal};
use crate::app::App;

/// Filters as operators give them: the user by user ID.
#[derive(Clone, Debug, Default)]
pub struct LoginEventFilter {
    pub login_id: Option<String>,
    pub since: Option<time::OffsetDateTime>,
    pub until: Option<time::OffsetDateTime>,
    pub result: Option<String>,
}

pub async fn search(
    app: &App,
    principal: &Principal,
    slug: &str,
    filter: &LoginEventFilter,
    paging: Paging,
) -> Result<Listed<LoginEvent>, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Read).await?;
    let mut query =
        LoginEventQuery { since: filter.since, until: filter.until, result: filter.result.clone(), ..LoginEventQuery::default() };
    if let Some(login_id) = &filter.login_id {
        // A known user matches by reference (also after a rename of what was typed); an
        // unknown one by what was typed, so attempts on absent IDs can be found too.
        match app.storage.users().get_by_login_id(tenant.id, login_id).await? {
            Some(user) => query.user_id = Some(user.id),
            None => query.attempted_login_id = Some(login_id.clone()),
        }
    }
    let page = app.storage.login_events().search(tenant.id, &query, paging.offset, paging.limit).await?;
    Ok(Listed::from_page(page, paging))
}

/// The matching events as CSV (at most `MAX_EXPORT` rows, newest first).
pub async fn export_csv(app: &App, principal: &Principal, slug: &str, filter: &LoginEventFilter) -> Result<String, AdminError> {
    const MAX_EXPORT: u64 = 100_000;
    let tenant = principal.tenant(app, slug, ApiScope::Read).await?;
    let mut out = String::from("occurred_at,login_id,result,factors,source_ip,user_agent\r\n");
    let mut offset = 0;
    let mut login_ids = std::collections::HashMap::new();
    while offset < MAX_EXPORT {
        let page = search(app, principal, &tenant.slug, filter, Paging { offset, limit: 1000 }).await?;
        if page.items.is_empty() {
            break;
        }
        for event in &page.items {
            let login_id = match event.user_id {
                Some(id) => match login_ids.get(&id) {
                    Some(known) => Some(String::clone(known)),
                    None => {
                        let found = app.storage.users().get(id).await.ok().map(|u| u.login_id);
                        if let Some(l) = &found {
                            login_ids.insert(id, l.clone());
                        }
                        found
                    }
                },
                None => None,
            }
            .or_else(|| event.attempted_login_id.clone())
            .unwrap_or_default();
            let when = event.occurred_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
            let fields = [
                when,
                login_id,
                event.result.to_string(),
                event.factors.join(" "),
                event.source_ip.clone(),
                event.user_agent.clone().unwrap_or_default(),
            ];
            let line: Vec<String> = fields.iter().map(|f| super::csv::quote(f)).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        offset += page.items.len() as u64;
    }
    Ok(out)
}
