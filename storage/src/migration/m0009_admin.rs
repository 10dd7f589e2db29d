//! Administration: API tokens for automation, operator roles for the console, and the
//! audit trail of every admin action.

use sea_orm_migration::{prelude::*, schema::*};

use super::fk;
use super::m0001_tenants_users::{Tenants, Users};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    /// Keyed hash of the token text (never the token itself).
    LookupHash,
    Name,
    /// NULL: a super-admin token valid for every tenant.
    TenantId,
    Scopes,
    CreatedBy,
    ExpiresAt,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AdminRoles {
    Table,
    Id,
    UserId,
    Role,
    /// The tenant a tenant admin administers; NULL for a super-admin.
    TenantId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    /// No foreign key: the trail outlives the tenants and users it mentions.
    TenantId,
    Actor,
    Action,
    Target,
    OccurredAt,
    SourceIp,
    Outcome,
    Details,
}

fn index(name: &str, table: impl IntoIden, columns: Vec<DynIden>, unique: bool) -> IndexCreateStatement {
    let mut stmt = Index::create().name(name).table(table).take();
    for c in columns {
        stmt.col(c);
    }
    if unique {
        stmt.unique();
    }
    stmt
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ApiTokens as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .col(pk_uuid(T::Id))
                    .col(string(T::LookupHash))
                    .col(string(T::Name))
                    .col(uuid_null(T::TenantId))
                    .col(text(T::Scopes))
                    .col(string(T::CreatedBy))
                    .col(big_integer(T::ExpiresAt))
                    .col(big_integer(T::CreatedAt))
                    .col(big_integer_null(T::LastUsedAt))
                    .col(big_integer_null(T::RevokedAt))
                    .foreign_key(&mut fk(
                        "fk_api_tokens_tenant",
                        T::Table,
                        T::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager.create_index(index("ux_api_tokens_lookup", T::Table, vec![T::LookupHash.into_iden()], true)).await?;

        use AdminRoles as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(pk_uuid(R::Id))
                    .col(uuid(R::UserId))
                    .col(string(R::Role))
                    .col(uuid_null(R::TenantId))
                    .col(big_integer(R::CreatedAt))
                    .foreign_key(&mut fk("fk_admin_roles_user", R::Table, R::UserId, Users::Table, Users::Id, ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk(
                        "fk_admin_roles_tenant",
                        R::Table,
                        R::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager.create_index(index("ix_admin_roles_user", R::Table, vec![R::UserId.into_iden()], false)).await?;

        use AuditEvents as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(pk_uuid(A::Id))
                    .col(uuid_null(A::TenantId))
                    .col(string(A::Actor))
                    .col(string(A::Action))
                    .col(string(A::Target))
                    .col(big_integer(A::OccurredAt))
                    .col(string(A::SourceIp))
                    .col(string(A::Outcome))
                    .col(text(A::Details))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("ix_audit_tenant_time", A::Table, vec![A::TenantId.into_iden(), A::OccurredAt.into_iden()], false))
            .await?;
        manager.create_index(index("ix_audit_time", A::Table, vec![A::OccurredAt.into_iden()], false)).await?;
        Ok(())
    }
}
