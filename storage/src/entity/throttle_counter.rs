//! Failure counters for throttling (migration 0013).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "throttle_counters")]
pub struct Model {
    /// SHA-256 (hex) of the throttled key, so that any key has a bounded length.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_hash: String,
    pub failures: i64,
    pub window_ends_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
