//! Which listener serves which page. Each listener has its own router, built here from
//! the route tables of the modules: a page that needs a client certificate (the account
//! portal, the console, the resumption of a sign-in a relying site asked for) is mounted
//! only on the mTLS listener, and a page that must never make a browser show its
//! certificate picker (enrollment, download, reissue, the dev mailbox, the admin API) only
//! on the main listener. The other listener answers those paths by sending a GET over and
//! refusing anything else, before any handler runs, so no handler has to check which
//! listener it is on. Protocol endpoints, the login steps and public files are on both.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::{body_limit, plain_errors_as_pages, request_id};
use crate::state::SharedState;

/// Routes served alike on both listeners.
fn shared_routes() -> Router<SharedState> {
    crate::web::pages::routes()
        .merge(crate::web::brand::routes())
        .merge(crate::web::ocsp::routes())
        .merge(crate::web::login::routes())
        .merge(crate::oidc::routes::routes())
        .merge(crate::saml::routes::routes())
}

/// Routes that need no certificate and must not ask for one.
fn main_only_routes() -> Router<SharedState> {
    crate::web::enroll::routes()
        .merge(crate::web::download::routes())
        .merge(crate::web::mailbox::routes())
        .merge(crate::web::reissue::routes())
        .merge(crate::admin::api::routes())
        .merge(crate::scim::routes())
}

/// Routes whose session is bound to the certificate of the connection.
fn mtls_only_routes() -> Router<SharedState> {
    crate::web::account::routes()
        .merge(crate::web::console::routes())
        .merge(crate::oidc::routes::resume_routes())
        .merge(crate::saml::routes::resume_routes())
}

/// The router of the main listener.
pub fn main_router(state: SharedState) -> Router {
    let over = state.urls.mtls.clone();
    finish(shared_routes().merge(main_only_routes()).merge(sent_over(mtls_only_routes(), over)), state)
}

/// The router of the client-certificate listener.
pub fn mtls_router(state: SharedState) -> Router {
    let over = state.urls.main.clone();
    finish(shared_routes().merge(mtls_only_routes()).merge(sent_over(main_only_routes(), over)), state)
}

/// `routes` as mounted on the listener they do not belong to: their handlers never run.
fn sent_over(routes: Router<SharedState>, other_listener: String) -> Router<SharedState> {
    routes.route_layer(axum::middleware::from_fn_with_state(Arc::new(other_listener), send_over))
}

/// A GET (a link, a bookmark, a language switch) continues on the other listener at the
/// same path and query; any other method is refused, since its form came from a page of
/// the other listener and was not posted there.
async fn send_over(State(other_listener): State<Arc<String>>, request: Request, _next: Next) -> Response {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        let path_and_query = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        return Redirect::to(&format!("{other_listener}{path_and_query}")).into_response();
    }
    // Plain text here becomes the error page in the user's language (plain_errors_as_pages).
    (StatusCode::MISDIRECTED_REQUEST, "this address is served on the other listener").into_response()
}

