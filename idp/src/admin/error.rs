//! What an admin operation can fail with, in terms that map onto HTTP problem types
//! (RFC 9457) and onto CLI messages alike.

use mamori_storage::StorageError;

use crate::fields::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No credentials, or credentials that are unknown, expired or revoked.
    #[error("{0}")]
    Unauthenticated(String),
    /// Known caller, but its role or scope does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// No such object, or one outside the caller's tenant (the two look the same).
    #[error("{0}")]
    NotFound(String),
    /// The target user holds an operator role wider than the caller's (a 403 of its own
    /// so that the console can say why).
    #[error("this user holds an operator role wider than yours")]
    WiderRole,
    #[error("{0}")]
    Conflict(String),
    /// The request is well-formed but its values are not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// One value refused by its parser ([`crate::fields`]): the API answers as for
    /// [`Self::Invalid`] and also names the field and message key; the console shows the
    /// key's text in the operator's language.
    #[error("{0}")]
    Field(FieldError),
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// A fault on our side; the detail is for logs only.
    #[error("internal error")]
    Internal(String),
}

impl From<FieldError> for AdminError {
    fn from(err: FieldError) -> Self {
        AdminError::Field(err)
    }
}

impl From<crate::oidc::clients::SpecRefusal> for AdminError {
    fn from(err: crate::oidc::clients::SpecRefusal) -> Self {
        match err {
            crate::oidc::clients::SpecRefusal::Field(field) => AdminError::Field(field),
            crate::oidc::clients::SpecRefusal::Combination(why) => AdminError::Invalid(why),
        }
    }
}

impl From<StorageError> for AdminError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound => AdminError::NotFound("not found".to_owned()),
            StorageError::Conflict(what) => AdminError::Conflict(what.to_owned()),
            StorageError::Invalid(why) => AdminError::Invalid(why),
            StorageError::Unavailable => AdminError::Unavailable,
            other => AdminError::Internal(other.log_detail()),
        }
    }
}

impl From<anyhow::Error> for AdminError {
    fn from(err: anyhow::Error) -> Self {
        if let Some(storage) = err.downcast_ref::<StorageError>() {
            return match storage {
                StorageError::NotFound => AdminError::NotFound("not found".to_owned()),
                StorageError::Conflict(what) => AdminError::Conflict((*what).to_owned()),
                StorageError::Invalid(why) => AdminError::Invalid(why.clone()),
                StorageError::Unavailable => AdminError::Unavailable,
                other => AdminError::Internal(other.log_detail()),
            };
        }
        AdminError::Internal(format!("{err:#}"))
    }
}
