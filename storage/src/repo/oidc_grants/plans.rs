//! How SQLite plans the statements every code redemption and refresh rotation runs: each
//! must read its token and its one grant by key, whatever the number of grants stored.
//! (An `IN (SELECT id FROM oidc_grants …)` was planned as a list of every live grant,
//! built per statement: a redemption cost more with every login ever made.)

use sea_orm::{ConnectionTrait, Statement};

use super::codes::spend_codes;
use super::refresh::spend_refresh;
use crate::Storage;

/// The plan's detail lines, from `EXPLAIN QUERY PLAN` on a migrated in-memory database.
async fn plan(statement: sea_orm::sea_query::UpdateStatement) -> Vec<String> {
    let storage = Storage::connect("sqlite::memory:").await.expect("opens");
    storage.migrate().await.expect("migrates");
    let sql = format!("EXPLAIN QUERY PLAN {}", statement.to_string(sea_orm::sea_query::SqliteQueryBuilder));
    let rows = storage.db.query_all_raw(Statement::from_string(sea_orm::DatabaseBackend::Sqlite, sql)).await.expect("explains");
    rows.iter().map(|row| row.try_get::<String>("", "detail").expect("detail")).collect()
}

fn assert_reads_by_key(plan: &[String]) {
    let text = plan.join("\n");
    assert!(!text.contains("SCAN") && !text.contains("LIST SUBQUERY"), "a table is read whole:\n{text}");
    assert!(text.contains("SEARCH oidc_grants USING"), "the grant is not read by key:\n{text}");
}

#[tokio::test]
async fn a_code_redemption_reads_its_code_and_its_grant_by_key() {
    let now = time::OffsetDateTime::UNIX_EPOCH;
    let plan = plan(spend_codes(["a", "b"], now)).await;
    assert_reads_by_key(&plan);
    assert!(plan.iter().any(|line| line.starts_with("SEARCH oidc_authorization_codes USING")), "{plan:?}");
}

#[tokio::test]
async fn a_refresh_rotation_reads_its_tokens_and_their_grants_by_key() {
    let now = time::OffsetDateTime::UNIX_EPOCH;
    let plan = plan(spend_refresh(["a", "b"], now)).await;
    assert_reads_by_key(&plan);
    assert!(plan.iter().any(|line| line.starts_with("SEARCH oidc_refresh_tokens USING")), "{plan:?}");
}
