use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub login_id: String,
    pub display_name: String,
    pub locale: String,
    pub time_zone: String,
    pub login_method: String,
    pub status: String,
    pub locked_at: Option<i64>,
    pub lock_reason: Option<String>,
    pub failed_password_count: i32,
    pub failed_secret_answer_count: i32,
    pub password_hash: Option<String>,
    pub password_changed_at: Option<i64>,
    pub password_must_change: bool,
    pub secret_question: Option<String>,
    pub secret_answer_hash: Option<String>,
    pub totp_secret_sealed: Option<Vec<u8>>,
    /// Highest device number ever given out; device numbers are never reused.
    pub last_device_no: i32,
    /// Sequence of password-history rows, so that pruning keeps the newest by order.
    pub password_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Last TOTP time step accepted; a code for it or an earlier step is refused.
    pub totp_last_step: Option<i64>,
    /// The user ID lower-cased ([`crate::model::login_id_key`]), unique per tenant; NULL
    /// only for a row that already differed from another by case alone before m0017.
    pub login_id_key: Option<String>,
    /// The user ID's look-alike skeleton ([`crate::model::login_id_skeleton`]), unique per
    /// tenant; NULL only for a row that already looked like another before m0018.
    pub login_id_skeleton: Option<String>,
    /// The provisioning client's identifier for the user (SCIM `externalId`, m0022).
    pub external_id: Option<String>,
    /// Bumped by every write to the user or its devices (m0024): SCIM's compare-and-swap.
    pub version: i64,
    /// SCIM `name.givenName` and `name.familyName` as a directory sent them (m0025).
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
