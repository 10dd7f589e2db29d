//! The crate's one error type, and the single place where database errors are classified.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// What went wrong in storage, in terms a caller can act on.
///
/// `Display` never contains SQL or driver text: `Backend` carries that detail in its field
/// for logs only, so `err.to_string()` is safe to show, though callers should still choose
/// their own wording for users.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The record asked for does not exist (or no longer matches the request).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated; the text names what clashed.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The request itself was invalid (bad policy values, unknown URL scheme, ...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database could not be reached or is overloaded; retrying later may work (HTTP 503).
    #[error("storage unavailable")]
    Unavailable,
    /// Anything else. The detail is for logs and is deliberately not displayed.
    #[error("storage backend error")]
    Backend(String),
}

impl StorageError {
    /// Detail worth logging (the driver message for `Backend`), never for users.
    pub fn log_detail(&self) -> String {
        match self {
            StorageError::Backend(detail) => detail.clone(),
            other => other.to_string(),
        }
    }
}

/// Classifies a sea-orm error; unique violations become a generic conflict.
pub(crate) fn db_err(err: DbErr) -> StorageError {
    classify(err, "record already exists")
}

/// Like [`db_err`], but names what clashed when a unique constraint fails.
pub(crate) fn on_conflict(what: &'static str) -> impl FnOnce(DbErr) -> StorageError {
    move |err| classify(err, what)
}

fn classify(err: DbErr, conflict: &'static str) -> StorageError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => return StorageError::Conflict(conflict),
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
            return StorageError::Invalid("a referenced record does not exist".to_owned());
        }
        _ => {}
    }
    if is_transient(&err) {
        tracing::warn!(error = %err, "database unavailable");
        return StorageError::Unavailable;
    }
    StorageError::Backend(err.to_string())
}

/// Connection trouble, pool exhaustion and lock contention: the caller may retry later.
fn is_transient(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                Sqlx::Io(_) | Sqlx::Tls(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed | Sqlx::Protocol(_) => true,
                Sqlx::Database(db) => {
                    let code = db.code().unwrap_or_default();
                    // SQLite: BUSY (5, with extended codes) and LOCKED (6).
                    // PostgreSQL: connection exceptions (08xxx), too many connections,
                    // shutdown, serialization failures and deadlocks.
                    matches!(code.as_ref(), "5" | "6" | "261" | "517" | "262")
                        || code.starts_with("08")
                        || matches!(code.as_ref(), "53300" | "57P01" | "57P02" | "57P03" | "40001" | "40P01")
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// Turns a stored value that does not parse into a backend error (data corruption or a
/// row written by a newer version).
pub(crate) fn corrupt(column: &'static str, detail: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(format!("unreadable value in column {column}: {detail}"))
}
