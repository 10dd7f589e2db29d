//! Flows stay free of HTTP: no file under `flows/` may name axum, the server or the web
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
            if words.map(|w| w.trim_start_matches("crate::")).any(|w| w == "server" || w == "web" || w.starts_with("server::") || w.starts_with("web::")) {
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
