//! API tokens, operator roles and the audit trail.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StorageError;
use crate::convert::{from_json, ms, opt_time, page_bounds, parse, time, to_json};
use crate::entity::{admin_role, api_token, audit_event};
use crate::error::{db_err, on_conflict};
use crate::model::{AdminRole, AdminRoleKind, ApiScope, ApiToken, AuditEvent, AuditQuery, NewApiToken, NewAuditEvent, Page};

pub struct ApiTokens<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> ApiTokens<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        ApiTokens { db }
    }

    pub async fn create(&self, new: &NewApiToken, now: OffsetDateTime) -> Result<ApiToken, StorageError> {
        if new.scopes.is_empty() {
            return Err(StorageError::Invalid("an API token needs at least one scope".to_owned()));
        }
        let mut scopes = new.scopes.clone();
        scopes.sort_by_key(|s| s.as_str());
        scopes.dedup();
        let model = api_token::Model {
            id: Uuid::new_v4(),
            lookup_hash: new.lookup_hash.clone(),
            name: new.name.clone(),
            tenant_id: new.tenant_id,
            scopes: to_json(&scopes)?,
            created_by: new.created_by.clone(),
            expires_at: ms(new.expires_at),
            created_at: ms(now),
            last_used_at: None,
            revoked_at: None,
        };
        api_token::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(self.db)
            .await
            .map_err(on_conflict("API token already exists"))?;
        to_token(model)
    }

    /// The token whose keyed hash is `lookup_hash`, whatever its state (the caller checks
    /// expiry and revocation).
    pub async fn find_by_lookup_hash(&self, lookup_hash: &str) -> Result<Option<ApiToken>, StorageError> {
        let model = api_token::Entity::find().filter(api_token::Column::LookupHash.eq(lookup_hash)).one(self.db).await.map_err(db_err)?;
        model.map(to_token).transpose()
    }

    pub async fn get(&self, id: Uuid) -> Result<ApiToken, StorageError> {
        let model = api_token::Entity::find_by_id(id).one(self.db).await.map_err(db_err)?;
        to_token(model.ok_or(StorageError::NotFound)?)
    }

    /// Tokens of one tenant, or with `None` every token; newest first.
    pub async fn list(&self, tenant_id: Option<Uuid>) -> Result<Vec<ApiToken>, StorageError> {
        let mut query = api_token::Entity::find();
        if let Some(tenant_id) = tenant_id {
            query = query.filter(api_token::Column::TenantId.eq(tenant_id));
        }
        let models = query.order_by_desc(api_token::Column::CreatedAt).all(self.db).await.map_err(db_err)?;
        models.into_iter().map(to_token).collect()
    }

    /// Records a use; written at most once a minute per token, so busy automation does
    /// not turn every read into a write.
    pub async fn touch(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StorageError> {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::val(ms(now)))
            .filter(api_token::Column::Id.eq(id))
            .filter(Condition::any().add(api_token::Column::LastUsedAt.is_null()).add(api_token::Column::LastUsedAt.lt(ms(now) - 60_000)))
            .exec(self.db)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn revoke(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StorageError> {
        let result = api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::val(ms(now)))
            .filter(api_token::Column::Id.eq(id))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(self.db)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 0 {
            self.get(id).await?;
        }
        Ok(())
    }
}

fn to_token(m: api_token::Model) -> Result<ApiToken, StorageError> {
    Ok(ApiToken {
        id: m.id,
        name: m.name,
        tenant_id: m.tenant_id,
        scopes: from_json::<Vec<ApiScope>>("api_tokens.scopes", &m.scopes)?,
        created_by: m.created_by,
        expires_at: time("api_tokens.expires_at", m.expires_at)?,
        created_at: time("api_tokens.created_at", m.created_at)?,
        last_used_at: opt_time("api_tokens.last_used_at", m.last_used_at)?,
        revoked_at: opt_time("api_tokens.revoked_at", m.revoked_at)?,
    })
}

