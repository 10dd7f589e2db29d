//! Certificate authorities and issued certificates.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QueryTrait};
use time::OffsetDateTime;
use uuid::Uuid;

use super::update_returning;
use crate::StorageError;
use crate::convert::{from_json, ms, normalise_hex, opt_time, parse, serial_key, time, to_json};
use crate::entity::{certificate, certificate_authority as ca};
use crate::error::{db_err, on_conflict};
use crate::model::{Certificate, CertificateAuthority, CertificateStatus, NewCertificate, NewCertificateAuthority, RevocationMark};
use crate::storage::begin_write;

pub struct CertificateAuthorities<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> CertificateAuthorities<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        CertificateAuthorities { db }
    }

    /// Stores a CA that does not issue yet (e.g. a successor prepared for rotation).
    pub async fn insert(&self, new: &NewCertificateAuthority, now: OffsetDateTime) -> Result<CertificateAuthority, StorageError> {
        let mut model = ca_model(new, false, now)?;
        model.crl_number = highest_crl_number(self.db).await?;
        ca::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(self.db)
            .await
            .map_err(on_conflict("certificate authority already exists"))?;
        to_ca(model)
    }

    /// Stores a CA and makes it the issuing one in a single transaction, so an interrupted
    /// initialisation leaves either the old state or a complete, active CA.
    pub async fn insert_and_activate(
        &self,
        new: &NewCertificateAuthority,
        now: OffsetDateTime,
    ) -> Result<CertificateAuthority, StorageError> {
        let mut model = ca_model(new, true, now)?;
        let txn = begin_write(self.db).await?;
        model.crl_number = highest_crl_number(&txn).await?;
        deactivate_all(&txn).await?;
        ca::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(on_conflict("certificate authority already exists"))?;
        txn.commit().await.map_err(db_err)?;
        to_ca(model)
    }

    /// Makes `id` the one issuing CA.
    pub async fn activate(&self, id: Uuid) -> Result<(), StorageError> {
        let txn = begin_write(self.db).await?;
        deactivate_all(&txn).await?;
        let result = ca::Entity::update_many()
            .col_expr(ca::Column::IsActive, Expr::val(true))
            .filter(ca::Column::Id.eq(id))
            .exec(&txn)
            .await
            .map_err(on_conflict("another certificate authority was activated concurrently"))?;
        if result.rows_affected == 0 {
            txn.rollback().await.map_err(db_err)?;
            return Err(StorageError::NotFound);
        }
        txn.commit().await.map_err(db_err)
    }

    /// The issuing CA, if one has been set up.
    pub async fn active(&self) -> Result<Option<CertificateAuthority>, StorageError> {
        let model = ca::Entity::find().filter(ca::Column::IsActive.eq(true)).one(self.db).await.map_err(db_err)?;
        model.map(to_ca).transpose()
    }

    /// The issuing CA's id alone: the cheap check every node makes before using the CA
    /// it holds, so a `ca init --replace` on any node or the CLI takes effect everywhere.
    pub async fn active_id(&self) -> Result<Option<Uuid>, StorageError> {
        use sea_orm::QuerySelect;
        ca::Entity::find()
            .select_only()
            .column(ca::Column::Id)
            .filter(ca::Column::IsActive.eq(true))
            .into_tuple::<Uuid>()
            .one(self.db)
            .await
            .map_err(db_err)
    }

    pub async fn get(&self, id: Uuid) -> Result<CertificateAuthority, StorageError> {
        let model = ca::Entity::find_by_id(id).one(self.db).await.map_err(db_err)?;
        to_ca(model.ok_or(StorageError::NotFound)?)
    }

    pub async fn find_by_fingerprint(&self, fingerprint_sha256: &str) -> Result<Option<CertificateAuthority>, StorageError> {
        let model = ca::Entity::find()
            .filter(ca::Column::FingerprintSha256.eq(normalise_hex(fingerprint_sha256)))
            .one(self.db)
            .await
            .map_err(db_err)?;
        model.map(to_ca).transpose()
    }

    /// All CAs, oldest first (old CAs stay trusted for their certificates' lifetime).
    pub async fn list(&self) -> Result<Vec<CertificateAuthority>, StorageError> {
        let models = ca::Entity::find().order_by_asc(ca::Column::CreatedAt).all(self.db).await.map_err(db_err)?;
        models.into_iter().map(to_ca).collect()
    }

    /// Hands out the next CRL number for `ca_id` (1, 2, 3…); concurrent callers always
    /// get distinct numbers.
    pub async fn next_crl_number(&self, ca_id: Uuid) -> Result<u64, StorageError> {
        let stmt = ca::Entity::update_many()
            .col_expr(ca::Column::CrlNumber, Expr::col(ca::Column::CrlNumber).add(1))
            .filter(ca::Column::Id.eq(ca_id))
            .into_query();
        let updated = update_returning::<ca::Entity, _>(self.db, stmt).await.map_err(db_err)?;
        let number = updated.first().ok_or(StorageError::NotFound)?.crl_number;
        u64::try_from(number).map_err(|_| StorageError::Backend("negative CRL number".to_owned()))
    }
}

