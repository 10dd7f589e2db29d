//! The identity provider's metadata (SAML Metadata §2.3.2 EntityDescriptor, §2.4.3
//! IDPSSODescriptor), one per tenant at `{main}/t/{slug}/saml/metadata`: signing and
//! encryption certificates (every unexpired key, so rotation publishes old and new),
//! SingleSignOnService and SingleLogoutService for HTTP-Redirect and HTTP-POST, the
//! NameID formats issued, and an enveloped signature over the whole descriptor.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::format_description::well_known::Rfc3339;

use super::keys::{self, KeyUse};
use super::xml::escape;
use super::{Idp, binding::Binding, encryption, name_id, new_id, ns, signing};
use crate::state::SharedState;
use crate::web::page::{LangQuery, PageLocale};

/// How long a fetched copy of the metadata may be used (validUntil).
const VALID_FOR: time::Duration = time::Duration::days(7);

pub const CONTENT_TYPE: &str = "application/samlmetadata+xml";

/// The unsigned EntityDescriptor with a signature template for its ID.
pub fn document(
    idp: &Idp,
    signing_certs: &[Vec<u8>],
    encryption_certs: &[Vec<u8>],
    template: impl FnOnce(&str) -> String,
    now: time::OffsetDateTime,
) -> String {
    use base64::Engine as _;
    let b64 = |der: &Vec<u8>| base64::engine::general_purpose::STANDARD.encode(der);
    let id = new_id();
    // Our own clock; saturating, as this builder cannot fail (only at year 9999).
    let valid_until = now.saturating_add(VALID_FOR).replace_nanosecond(0).unwrap_or(now).format(&Rfc3339).unwrap_or_default();
    let mut out = String::new();
    out.push_str(&format!(
        r#"<md:EntityDescriptor xmlns:md="{md}" xmlns:ds="{ds}" ID="{id}" entityID="{entity}" validUntil="{valid_until}" cacheDuration="PT1H">"#,
        md = ns::METADATA,
        ds = ns::DSIG,
        entity = escape(&idp.entity_id()),
    ));
    out.push_str(&template(&id));
    out.push_str(&format!(r#"<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="{}">"#, ns::PROTOCOL));
    for cert in signing_certs {
        out.push_str(&format!(
            r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
            b64(cert)
        ));
    }
    for cert in encryption_certs {
        out.push_str(&format!(
            concat!(
                r#"<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"#,
                r#"<md:EncryptionMethod Algorithm="{}"/><md:EncryptionMethod Algorithm="{}"/></md:KeyDescriptor>"#
            ),
            b64(cert),
            encryption::AES256_GCM,
            encryption::RSA_OAEP_MGF1P,
        ));
    }
    for b in [Binding::Redirect, Binding::Post] {
        out.push_str(&format!(r#"<md:SingleLogoutService Binding="{}" Location="{}"/>"#, b.uri(), escape(&idp.slo_url())));
    }
    for format in name_id::SUPPORTED {
        out.push_str(&format!("<md:NameIDFormat>{format}</md:NameIDFormat>"));
    }
    for b in [Binding::Redirect, Binding::Post] {
        out.push_str(&format!(r#"<md:SingleSignOnService Binding="{}" Location="{}"/>"#, b.uri(), escape(&idp.sso_url())));
    }
    out.push_str("</md:IDPSSODescriptor></md:EntityDescriptor>");
    out
}

/// The signed metadata of `idp`.
pub async fn signed_metadata(state: &SharedState, idp: &Idp) -> anyhow::Result<String> {
    let app = &state.app;
    let key = keys::active(app, KeyUse::Signing).await?;
    let signing_certs = keys::published_certificates(app, KeyUse::Signing).await?;
    let encryption_certs = keys::published_certificates(app, KeyUse::Encryption).await?;
    let now = app.now();
    let idp = idp.clone();
    app.pool
        .run(move || {
            let sig_key = std::sync::Arc::clone(&key);
            let unsigned = document(
                &idp,
                &signing_certs,
                &encryption_certs,
                |id| {
                    use samael::traits::ToXml as _;
                    signing::template(id, &sig_key).to_string().unwrap_or_default()
                },
                now,
            );
            signing::sign_enveloped(&unsigned, &key)
        })
        .await?
}

/// `GET /t/{tenant}/saml/metadata`
pub async fn metadata(State(state): State<SharedState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    let page = PageLocale::from_request(&LangQuery::default(), &headers);
    let idp = match super::idp(&state, &slug).await {
        Ok(Some(idp)) => idp,
        Ok(None) => return page.error_page(&state, StatusCode::NOT_FOUND, "error.not_found"),
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "SAML metadata: tenant lookup failed");
            return page.error_page(&state, StatusCode::SERVICE_UNAVAILABLE, "error.unavailable");
        }
    };
    match signed_metadata(&state, &idp).await {
        Ok(xml) => {
            let mut response = (StatusCode::OK, format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{xml}")).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
            response
        }
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "SAML metadata failed");
            page.error_page(&state, StatusCode::INTERNAL_SERVER_ERROR, "error.internal")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::keys::tests::test_key;
    use super::*;

    #[test]
    fn metadata_lists_keys_endpoints_and_formats_and_is_signed() {
        let key = test_key(KeyUse::Signing);
        let enc = test_key(KeyUse::Encryption);
        let tenant = mamori_storage::model::Tenant {
            id: uuid::Uuid::new_v4(),
            slug: "demo".into(),
            display_name: "Demo".into(),
            policy: Default::default(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let idp = Idp { base: "https://idp.example/t/demo/saml".into(), tenant };
        let unsigned = document(
            &idp,
            &[key.certificate_der().to_vec()],
            &[enc.certificate_der().to_vec()],
            |id| {
                use samael::traits::ToXml as _;
                signing::template(id, &key).to_string().expect("template")
            },
            time::OffsetDateTime::now_utc(),
        );
        let xml = signing::sign_enveloped(&unsigned, &key).expect("signs");
        for needle in [
            r#"entityID="https://idp.example/t/demo/saml/metadata""#,
            r#"<md:KeyDescriptor use="signing">"#,
            r#"<md:KeyDescriptor use="encryption">"#,
            r#"Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/t/demo/saml/sso""#,
            r#"Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example/t/demo/saml/slo""#,
            "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>",
        ] {
            assert!(xml.contains(needle), "missing {needle}");
        }
        let (_, root) = super::super::xml::screen(xml.as_bytes(), &super::super::xml::METADATA_LIMITS).expect("screens");
        let id = root.id.expect("ID");
        super::super::signing::verify_enveloped_with_limits(
            &xml,
            &id,
            &[key.certificate_der().to_vec()],
            &super::super::xml::METADATA_LIMITS,
        )
        .expect("the signature verifies");
    }
}
