//! Tenants and their policy.

use sea_orm::ActiveValue::NotSet;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StorageError;
use crate::convert::{count, from_json, ms, parse, small, time, to_json};
use crate::entity::tenant::{self, ActiveModel, Column, Entity};
use crate::error::{db_err, on_conflict};
use crate::model::{PasswordCharClasses, Tenant, TenantPolicy};

pub struct Tenants<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Tenants<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Tenants { db }
    }

    /// Creates a tenant; the policy is validated first.
    pub async fn create(&self, slug: &str, display_name: &str, policy: &TenantPolicy, now: OffsetDateTime) -> Result<Tenant, StorageError> {
        if slug.is_empty() {
            return Err(StorageError::Invalid("tenant slug must not be empty".to_owned()));
        }
        let model = tenant::Model {
            id: Uuid::new_v4(),
            slug: slug.to_owned(),
            display_name: display_name.to_owned(),
            created_at: ms(now),
            ..policy_columns(policy)?
        };
        Entity::insert(model.clone().into_active_model())
            .exec_without_returning(self.db)
            .await
            .map_err(on_conflict("tenant slug already exists"))?;
        to_tenant(model)
    }

    pub async fn get(&self, id: Uuid) -> Result<Tenant, StorageError> {
        let model = Entity::find_by_id(id).one(self.db).await.map_err(db_err)?;
        to_tenant(model.ok_or(StorageError::NotFound)?)
    }

    pub async fn get_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StorageError> {
        let model = Entity::find().filter(Column::Slug.eq(slug)).one(self.db).await.map_err(db_err)?;
        model.map(to_tenant).transpose()
    }

    pub async fn list(&self) -> Result<Vec<Tenant>, StorageError> {
        let models = Entity::find().order_by_asc(Column::Slug).all(self.db).await.map_err(db_err)?;
        models.into_iter().map(to_tenant).collect()
    }

    /// Replaces the whole policy; the new one is validated first.
    pub async fn update_policy(&self, id: Uuid, policy: &TenantPolicy) -> Result<(), StorageError> {
        let columns = policy_columns(policy)?;
        let mut active: ActiveModel = columns.into_active_model().reset_all();
        // Only the policy changes: identity columns are left untouched.
        active.id = NotSet;
        active.slug = NotSet;
        active.display_name = NotSet;
        active.created_at = NotSet;
        let result = Entity::update_many().set(active).filter(Column::Id.eq(id)).exec(self.db).await.map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    pub async fn set_display_name(&self, id: Uuid, display_name: &str) -> Result<(), StorageError> {
        let result = Entity::update_many()
            .col_expr(Column::DisplayName, display_name.into())
            .filter(Column::Id.eq(id))
            .exec(self.db)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    /// Deletes the tenant and, by cascade, its users, devices, tickets, sessions, clients
    /// and history. Certificates stay (for the CRL) with their user reference cleared.
    /// Deletes a tenant with everything it owns, and revokes its users' certificates
    /// with `reason` in the same transaction. The certificates outlive their users (CRLs
    /// must keep listing them): deleted unrevoked, they would stay valid and be listed
    /// by no CRL until they expire. Returns how many were revoked.
    pub async fn delete(&self, id: Uuid, reason: &str, now: OffsetDateTime) -> Result<usize, StorageError> {
        use crate::entity::{certificate, user};
        use sea_orm::sea_query::{Expr, ExprTrait, Query};
        let txn = crate::storage::begin_write(self.db).await?;
        let users =
            Query::select().column(user::Column::Id).from(user::Entity).and_where(Expr::col(user::Column::TenantId).eq(id)).to_owned();
        let revoked = crate::repo::pki::revoke_where_on(&txn, certificate::Column::UserId.in_subquery(users), reason, now).await?;
        let result = Entity::delete_by_id(id).exec(&txn).await.map_err(db_err)?;
        if result.rows_affected == 0 {
            txn.rollback().await.map_err(db_err)?;
            return Err(StorageError::NotFound);
        }
        txn.commit().await.map_err(db_err)?;
        Ok(revoked.len())
    }
}

/// The policy as a row with placeholder identity columns.
fn policy_columns(policy: &TenantPolicy) -> Result<tenant::Model, StorageError> {
    policy.validate().map_err(StorageError::Invalid)?;
    let mut methods = policy.allowed_login_methods.clone();
    methods.sort_by_key(|m| m.as_str());
    methods.dedup();
    let classes = policy.password_char_classes;
    Ok(tenant::Model {
        id: Uuid::nil(),
        slug: String::new(),
        display_name: String::new(),
        created_at: 0,
        allowed_login_methods: to_json(&methods)?,
        default_login_method: policy.default_login_method.as_str().to_owned(),
        password_min_length: small("password_min_length", policy.password_min_length)?,
        password_max_length: small("password_max_length", policy.password_max_length)?,
        password_allow_digits: classes.digits,
        password_allow_upper: classes.upper,
        password_allow_lower: classes.lower,
        password_allow_symbols: classes.symbols,
        password_expiry_days: small("password_expiry_days", policy.password_expiry_days)?,
        password_history_count: small("password_history_count", policy.password_history_count)?,
        lockout_threshold_password: small("lockout_threshold_password", policy.lockout_threshold_password)?,
        lockout_threshold_secret_answer: small("lockout_threshold_secret_answer", policy.lockout_threshold_secret_answer)?,
        lockout_threshold_enrollment_otp: small("lockout_threshold_enrollment_otp", policy.lockout_threshold_enrollment_otp)?,
        show_attempts_left: policy.show_attempts_left,
        self_service_enabled: policy.self_service_enabled,
        password_reissue_enabled: policy.password_reissue_enabled,
        device_management_enabled: policy.device_management_enabled,
        login_method_change_enabled: policy.login_method_change_enabled,
        user_certificate_reissue_enabled: policy.user_certificate_reissue_enabled,
        max_devices: small("max_devices", policy.max_devices)?,
        certificate_validity_days: small("certificate_validity_days", policy.certificate_validity_days)?,
        certificate_key_type: policy.certificate_key_type.as_str().to_owned(),
        pkcs12_format: policy.pkcs12_format.as_str().to_owned(),
        otp_kind: policy.otp_kind.as_str().to_owned(),
        session_idle_minutes: small("session_idle_minutes", policy.session_idle_minutes)?,
        session_absolute_minutes: small("session_absolute_minutes", policy.session_absolute_minutes)?,
        enrollment_ticket_hours: small("enrollment_ticket_hours", policy.enrollment_ticket_hours)?,
        download_ticket_hours: small("download_ticket_hours", policy.download_ticket_hours)?,
        download_max_count: small("download_max_count", policy.download_max_count)?,
        reissue_link_minutes: small("reissue_link_minutes", policy.reissue_link_minutes)?,
        lockout_release_minutes: small("lockout_release_minutes", policy.lockout_release_minutes)?,
        certificate_expiry_reminder_days: small("certificate_expiry_reminder_days", policy.certificate_expiry_reminder_days)?,
        certificate_expiry_reminder_repeats: small("certificate_expiry_reminder_repeats", policy.certificate_expiry_reminder_repeats)?,
        renewal_grace_days: small("renewal_grace_days", policy.renewal_grace_days)?,
        csr_min_rsa_bits: small("csr_min_rsa_bits", policy.csr_min_rsa_bits)?,
        scim_enrollment_mail: policy.scim_enrollment_mail,
    })
}

fn to_tenant(m: tenant::Model) -> Result<Tenant, StorageError> {
    let policy = TenantPolicy {
        allowed_login_methods: from_json("tenants.allowed_login_methods", &m.allowed_login_methods)?,
        default_login_method: parse("tenants.default_login_method", &m.default_login_method)?,
        password_min_length: count(m.password_min_length),
        password_max_length: count(m.password_max_length),
        password_char_classes: PasswordCharClasses {
            digits: m.password_allow_digits,
            upper: m.password_allow_upper,
            lower: m.password_allow_lower,
            symbols: m.password_allow_symbols,
        },
        password_expiry_days: count(m.password_expiry_days),
        password_history_count: count(m.password_history_count),
        lockout_threshold_password: count(m.lockout_threshold_password),
        lockout_threshold_secret_answer: count(m.lockout_threshold_secret_answer),
        lockout_threshold_enrollment_otp: count(m.lockout_threshold_enrollment_otp),
        show_attempts_left: m.show_attempts_left,
        self_service_enabled: m.self_service_enabled,
        password_reissue_enabled: m.password_reissue_enabled,
        device_management_enabled: m.device_management_enabled,
        login_method_change_enabled: m.login_method_change_enabled,
        user_certificate_reissue_enabled: m.user_certificate_reissue_enabled,
        max_devices: count(m.max_devices),
        certificate_validity_days: count(m.certificate_validity_days),
        certificate_key_type: parse("tenants.certificate_key_type", &m.certificate_key_type)?,
        pkcs12_format: parse("tenants.pkcs12_format", &m.pkcs12_format)?,
        otp_kind: parse("tenants.otp_kind", &m.otp_kind)?,
        session_idle_minutes: count(m.session_idle_minutes),
        session_absolute_minutes: count(m.session_absolute_minutes),
        enrollment_ticket_hours: count(m.enrollment_ticket_hours),
        download_ticket_hours: count(m.download_ticket_hours),
        download_max_count: count(m.download_max_count),
        reissue_link_minutes: count(m.reissue_link_minutes),
        lockout_release_minutes: count(m.lockout_release_minutes),
        certificate_expiry_reminder_days: count(m.certificate_expiry_reminder_days),
        certificate_expiry_reminder_repeats: count(m.certificate_expiry_reminder_repeats),
        renewal_grace_days: count(m.renewal_grace_days),
        csr_min_rsa_bits: count(m.csr_min_rsa_bits),
        scim_enrollment_mail: m.scim_enrollment_mail,
    };
    Ok(Tenant { id: m.id, slug: m.slug, display_name: m.display_name, created_at: time("tenants.created_at", m.created_at)?, policy })
}