/// The highest CRL number any CA here has handed out: a new CA's numbers continue from
/// it. A replacement often keeps its predecessor's subject name, and relying parties that
/// key CRLs on the issuer's name would take a restart at 1 for an older CRL.
async fn highest_crl_number<C: ConnectionTrait>(db: &C) -> Result<i64, StorageError> {
    use sea_orm::QuerySelect;
    let highest = ca::Entity::find()
        .select_only()
        .column_as(Expr::col(ca::Column::CrlNumber).max(), "highest")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await
        .map_err(db_err)?;
    Ok(highest.flatten().unwrap_or(0))
}

async fn deactivate_all(txn: &sea_orm::DatabaseTransaction) -> Result<(), StorageError> {
    ca::Entity::update_many()
        .col_expr(ca::Column::IsActive, Expr::val(false))
        .filter(ca::Column::IsActive.eq(true))
        .exec(txn)
        .await
        .map_err(db_err)?;
    Ok(())
}

fn ca_model(new: &NewCertificateAuthority, is_active: bool, now: OffsetDateTime) -> Result<ca::Model, StorageError> {
    Ok(ca::Model {
        id: Uuid::new_v4(),
        name: new.name.clone(),
        certificate_pem: new.certificate_pem.clone(),
        chain_pem: to_json(&new.chain_pem)?,
        sealed_private_key: new.sealed_private_key.clone(),
        key_algorithm: new.key_algorithm.clone(),
        fingerprint_sha256: normalise_hex(&new.fingerprint_sha256),
        is_active,
        crl_number: 0,
        created_at: ms(now),
    })
}

fn to_ca(m: ca::Model) -> Result<CertificateAuthority, StorageError> {
    Ok(CertificateAuthority {
        id: m.id,
        name: m.name,
        certificate_pem: m.certificate_pem,
        chain_pem: from_json("certificate_authorities.chain_pem", &m.chain_pem)?,
        sealed_private_key: m.sealed_private_key,
        key_algorithm: m.key_algorithm,
        fingerprint_sha256: m.fingerprint_sha256,
        is_active: m.is_active,
        crl_number: u64::try_from(m.crl_number).unwrap_or(0),
        created_at: time("certificate_authorities.created_at", m.created_at)?,
    })
}