/// The layers every response passes, on either listener.
fn finish(routes: Router<SharedState>, state: SharedState) -> Router {
    let metrics = Arc::clone(&state.app.metrics);
    routes
        // After every route is in: those without their own answer get a page.
        .method_not_allowed_fallback(crate::web::pages::method_not_allowed)
        .layer(axum::middleware::from_fn(body_limit::refuse_declared_oversize))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), plain_errors_as_pages))
        .with_state(state)
        // Also sets the security headers on every response.
        .layer(axum::middleware::from_fn_with_state(metrics, request_id))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt as _;

    use super::*;
    use crate::state::{ConnectionInfo, ListenerKind};
    use crate::test_context::TestContext;

    async fn send(router: &Router, listener: ListenerKind, method: Method, uri: &str) -> Response {
        let mut request = Request::builder().method(method).uri(uri).body(Body::empty()).expect("request");
        request.extensions_mut().insert(ConnectionInfo { peer: ([127, 0, 0, 1], 50000).into(), client_chain: None, listener });
        router.clone().oneshot(request).await.expect("an answer")
    }

    fn location(response: &Response) -> &str {
        response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    #[tokio::test]
    async fn each_page_is_served_on_its_own_listener_and_sent_over_from_the_other() {
        let (state, _dir) = TestContext::new().await.into_server_state();
        let (main, mtls) = (main_router(Arc::clone(&state)), mtls_router(state));

        // Pages bound to the certificate: a GET on the main listener continues on the
        // other one, path and query kept.
        for path in ["/account?lang=en", "/account/devices/1/email", "/console/t/acme/users?q=a", "/oidc/resume/abc", "/saml/resume/abc"] {
            let answer = send(&main, ListenerKind::Main, Method::GET, path).await;
            assert!(answer.status().is_redirection(), "{path}: {}", answer.status());
            assert_eq!(location(&answer), format!("https://mtls.test:8444{path}"));
        }
        // Pages that must not ask for a certificate: the other way round.
        for path in [
            "/download?acquisition_id=AB12",
            "/enroll/token",
            "/reissue/password?lang=ja",
            "/dev/mailbox",
            "/admin/api/v1/tenants",
            "/scim/v2/t/acme/Users",
        ] {
            let answer = send(&mtls, ListenerKind::Mtls, Method::GET, path).await;
            assert!(answer.status().is_redirection(), "{path}: {}", answer.status());
            assert_eq!(location(&answer), format!("https://main.test{path}"));
        }
        // A form posted to the wrong listener is refused before its handler runs (which
        // would have answered 403 for the missing CSRF token), with a page.
        for (router, listener, path) in [
            (&mtls, ListenerKind::Mtls, "/download"),
            (&mtls, ListenerKind::Mtls, "/enroll/token"),
            (&main, ListenerKind::Main, "/account/password"),
        ] {
            let answer = send(router, listener, Method::POST, path).await;
            assert_eq!(answer.status(), StatusCode::MISDIRECTED_REQUEST, "{path}");
            let html = answer.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html"));
            assert!(html, "{path}: the refusal is a page");
        }
        // The same POST on its own listener reaches the handler.
        let answer = send(&main, ListenerKind::Main, Method::POST, "/download").await;
        assert_ne!(answer.status(), StatusCode::MISDIRECTED_REQUEST);
        // Shared pages answer on both.
        for (router, listener) in [(&main, ListenerKind::Main), (&mtls, ListenerKind::Mtls)] {
            assert_eq!(send(router, listener, Method::GET, "/healthz").await.status(), StatusCode::OK);
            let unknown = send(router, listener, Method::GET, "/no/such/page").await;
            assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        }
    }

    #[tokio::test]
    async fn pages_for_unknown_addresses_and_methods_speak_the_language_asked_for() {
        let (state, _dir) = TestContext::new().await.into_server_state();
        let main = main_router(state);
        let body = |response: Response| async move {
            String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body").to_vec()).expect("utf-8")
        };
        for (method, path, status, ja, en) in [
            (Method::GET, "/no/such/page", StatusCode::NOT_FOUND, "お探しのページは存在しません", "does not exist"),
            (Method::GET, "/logout", StatusCode::METHOD_NOT_ALLOWED, "このアドレスはこの種類のリクエストを", "does not take that kind"),
        ] {
            // `?lang=` wins over the browser's language, as on every routed page, and a
            // malformed rest of the query does not cost the page.
            let mut request =
                Request::builder().method(method.clone()).uri(format!("{path}?x=%zz&lang=ja")).header(header::ACCEPT_LANGUAGE, "en");
            request = request.header(header::ACCEPT, "text/html");
            let mut request = request.body(Body::empty()).expect("request");
            request.extensions_mut().insert(ConnectionInfo {
                peer: ([127, 0, 0, 1], 50000).into(),
                client_chain: None,
                listener: ListenerKind::Main,
            });
            let answer = main.clone().oneshot(request).await.expect("an answer");
            assert_eq!(answer.status(), status, "{path}");
            let page = body(answer).await;
            assert!(page.contains(r#"<html lang="ja">"#) && page.contains(ja), "{path} in Japanese: {page}");
            let answer = send(&main, ListenerKind::Main, method, &format!("{path}?lang=en")).await;
            assert!(body(answer).await.contains(en), "{path} in English");
        }
    }
}
