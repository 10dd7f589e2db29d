//! Tenant branding: one row per tenant that set any, none for the others.

use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, EntityTrait, IntoActiveModel, QuerySelect};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StorageError;
use crate::convert::ms;
use crate::entity::tenant_branding::{Column, Entity, Model};
use crate::error::db_err;
use crate::model::TenantBranding;

pub struct TenantBrandings<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> TenantBrandings<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        TenantBrandings { db }
    }

    /// The colour and the logo's digest, without the image (what every page needs).
    pub async fn get(&self, tenant_id: Uuid) -> Result<TenantBranding, StorageError> {
        let row: Option<(Option<String>, Option<String>)> = Entity::find_by_id(tenant_id)
            .select_only()
            .column(Column::AccentColour)
            .column(Column::LogoSha256)
            .into_tuple()
            .one(self.db)
            .await
            .map_err(db_err)?;
        let (accent_colour, logo_sha256) = row.unwrap_or_default();
        Ok(TenantBranding { accent_colour, logo_sha256, logo_png: None })
    }

    /// Everything, the image too.
    pub async fn get_with_logo(&self, tenant_id: Uuid) -> Result<TenantBranding, StorageError> {
        let row = Entity::find_by_id(tenant_id).one(self.db).await.map_err(db_err)?;
        Ok(row.map_or_else(TenantBranding::default, |m| TenantBranding {
            accent_colour: m.accent_colour,
            logo_sha256: m.logo_sha256,
            logo_png: m.logo_png,
        }))
    }

    /// Replaces the branding (the caller has checked each value).
    pub async fn set(&self, tenant_id: Uuid, branding: &TenantBranding, now: OffsetDateTime) -> Result<(), StorageError> {
        let model = Model {
            tenant_id,
            accent_colour: branding.accent_colour.clone(),
            logo_png: branding.logo_png.clone(),
            logo_sha256: branding.logo_sha256.clone(),
            updated_at: ms(now),
        };
        Entity::insert(model.into_active_model())
            .on_conflict(
                OnConflict::column(Column::TenantId)
                    .update_columns([Column::AccentColour, Column::LogoPng, Column::LogoSha256, Column::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(self.db)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
