use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "certificates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub ca_id: Uuid,
    pub user_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    #[sea_orm(unique)]
    pub serial_hex: String,
    #[sea_orm(unique)]
    pub fingerprint_sha256: String,
    pub subject_cn: String,
    pub not_before: i64,
    pub not_after: i64,
    pub status: String,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<String>,
    pub created_at: i64,
    /// SHA-256 of the certified SubjectPublicKeyInfo (m0019); NULL for older rows.
    pub public_key_sha256: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