pub struct Certificates<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Certificates<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Certificates { db }
    }

    /// Records an issued certificate. Serial and fingerprint are stored as lower-case hex.
    pub async fn insert(&self, new: &NewCertificate, now: OffsetDateTime) -> Result<Certificate, StorageError> {
        insert_certificate_on(self.db, new, now).await
    }

    pub async fn get(&self, id: Uuid) -> Result<Certificate, StorageError> {
        let model = certificate::Entity::find_by_id(id).one(self.db).await.map_err(db_err)?;
        to_certificate(model.ok_or(StorageError::NotFound)?)
    }

    pub async fn find_by_serial(&self, serial_hex: &str) -> Result<Option<Certificate>, StorageError> {
        self.find_one(certificate::Column::SerialHex.eq(serial_key(serial_hex))).await
    }

    /// The certificate a TLS client presented: both serial and fingerprint must match, so
    /// a foreign certificate that reuses a serial is not mistaken for ours.
    pub async fn find_by_serial_and_fingerprint(
        &self,
        serial_hex: &str,
        fingerprint_sha256: &str,
    ) -> Result<Option<Certificate>, StorageError> {
        self.find_one(
            certificate::Column::SerialHex
                .eq(serial_key(serial_hex))
                .and(certificate::Column::FingerprintSha256.eq(normalise_hex(fingerprint_sha256))),
        )
        .await
    }

    /// Revokes an active certificate. Revoking again fails with
    /// `Conflict("certificate already revoked")` and leaves the first revocation as it was.
    pub async fn revoke(&self, serial_hex: &str, reason: &str, now: OffsetDateTime) -> Result<Certificate, StorageError> {
        let serial = serial_key(serial_hex);
        let revoked = self.revoke_where(certificate::Column::SerialHex.eq(serial.as_str()), reason, now).await?;
        match revoked.into_iter().next() {
            Some(cert) => Ok(cert),
            None => match self.find_by_serial(&serial).await? {
                Some(_) => Err(StorageError::Conflict("certificate already revoked")),
                None => Err(StorageError::NotFound),
            },
        }
    }

    /// Revokes every active certificate of a device (device deleted or reissued).
    pub async fn revoke_for_device(&self, device_id: Uuid, reason: &str, now: OffsetDateTime) -> Result<Vec<Certificate>, StorageError> {
        self.revoke_where(certificate::Column::DeviceId.eq(device_id), reason, now).await
    }

    /// Revokes every active certificate of a user.
    pub async fn revoke_for_user(&self, user_id: Uuid, reason: &str, now: OffsetDateTime) -> Result<Vec<Certificate>, StorageError> {
        self.revoke_where(certificate::Column::UserId.eq(user_id), reason, now).await
    }

    /// Revoked certificates of a CA, for its CRL, oldest revocation first.
    pub async fn list_revoked(&self, ca_id: Uuid) -> Result<Vec<Certificate>, StorageError> {
        let models = certificate::Entity::find()
            .filter(certificate::Column::CaId.eq(ca_id))
            .filter(certificate::Column::Status.eq(CertificateStatus::Revoked.as_str()))
            .order_by_asc(certificate::Column::RevokedAt)
            .order_by_asc(certificate::Column::SerialHex)
            .all(self.db)
            .await
            .map_err(db_err)?;
        models.into_iter().map(to_certificate).collect()
    }

    /// How many of a CA's certificates are revoked and the latest revocation time (epoch
    /// ms): one indexed query. Revocations are never undone, so every revocation changes
    /// the pair; a node re-signs its CRL exactly when it changed.
    pub async fn revocation_mark(&self, ca_id: Uuid) -> Result<RevocationMark, StorageError> {
        use sea_orm::QuerySelect;
        let row = certificate::Entity::find()
            .select_only()
            .column_as(Expr::col(certificate::Column::Id).count(), "revoked")
            .column_as(Expr::col(certificate::Column::RevokedAt).max(), "latest")
            .filter(certificate::Column::CaId.eq(ca_id))
            .filter(certificate::Column::Status.eq(CertificateStatus::Revoked.as_str()))
            .into_tuple::<(i64, Option<i64>)>()
            .one(self.db)
            .await
            .map_err(db_err)?;
        let (revoked, latest) = row.unwrap_or((0, None));
        Ok(RevocationMark { revoked, latest })
    }

    /// Certificates of a tenant's users matching `q`, newest first. (Certificates of
    /// deleted users have no owner any more and belong to no tenant.)
    pub async fn search_for_tenant(
        &self,
        tenant_id: Uuid,
        q: &crate::model::CertificateQuery,
        offset: u64,
        limit: u64,
    ) -> Result<crate::model::Page<Certificate>, StorageError> {
        use crate::entity::user;
        use sea_orm::{PaginatorTrait, QuerySelect};
        let (offset, limit) = crate::convert::page_bounds(offset, limit);
        let owners = sea_orm::sea_query::Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .and_where(Expr::col(user::Column::TenantId).eq(tenant_id))
            .to_owned();
        let mut query = certificate::Entity::find().filter(certificate::Column::UserId.in_subquery(owners));
        if let Some(user_id) = q.user_id {
            query = query.filter(certificate::Column::UserId.eq(user_id));
        }
        if let Some(status) = q.status {
            query = query.filter(certificate::Column::Status.eq(status.as_str()));
        }
        if let Some(serial) = &q.serial_hex {
            query = query.filter(certificate::Column::SerialHex.eq(serial_key(serial)));
        }
        if let Some(text) = q.subject_contains.as_deref().filter(|t| !t.is_empty()) {
            query = query.filter(certificate::Column::SubjectCn.contains(text));
        }
        let total = query.clone().count(self.db).await.map_err(db_err)?;
        let models = query
            .order_by_desc(certificate::Column::CreatedAt)
            .order_by_desc(certificate::Column::SerialHex)
            .offset(offset)
            .limit(limit)
            .all(self.db)
            .await
            .map_err(db_err)?;
        let items = models.into_iter().map(to_certificate).collect::<Result<_, _>>()?;
        Ok(crate::model::Page { items, total })
    }

    /// A user's certificates, newest first.
    pub async fn list_for_user(&self, user_id: Uuid) -> Result<Vec<Certificate>, StorageError> {
        self.list_where(certificate::Column::UserId.eq(user_id)).await
    }

    /// Whether a certificate for the key with this SubjectPublicKeyInfo hash was revoked
    /// because the key (or its CA) was compromised: such a key is never certified again.
    pub async fn key_revoked_as_compromised(&self, public_key_sha256: &str) -> Result<bool, StorageError> {
        use sea_orm::PaginatorTrait as _;
        let found = certificate::Entity::find()
            .filter(certificate::Column::PublicKeySha256.eq(normalise_hex(public_key_sha256)))
            .filter(certificate::Column::Status.eq(CertificateStatus::Revoked.as_str()))
            .filter(certificate::Column::RevocationReason.is_in(["key-compromise", "ca-compromise"]))
            .count(self.db)
            .await
            .map_err(db_err)?;
        Ok(found > 0)
    }

    /// Whether this key is on a certificate of any other device (or of no device: the
    /// CA's own, the operator's), whatever that certificate's state. One key belongs to
    /// one device: certifying it again for another would bind one holder to two accounts.
    pub async fn key_certified_elsewhere(&self, public_key_sha256: &str, device_id: Uuid) -> Result<bool, StorageError> {
        use sea_orm::PaginatorTrait as _;
        let found = certificate::Entity::find()
            .filter(certificate::Column::PublicKeySha256.eq(normalise_hex(public_key_sha256)))
            .filter(certificate::Column::DeviceId.ne(device_id).or(certificate::Column::DeviceId.is_null()))
            .count(self.db)
            .await
            .map_err(db_err)?;
        Ok(found > 0)
    }

    /// A device's certificates, newest first.
    pub async fn list_for_device(&self, device_id: Uuid) -> Result<Vec<Certificate>, StorageError> {
        self.list_where(certificate::Column::DeviceId.eq(device_id)).await
    }

    /// Revokes a device's active certificates recorded before `created_before`: those a
    /// renewal replaced, once the new certificate is in use.
    pub async fn revoke_older_for_device(
        &self,
        device_id: Uuid,
        created_before: OffsetDateTime,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<Certificate>, StorageError> {
        let condition = certificate::Column::DeviceId.eq(device_id).and(certificate::Column::CreatedAt.lt(ms(created_before)));
        self.revoke_where(condition, reason, now).await
    }

    /// Revokes every active device certificate that an active certificate of the same
    /// device, recorded before `renewed_before`, renewed: the grace period after those
    /// renewals is over. One conditional UPDATE, so any number of nodes may run it.
    pub async fn revoke_renewed_before(
        &self,
        renewed_before: OffsetDateTime,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<Certificate>, StorageError> {
        self.revoke_where(renewed_condition(renewed_before), reason, now).await
    }

    /// [`Self::revoke_renewed_before`] for the certificates of one tenant's users, whose
    /// policy sets its own grace period.
    pub async fn revoke_renewed_before_in_tenant(
        &self,
        tenant_id: Uuid,
        renewed_before: OffsetDateTime,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<Certificate>, StorageError> {
        use crate::entity::user;
        let owners = Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .and_where(Expr::col(user::Column::TenantId).eq(tenant_id))
            .to_owned();
        let condition = renewed_condition(renewed_before).and(certificate::Column::UserId.in_subquery(owners));
        self.revoke_where(condition, reason, now).await
    }

    async fn revoke_where(
        &self,
        condition: sea_orm::sea_query::SimpleExpr,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<Certificate>, StorageError> {
        revoke_where_on(self.db, condition, reason, now).await
    }

    async fn find_one(&self, condition: sea_orm::sea_query::SimpleExpr) -> Result<Option<Certificate>, StorageError> {
        let model = certificate::Entity::find().filter(condition).one(self.db).await.map_err(db_err)?;
        model.map(to_certificate).transpose()
    }

    async fn list_where(&self, condition: sea_orm::sea_query::SimpleExpr) -> Result<Vec<Certificate>, StorageError> {
        let models = certificate::Entity::find()
            .filter(condition)
            .order_by_desc(certificate::Column::CreatedAt)
            .order_by_desc(certificate::Column::NotAfter)
            .all(self.db)
            .await
            .map_err(db_err)?;
        models.into_iter().map(to_certificate).collect()
    }
}

/// A device certificate that a newer active certificate of the same device, recorded
/// before `renewed_before`, renewed.
fn renewed_condition(renewed_before: OffsetDateTime) -> sea_orm::sea_query::SimpleExpr {
    let newer = Alias::new("newer");
    let renewal = Query::select()
        .expr(Expr::val(1))
        .from_as(certificate::Entity, newer.clone())
        .and_where(Expr::col((newer.clone(), certificate::Column::DeviceId)).equals((certificate::Entity, certificate::Column::DeviceId)))
        .and_where(
            Expr::col((newer.clone(), certificate::Column::CreatedAt)).gt(Expr::col((certificate::Entity, certificate::Column::CreatedAt))),
        )
        .and_where(Expr::col((newer.clone(), certificate::Column::CreatedAt)).lte(ms(renewed_before)))
        .and_where(Expr::col((newer, certificate::Column::Status)).eq(CertificateStatus::Active.as_str()))
        .to_owned();
    certificate::Column::DeviceId.is_not_null().and(Expr::exists(renewal))
}

/// [`Certificates::insert`] on any connection, so a flow records a certificate in the
/// transaction that also stores how it is handed over.
pub(crate) async fn insert_certificate_on<C: ConnectionTrait>(
    db: &C,
    new: &NewCertificate,
    now: OffsetDateTime,
) -> Result<Certificate, StorageError> {
    let model = certificate::Model {
        id: Uuid::new_v4(),
        ca_id: new.ca_id,
        user_id: new.user_id,
        device_id: new.device_id,
        serial_hex: serial_key(&new.serial_hex),
        fingerprint_sha256: normalise_hex(&new.fingerprint_sha256),
        subject_cn: new.subject_cn.clone(),
        not_before: ms(new.not_before),
        not_after: ms(new.not_after),
        status: CertificateStatus::Active.as_str().to_owned(),
        revoked_at: None,
        revocation_reason: None,
        created_at: ms(now),
        public_key_sha256: new.public_key_sha256.as_deref().map(normalise_hex),
    };
    certificate::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(db)
        .await
        .map_err(on_conflict("certificate serial or fingerprint already exists"))?;
    to_certificate(model)
}

pub(crate) async fn revoke_where_on<C: ConnectionTrait>(
    db: &C,
    condition: sea_orm::sea_query::SimpleExpr,
    reason: &str,
    now: OffsetDateTime,
) -> Result<Vec<Certificate>, StorageError> {
    // Conditional on `status = active`: a second revocation never overwrites the first.
    let stmt = certificate::Entity::update_many()
        .col_expr(certificate::Column::Status, Expr::val(CertificateStatus::Revoked.as_str()))
        .col_expr(certificate::Column::RevokedAt, Expr::val(ms(now)))
        .col_expr(certificate::Column::RevocationReason, Expr::val(reason))
        .filter(condition)
        .filter(certificate::Column::Status.eq(CertificateStatus::Active.as_str()))
        .into_query();
    let models = update_returning::<certificate::Entity, _>(db, stmt).await.map_err(db_err)?;
    models.into_iter().map(to_certificate).collect()
}

pub(crate) fn to_certificate(m: certificate::Model) -> Result<Certificate, StorageError> {
    Ok(Certificate {
        id: m.id,
        ca_id: m.ca_id,
        user_id: m.user_id,
        device_id: m.device_id,
        serial_hex: m.serial_hex,
        fingerprint_sha256: m.fingerprint_sha256,
        subject_cn: m.subject_cn,
        not_before: time("certificates.not_before", m.not_before)?,
        not_after: time("certificates.not_after", m.not_after)?,
        status: parse("certificates.status", &m.status)?,
        revoked_at: opt_time("certificates.revoked_at", m.revoked_at)?,
        revocation_reason: m.revocation_reason,
        created_at: time("certificates.created_at", m.created_at)?,
    })
}
