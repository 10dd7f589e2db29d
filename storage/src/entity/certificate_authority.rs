use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "certificate_authorities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub certificate_pem: String,
    pub chain_pem: String,
    pub sealed_private_key: Vec<u8>,
    pub key_algorithm: String,
    #[sea_orm(unique)]
    pub fingerprint_sha256: String,
    pub is_active: bool,
    pub crl_number: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
