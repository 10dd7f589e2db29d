//! Administration: the service layer that the REST API (`api`), the CLI and the console
//! share. Every function takes the acting [`Principal`], checks its role and scope,
//! confines it to its tenant, writes an audit event, and returns domain results or an
//! [`AdminError`]; none of it knows about HTTP.

pub mod api;
pub mod audit;
pub mod branding;
pub mod certificates;
// The CSV reader is untrusted-input parsing, fuzzed on its own (idp/fuzz).
pub use mamori_untrusted::csv;
pub mod error;
pub mod events;
pub mod federation;
pub mod import;
pub mod keys;
pub mod operators;
pub mod passkeys;
pub mod principal;
pub mod saml_sps;
pub mod tenants;
pub mod tokens;
pub mod user_sync;
pub mod users;

pub use error::AdminError;
pub use principal::{Principal, Reach};

/// Offset paging, as every list takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paging {
    pub offset: u64,
    pub limit: u64,
}

impl Paging {
    pub const DEFAULT_LIMIT: u64 = 50;
    pub const MAX_LIMIT: u64 = 500;

    pub fn new(offset: Option<u64>, limit: Option<u64>) -> Result<Paging, AdminError> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if limit == 0 || limit > Self::MAX_LIMIT {
            return Err(AdminError::Invalid(format!("limit must be between 1 and {}", Self::MAX_LIMIT)));
        }
        let offset = offset.unwrap_or(0);
        // Both end up in SQL as signed 64-bit numbers.
        if offset > i64::MAX as u64 / 2 {
            return Err(AdminError::Invalid("offset is too large".to_owned()));
        }
        Ok(Paging { offset, limit })
    }
}

/// One page of results with the total across all pages.
#[derive(Clone, Debug)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub paging: Paging,
}

impl<T> Listed<T> {
    pub fn from_page(page: mamori_storage::model::Page<T>, paging: Paging) -> Self {
        Listed { items: page.items, total: page.total, paging }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Listed<U> {
        Listed { items: self.items.into_iter().map(f).collect(), total: self.total, paging: self.paging }
    }
}
