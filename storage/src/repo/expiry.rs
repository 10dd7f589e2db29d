//! Certificates that expire soon (issue 21): the list operators see and export, and the
//! record of the reminder mails sent, which lets only one node send each.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StorageError;
use crate::convert::{ms, small, time};
use crate::entity::{certificate, certificate_expiry_reminder as reminder, device, user};
use crate::error::{db_err, on_conflict};
use crate::model::{CertificateStatus, ExpiringCertificate};

/// Ids per `IN (…)` list, well under either backend's limit on bound parameters.
const IDS_PER_QUERY: usize = 500;

pub struct CertificateExpiry<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> CertificateExpiry<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        CertificateExpiry { db }
    }

    /// The unrevoked certificates of a tenant's users that are still valid at `now` and
    /// expire at or before `until`, soonest first, with their users and devices.
    pub async fn expiring_for_tenant(
        &self,
        tenant_id: Uuid,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<ExpiringCertificate>, StorageError> {
        let owners = Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .and_where(Expr::col(user::Column::TenantId).eq(tenant_id))
            .to_owned();
        let models = certificate::Entity::find()
            .filter(certificate::Column::UserId.in_subquery(owners))
            .filter(certificate::Column::Status.eq(CertificateStatus::Active.as_str()))
            .filter(certificate::Column::NotAfter.gt(ms(now)))
            .filter(certificate::Column::NotAfter.lte(ms(until)))
            .order_by_asc(certificate::Column::NotAfter)
            .order_by_asc(certificate::Column::SerialHex)
            .all(self.db)
            .await
            .map_err(db_err)?;
        let user_ids: Vec<Uuid> = unique(models.iter().filter_map(|m| m.user_id));
        let device_ids: Vec<Uuid> = unique(models.iter().filter_map(|m| m.device_id));
        let mut users = HashMap::new();
        for chunk in user_ids.chunks(IDS_PER_QUERY) {
            for m in user::Entity::find().filter(user::Column::Id.is_in(chunk.to_vec())).all(self.db).await.map_err(db_err)? {
                users.insert(m.id, crate::repo::users::to_user(m)?);
            }
        }
        let mut devices = HashMap::new();
        // The newest unrevoked certificate of each device: an older one was renewed.
        let mut newest: HashMap<Uuid, i64> = HashMap::new();
        for chunk in device_ids.chunks(IDS_PER_QUERY) {
            for m in device::Entity::find().filter(device::Column::Id.is_in(chunk.to_vec())).all(self.db).await.map_err(db_err)? {
                devices.insert(m.id, crate::repo::devices::to_device(m)?);
            }
            let live = certificate::Entity::find()
                .filter(certificate::Column::DeviceId.is_in(chunk.to_vec()))
                .filter(certificate::Column::Status.eq(CertificateStatus::Active.as_str()))
                .all(self.db)
                .await
                .map_err(db_err)?;
            for m in live {
                if let Some(device_id) = m.device_id {
                    let at = newest.entry(device_id).or_insert(m.created_at);
                    *at = std::cmp::max(*at, m.created_at);
                }
            }
        }
        let mut out = Vec::with_capacity(models.len());
        for m in models {
            // The user was deleted between the two queries: no longer the tenant's.
            let Some(user) = m.user_id.and_then(|id| users.get(&id)).cloned() else { continue };
            let device = m.device_id.and_then(|id| devices.get(&id)).cloned();
            let renewed = m.device_id.and_then(|id| newest.get(&id)).is_some_and(|at| *at > m.created_at);
            out.push(ExpiringCertificate { certificate: crate::repo::pki::to_certificate(m)?, user, device, renewed });
        }
        Ok(out)
    }

    /// Claims the reminder for `certificate_id` at `threshold_days` before its expiry:
    /// true for the one caller that gets it (who then sends the mail), false for every
    /// later one, on any node. The primary key decides, so no two claims both win.
    pub async fn claim_reminder(&self, certificate_id: Uuid, threshold_days: u32, now: OffsetDateTime) -> Result<bool, StorageError> {
        let model = reminder::Model { certificate_id, threshold_days: small("threshold_days", threshold_days)?, sent_at: ms(now) };
        match reminder::Entity::insert(model.into_active_model())
            .exec_without_returning(self.db)
            .await
            .map_err(on_conflict("reminder already sent"))
        {
            Ok(_) => Ok(true),
            Err(StorageError::Conflict(_)) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// When the latest reminder for a certificate was sent, if any: a policy that moves
    /// its thresholds must not make a second mail follow the first within minutes.
    pub async fn last_reminder_at(&self, certificate_id: Uuid) -> Result<Option<OffsetDateTime>, StorageError> {
        let latest = reminder::Entity::find()
            .filter(reminder::Column::CertificateId.eq(certificate_id))
            .order_by_desc(reminder::Column::SentAt)
            .one(self.db)
            .await
            .map_err(db_err)?;
        latest.map(|m| time("sent_at", m.sent_at)).transpose()
    }

    /// The thresholds (days) whose reminders were sent for a certificate, nearest last.
    pub async fn reminders_sent(&self, certificate_id: Uuid) -> Result<Vec<u32>, StorageError> {
        let models = reminder::Entity::find()
            .filter(reminder::Column::CertificateId.eq(certificate_id))
            .order_by_desc(reminder::Column::ThresholdDays)
            .all(self.db)
            .await
            .map_err(db_err)?;
        Ok(models.into_iter().map(|m| crate::convert::count(m.threshold_days)).collect())
    }
}

fn unique(ids: impl Iterator<Item = Uuid>) -> Vec<Uuid> {
    let mut seen = HashSet::new();
    ids.filter(|id| seen.insert(*id)).collect()
}
