use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_service_providers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub entity_id: String,
    pub name: String,
    pub metadata_xml: Option<String>,
    pub acs: String,
    pub slo: String,
    pub certificates: String,
    pub want_authn_requests_signed: bool,
    pub name_id_format: String,
    pub attribute_release: String,
    pub sign_response: bool,
    pub sign_assertion: bool,
    pub encrypt_assertion: bool,
    pub allow_unsolicited: bool,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
