//! Completing a flow in one transaction: the ticket's redemption together with all it
//! records, so a database failure or a crash half-way leaves neither a spent ticket
//! without its outcome nor a valid certificate without the download that hands it over.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::devices::add_reserved_on;
use super::pki::{insert_certificate_on, revoke_where_on};
use super::tickets::{insert_on, invalidate_on, redeem_on};
use super::users::{set_password_on, update_on};
use crate::convert::ms;
use crate::entity::{certificate, device, ticket, user};
use crate::error::{StorageError, db_err};
use crate::model::{CertificateStatus, Completion, RENEWAL_PENDING, RedeemError, TicketKind};
use crate::storage::begin_write;
use time::OffsetDateTime;

pub struct Completions<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Completions<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Completions { db }
    }

    /// Applies `completion` atomically. The ticket is redeemed first, so a second
    /// concurrent completion waits for the first and then fails with `Spent`; any
    /// failure after that rolls everything back, the redemption included. Nothing slow
    /// happens inside: the caller has hashed, signed and sealed beforehand.
    pub async fn complete(&self, completion: &Completion, now: OffsetDateTime) -> Result<(), RedeemError> {
        // Dropping the transaction on any early return rolls it back.
        let txn = begin_write(self.db).await?;
        if let Some(ticket_id) = completion.ticket_id {
            redeem_on(&txn, ticket_id, now).await?;
        }
        let user_id = completion.user_id;
        if let Some(added) = &completion.new_device {
            // Before the certificate, which refers to it.
            add_reserved_on(&txn, &added.device, added.max_devices).await?;
        }
        if let Some(password) = &completion.password {
            set_password_on(&txn, user_id, &password.hash, password.must_change, password.keep, now).await?;
        }
        if let Some(answer) = &completion.secret_answer {
            update_on(&txn, user_id, now, |u| {
                u.col_expr(user::Column::SecretQuestion, Expr::val(answer.question.as_str()))
                    .col_expr(user::Column::SecretAnswerHash, Expr::val(answer.answer_hash.as_str()))
            })
            .await?;
        }
        if completion.reset_failed_secret_answers || completion.reset_failed_passwords {
            update_on(&txn, user_id, now, |mut u| {
                if completion.reset_failed_secret_answers {
                    u = u.col_expr(user::Column::FailedSecretAnswerCount, Expr::val(0));
                }
                if completion.reset_failed_passwords {
                    u = u.col_expr(user::Column::FailedPasswordCount, Expr::val(0));
                }
                u
            })
            .await?;
        }
        for proof in &completion.verified_emails {
            // The address is re-checked here, so a change committed meanwhile stays
            // unproven; no match is not a failure.
            device::Entity::update_many()
                .col_expr(device::Column::EmailVerifiedAt, Expr::val(ms(now)))
                .filter(device::Column::Id.eq(proof.device_id))
                .filter(device::Column::UserId.eq(user_id))
                .filter(device::Column::Email.eq(proof.email.as_str()))
                .filter(device::Column::DeletedAt.is_null())
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        if completion.login_method.is_some() || completion.clear_totp {
            update_on(&txn, user_id, now, |mut u| {
                if let Some(method) = completion.login_method {
                    u = u.col_expr(user::Column::LoginMethod, Expr::val(method.as_str()));
                }
                if completion.clear_totp {
                    u = u
                        .col_expr(user::Column::TotpSecretSealed, Expr::val(Option::<Vec<u8>>::None))
                        .col_expr(user::Column::TotpLastStep, Expr::val(Option::<i64>::None));
                }
                u
            })
            .await?;
        }
        if let Some(reason) = &completion.revoke_certificates {
            revoke_where_on(&txn, certificate::Column::UserId.eq(user_id), reason, now).await?;
            invalidate_on(&txn, ticket::Column::UserId.eq(user_id), TicketKind::Download).await?;
        }
        for issued in &completion.certificates {
            // One certificate per device at a time: the new one supersedes the old ones
            // and their pending downloads (a renewal leaves the old ones to be revoked
            // once the new one is in use).
            let device = certificate::Column::DeviceId.eq(issued.device_id);
            if let Some(renewed) = &issued.renews {
                renewal_still_due_on(&txn, issued.device_id, renewed, now).await?;
            }
            if let Some(reason) = &issued.supersede_reason {
                revoke_where_on(&txn, device, reason, now).await?;
            }
            invalidate_on(&txn, ticket::Column::DeviceId.eq(issued.device_id), TicketKind::Download).await?;
            insert_certificate_on(&txn, &issued.certificate, now).await?;
            if let Some(download) = &issued.download {
                insert_on(&txn, download, now).await?;
            }
        }
        txn.commit().await.map_err(db_err)?;
        Ok(())
    }
}

/// Locks the device's row (on SQLite the write lock is already held, on PostgreSQL the
/// row lock orders concurrent renewals) and checks that `renewed` is still the device's
/// only usable certificate: a renewal that lost a race finds the winner's certificate.
async fn renewal_still_due_on<C: ConnectionTrait>(db: &C, device_id: Uuid, renewed: &str, now: OffsetDateTime) -> Result<(), StorageError> {
    let locked = device::Entity::update_many()
        .col_expr(device::Column::DeviceNo, Expr::col(device::Column::DeviceNo))
        .filter(device::Column::Id.eq(device_id))
        .exec(db)
        .await
        .map_err(db_err)?;
    if locked.rows_affected == 0 {
        return Err(StorageError::NotFound);
    }
    let at = ms(now);
    let usable: Vec<String> = certificate::Entity::find()
        .filter(certificate::Column::DeviceId.eq(device_id))
        .filter(certificate::Column::Status.eq(CertificateStatus::Active.as_str()))
        .filter(certificate::Column::NotBefore.lte(at))
        .filter(certificate::Column::NotAfter.gt(at))
        .all(db)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(|c| c.serial_hex)
        .collect();
    // Serials are stored in one spelling (`serial_key`), whatever the caller wrote.
    if usable != [crate::convert::serial_key(renewed)] {
        return Err(StorageError::Conflict(RENEWAL_PENDING));
    }
    Ok(())
}
