use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tickets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    #[sea_orm(unique)]
    pub lookup_hash: String,
    pub secret_hash: Option<String>,
    #[sea_orm(unique)]
    pub acquisition_id: Option<String>,
    pub payload_sealed: Option<Vec<u8>>,
    pub expires_at: i64,
    pub attempts_left: i32,
    pub uses_left: i32,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
