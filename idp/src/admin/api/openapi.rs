//! The OpenAPI 3.1 document, generated from the handlers' annotations and the schema
//! types; every operation also lists the problem responses it can give.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder, Server};
use utoipa::{Modify, OpenApi};

use super::{branding, credentials, expiring, federation, passkeys, records, schema, tenants, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Mamori admin API",
        description = "Administration of the Mamori identity provider. Authenticate with `Authorization: Bearer mamori_at_…` \
            (create tokens with `mamori admin api-token create` or, as a super-admin, `POST /api-tokens`). Every error is an RFC 9457 problem document.",
        version = "1"
    ),
    paths(
        tenants::list, tenants::create, tenants::get, tenants::update, tenants::delete, tenants::get_policy, tenants::put_policy,
        branding::get, branding::put,
        users::list, users::create, users::get, users::update, users::delete, users::disable, users::enable, users::unlock,
        users::force_password_change, users::enrollment_ticket, users::reissue_certificate, users::devices, users::certificates,
        users::device_email, users::sessions, users::end_sessions, passkeys::list, passkeys::remove,
        records::import_users, records::certificates, records::certificate, records::revoke, records::login_events,
        records::login_events_csv, records::tenant_audit_events, records::tenant_audit_events_csv, records::audit_events,
        expiring::list, expiring::csv,
        federation::oidc_clients, federation::oidc_client, federation::delete_oidc_client,
        federation::saml_sps, federation::saml_sp, federation::delete_saml_sp,
        federation::create_oidc_client, federation::update_oidc_client, federation::rotate_oidc_client_secret,
        federation::create_saml_sp, federation::update_saml_sp,
        credentials::signing_keys, credentials::rotate_signing_keys,
        credentials::api_tokens, credentials::create_api_token, credentials::revoke_api_token,
    ),
    components(schemas(super::Problem, schema::PageInfo)),
    modifiers(&Conventions),
)]
pub struct ApiDoc;

/// Statuses every authenticated operation may answer with a problem document.
const PROBLEMS: &[(&str, &str)] = &[
    ("400", "The request could not be read"),
    ("401", "No valid API token"),
    ("403", "The token's role or scope does not allow this, or the user holds a wider operator role"),
    ("404", "No such object in a tenant the token reaches"),
    ("409", "Conflicts with the current state"),
    ("415", "Unsupported request body type"),
    ("422", "Invalid values"),
    ("429", "Too many failed API token attempts from this address; see Retry-After"),
    ("503", "Temporarily unavailable"),
];

struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.servers = Some(vec![Server::new(super::BASE)]);
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "api_token",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("mamori_at_…").build()),
            );
        }
        openapi.security = Some(vec![SecurityRequirement::new("api_token", Vec::<String>::new())]);
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                // Handler names repeat across modules (`list`, `get`): prefix the tag so
                // every operationId is unique, as OpenAPI requires.
                if let (Some(tag), Some(id)) = (operation.tags.as_ref().and_then(|t| t.first()), operation.operation_id.as_mut()) {
                    *id = format!("{}_{id}", tag.replace('-', "_"));
                }
                for (status, description) in PROBLEMS {
                    let response = ResponseBuilder::new()
                        .description(*description)
                        .content("application/problem+json", Content::new(Some(Ref::from_schema_name("Problem"))))
                        .build();
                    operation.responses.responses.entry((*status).to_owned()).or_insert(RefOr::T(response));
                }
            }
        }
    }
}

/// GET /admin/api/v1/openapi.json (no token needed: it holds no data).
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
