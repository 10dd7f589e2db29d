//! The CRL a CA last published (migration 0016).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "published_crls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ca_id: Uuid,
    pub crl_number: i64,
    pub der: Vec<u8>,
    pub this_update: i64,
    pub next_update: i64,
    pub revoked_count: i64,
    pub latest_revocation: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