pub struct AdminRoles<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> AdminRoles<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        AdminRoles { db }
    }

    /// Grants a role; a tenant admin needs a tenant, a super-admin must not have one.
    pub async fn grant(
        &self,
        user_id: Uuid,
        role: AdminRoleKind,
        tenant_id: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<AdminRole, StorageError> {
        match (role, tenant_id) {
            (AdminRoleKind::TenantAdmin, None) => {
                return Err(StorageError::Invalid("a tenant admin needs a tenant".to_owned()));
            }
            (AdminRoleKind::SuperAdmin, Some(_)) => {
                return Err(StorageError::Invalid("a super-admin has no tenant".to_owned()));
            }
            _ => {}
        }
        if let Some(existing) = self.list_for_user(user_id).await?.into_iter().find(|r| r.role == role && r.tenant_id == tenant_id) {
            return Ok(existing);
        }
        let model = admin_role::Model { id: Uuid::new_v4(), user_id, role: role.as_str().to_owned(), tenant_id, created_at: ms(now) };
        admin_role::Entity::insert(model.clone().into_active_model()).exec_without_returning(self.db).await.map_err(db_err)?;
        to_role(model)
    }

    pub async fn list_for_user(&self, user_id: Uuid) -> Result<Vec<AdminRole>, StorageError> {
        let models = admin_role::Entity::find()
            .filter(admin_role::Column::UserId.eq(user_id))
            .order_by_asc(admin_role::Column::CreatedAt)
            .all(self.db)
            .await
            .map_err(db_err)?;
        models.into_iter().map(to_role).collect()
    }

    /// Every role of every user, oldest first: who may administer what, for the
    /// operators' list.
    pub async fn list_all(&self) -> Result<Vec<AdminRole>, StorageError> {
        let models = admin_role::Entity::find()
            .order_by_asc(admin_role::Column::CreatedAt)
            .order_by_asc(admin_role::Column::Id)
            .all(self.db)
            .await
            .map_err(db_err)?;
        models.into_iter().map(to_role).collect()
    }

    /// Whether anyone holds the super-admin role (the first admin's bootstrap is refused
    /// once someone does).
    pub async fn any_super_admin(&self) -> Result<bool, StorageError> {
        let found = admin_role::Entity::find()
            .filter(admin_role::Column::Role.eq(AdminRoleKind::SuperAdmin.as_str()))
            .count(self.db)
            .await
            .map_err(db_err)?;
        Ok(found > 0)
    }

    pub async fn revoke(&self, id: Uuid) -> Result<(), StorageError> {
        let result = admin_role::Entity::delete_by_id(id).exec(self.db).await.map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }
}

fn to_role(m: admin_role::Model) -> Result<AdminRole, StorageError> {
    Ok(AdminRole {
        id: m.id,
        user_id: m.user_id,
        role: parse("admin_roles.role", &m.role)?,
        tenant_id: m.tenant_id,
        created_at: time("admin_roles.created_at", m.created_at)?,
    })
}

pub struct AuditEvents<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> AuditEvents<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        AuditEvents { db }
    }

    pub async fn record(&self, new: &NewAuditEvent) -> Result<AuditEvent, StorageError> {
        let model = audit_event::Model {
            id: Uuid::new_v4(),
            tenant_id: new.tenant_id,
            actor: new.actor.clone(),
            action: new.action.clone(),
            target: new.target.clone(),
            occurred_at: ms(new.occurred_at),
            source_ip: new.source_ip.clone(),
            outcome: new.outcome.clone(),
            details: to_json(&new.details)?,
        };
        audit_event::Entity::insert(model.clone().into_active_model()).exec_without_returning(self.db).await.map_err(db_err)?;
        to_audit(model)
    }

    /// Matching events, newest first, with the total count.
    pub async fn search(&self, q: &AuditQuery, offset: u64, limit: u64) -> Result<Page<AuditEvent>, StorageError> {
        use audit_event::Column as C;
        let (offset, limit) = page_bounds(offset, limit);
        let mut query = audit_event::Entity::find();
        if let Some(tenant_id) = q.tenant_id {
            query = query.filter(C::TenantId.eq(tenant_id));
        }
        if let Some(actor) = &q.actor {
            query = query.filter(C::Actor.eq(actor.as_str()));
        }
        if let Some(action) = &q.action {
            query = query.filter(C::Action.eq(action.as_str()));
        }
        if let Some(target) = &q.target_contains {
            query = query.filter(C::Target.contains(target.as_str()));
        }
        if let Some(since) = q.since {
            query = query.filter(C::OccurredAt.gte(ms(since)));
        }
        if let Some(until) = q.until {
            query = query.filter(C::OccurredAt.lt(ms(until)));
        }
        let total = query.clone().count(self.db).await.map_err(db_err)?;
        let models =
            query.order_by_desc(C::OccurredAt).order_by_desc(C::Id).offset(offset).limit(limit).all(self.db).await.map_err(db_err)?;
        let items = models.into_iter().map(to_audit).collect::<Result<_, _>>()?;
        Ok(Page { items, total })
    }
}

fn to_audit(m: audit_event::Model) -> Result<AuditEvent, StorageError> {
    Ok(AuditEvent {
        id: m.id,
        tenant_id: m.tenant_id,
        actor: m.actor,
        action: m.action,
        target: m.target,
        occurred_at: time("audit_events.occurred_at", m.occurred_at)?,
        source_ip: m.source_ip,
        outcome: m.outcome,
        details: from_json("audit_events.details", &m.details)?,
    })
}
