//! The expiring-certificates endpoints through the real router: the list and its CSV,
//! confined to the token's tenant, and bad windows refused as problems.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use mamori_storage::model::{ApiScope, LoginMethod, TenantPolicy};
use tower::ServiceExt as _;

use crate::admin::Principal;
use crate::state::{ConnectionInfo, ListenerKind};
use crate::test_context::TestContext;

async fn get(router: &axum::Router, token: &str, uri: &str) -> Response {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(format!("{}{uri}", crate::admin::api::BASE))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    request.extensions_mut().insert(ConnectionInfo {
        peer: ([127, 0, 0, 1], 50000).into(),
        client_chain: None,
        listener: ListenerKind::Main,
    });
    router.clone().oneshot(request).await.expect("an answer")
}

async fn text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

#[tokio::test]
async fn operators_list_and_export_the_certificates_that_expire_soon() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    let taro = ctx.user(&tenant, "taro", LoginMethod::CertPassword, None).await;
    // Valid for 30 days from now.
    let _ = ctx.device_certificate(&taro).await;
    let other = ctx.app.storage.tenants().create("other", "Other", &TenantPolicy::default(), ctx.app.now()).await.expect("tenant");
    let jiro = ctx.user(&other, "jiro", LoginMethod::CertPassword, None).await;
    let _ = ctx.device_certificate(&jiro).await;
    let cli = Principal::local_cli();
    let lifetime = time::Duration::days(1);
    let token = crate::admin::tokens::create(&ctx.app, &cli, "t", Some("t"), &[ApiScope::Read], lifetime).await.expect("token").token;
    let (state, _dir) = ctx.into_server_state();
    let router = crate::admin::api::routes().with_state(state);

    let within = |days: &str| format!("/tenants/t/expiring-certificates?within_days={days}");
    let response = get(&router, &token, &within("31")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let list: serde_json::Value = serde_json::from_str(&text(response).await).expect("JSON");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "taro's only, not the other tenant's: {list}");
    assert_eq!(
        (items[0]["login_id"].as_str(), items[0]["device_no"].as_u64(), items[0]["renewed"].as_bool()),
        (Some("taro"), Some(1), Some(false))
    );

    let response = get(&router, &token, &within("29")).await;
    let list: serde_json::Value = serde_json::from_str(&text(response).await).expect("JSON");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "nothing expires within 29 days");
    let default = get(&router, &token, "/tenants/t/expiring-certificates").await;
    let list: serde_json::Value = serde_json::from_str(&text(default).await).expect("JSON");
    assert_eq!(list["within_days"], 30, "30 days when none is given");

    let csv = get(&router, &token, "/tenants/t/expiring-certificates.csv?within_days=31").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()[header::CONTENT_TYPE].to_str().expect("ASCII").starts_with("text/csv"));
    assert_eq!(csv.headers()[header::CACHE_CONTROL], "no-store", "names and addresses: no shared cache keeps them");
    let csv = text(csv).await;
    assert!(csv.starts_with("serial,"), "the API's CSV is for scripts: no byte order mark: {csv}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert_eq!(format!("{}\r\n", lines[0]), crate::admin::certificates::EXPIRING_CSV_HEADER);
    assert!(lines[1].contains(",taro,") && lines[1].ends_with(",false"), "{csv}");

    for bad in ["0", "3651", "soon", "-1"] {
        let response = get(&router, &token, &within(bad)).await;
        assert!(response.status().is_client_error(), "{bad}: {}", response.status());
        assert!(response.headers()[header::CONTENT_TYPE].to_str().expect("ASCII").starts_with("application/problem+json"), "{bad}");
    }
    let response = get(&router, &token, "/tenants/other/expiring-certificates").await;
    assert!(response.status().is_client_error(), "another tenant's list: {}", response.status());
}
