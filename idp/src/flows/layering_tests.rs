//! Flows and the protocol decisions stay free of HTTP: no file under `flows/` (nor one of
//! [`PROTOCOL_DECISIONS`]) may name axum, the server or the web
//! layer in its code (comments may). The handlers depend on the flows, never back.

use std::path::{Path, PathBuf};

const FORBIDDEN: [&str; 4] = ["axum", "crate::server", "crate::web", "super::super::"];

/// The forbidden names `source` uses outside comments, with their line numbers (a
/// grouped `crate::{…}` import naming the server or the web layer counts at its line).
fn forbidden_uses(source: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    let mut group: Option<usize> = None;
    for (n, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for name in FORBIDDEN {
            if code.contains(name) {
                found.push((n + 1, name));
            }
        }
        if code.contains("crate::{") {
            group = Some(n + 1);
        }
        if let Some(start) = group {
            let words = code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'));
            if words
                .map(|w| w.trim_start_matches("crate::"))
                .any(|w| w == "server" || w == "web" || w.starts_with("server::") || w.starts_with("web::"))
            {
                found.push((start, "crate::{server|web}"));
            }
            if code.contains('}') && !code.contains("crate::{") || code.contains("crate::{") && code.contains("};") {
                group = None;
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("flows/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn flows_do_not_import_http_or_the_server() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/flows");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(files.len() >= 15, "found only {files:?}");
    assert!(files.iter().any(|f| f.ends_with("resume.rs")), "{files:?}");
    let mut offences = Vec::new();
    // This file names what it looks for.
    for file in files.iter().filter(|f| !f.ends_with("layering_tests.rs")) {
        let source = std::fs::read_to_string(file).expect("a readable source file");
        for (line, name) in forbidden_uses(&source) {
            offences.push(format!("{}:{line}: {name}", file.display()));
        }
    }
    assert!(offences.is_empty(), "flows/ must stay free of HTTP and the server:\n{}", offences.join("\n"));
}

/// The protocol modules that decide without HTTP: client authentication, tokens and
/// grants, keys, clients and relying-site versions, SAML responses and keys. Their
/// endpoints (token.rs, authorize.rs, sso.rs, ...) read the request and render.
const PROTOCOL_DECISIONS: [&str; 27] = [
    // The protocols' types; their routes are in routes.rs.
    "oidc/mod.rs",
    "saml/mod.rs",
    "oidc/acr.rs",
    "oidc/backchannel.rs",
    "oidc/client_auth.rs",
    "oidc/clients.rs",
    "oidc/id_token.rs",
    "oidc/jwks_fetch.rs",
    "oidc/jwt.rs",
    "oidc/keys.rs",
    "oidc/pkce.rs",
    "oidc/redirect_uri.rs",
    "oidc/request_object.rs",
    "oidc/token_writer.rs",
    "oidc/site_version.rs",
    "oidc/tokens.rs",
    "oidc/grants/authorization_code.rs",
    "oidc/grants/client_credentials.rs",
    "oidc/grants/mod.rs",
    "oidc/grants/refresh_token.rs",
    "saml/authn_context.rs",
    "saml/encryption.rs",
    "saml/keys.rs",
    "saml/name_id.rs",
    "saml/response.rs",
    "saml/service_providers.rs",
    "saml/times.rs",
];

#[test]
fn protocol_decisions_do_not_import_http_or_the_server() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    for file in PROTOCOL_DECISIONS {
        let source = std::fs::read_to_string(src.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        // Their unit tests (last in each file) reach siblings through `super::super::`.
        let code = source.split("#[cfg(test)]").next().unwrap_or_default();
        for (line, name) in forbidden_uses(code) {
            offences.push(format!("{file}:{line}: {name}"));
        }
    }
    assert!(offences.is_empty(), "these modules decide without HTTP; read the request in the endpoint:\n{}", offences.join("\n"));
}

/// What runs a server (it wires the handlers, so it may name the server module).
const SERVER_SIDE: [&str; 5] = ["server/", "cli/", "demo_rp.rs", "main.rs", "test_context.rs"];

#[test]
fn handlers_depend_on_the_shared_state_never_on_the_server_that_mounts_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut offences = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src/").to_string_lossy().replace('\\', "/");
        if SERVER_SIDE.iter().any(|s| relative.starts_with(s)) || relative.ends_with("layering_tests.rs") {
            continue;
        }
        let source = std::fs::read_to_string(file).expect("a readable source file");
        for (line, name) in forbidden_uses(&source).into_iter().filter(|(_, name)| name.contains("server")) {
            offences.push(format!("{relative}:{line}: {name}"));
        }
    }
    assert!(files.len() > 100, "found only {} files", files.len());
    assert!(
        offences.is_empty(),
        "handlers and flows take SharedState and ConnectionInfo from crate::state; only the server wires them:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_scan_finds_what_it_looks_for() {
    // Hostile: each way in is caught; honest: comments and lookalikes are not.
    assert_eq!(forbidden_uses("use axum::Router;"), [(1, "axum")]);
    assert_eq!(forbidden_uses("fn f() {}\n    let r: axum::response::Response;"), [(2, "axum")]);
    assert_eq!(forbidden_uses("use crate::server::SharedState;"), [(1, "crate::server")]);
    assert_eq!(forbidden_uses("use crate::web::session;"), [(1, "crate::web")]);
    assert_eq!(forbidden_uses("use super::super::web::context::PageCtx;"), [(1, "super::super::")]);
    assert_eq!(forbidden_uses("use crate::{app::App, server::SharedState};"), [(1, "crate::{server|web}")]);
    assert_eq!(forbidden_uses("use crate::{\n    app::App,\n    web,\n};"), [(1, "crate::{server|web}")]);
    assert!(forbidden_uses("use crate::{app::App, flows::login};\nlet web_page = config.server;").is_empty());
    assert!(forbidden_uses("//! Nothing here knows axum.\n/// crate::server is not used").is_empty());
    assert!(forbidden_uses("use crate::flows::login; // not axum").is_empty());
}
