use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    /// The `kid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: Option<Uuid>,
    pub purpose: String,
    pub algorithm: String,
    pub public_jwk: Option<String>,
    pub certificate_pem: Option<String>,
    pub sealed_private_key: Vec<u8>,
    pub created_at: i64,
    pub activated_at: i64,
    pub retire_after: Option<i64>,
    pub expires_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
