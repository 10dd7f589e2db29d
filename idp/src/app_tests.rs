//! No process-wide state: what a node remembers lives in its [`crate::app::App`]
//! (`caches`, `pool`, `outbound`, `metrics`), so two apps in one process share nothing and
//! tests need no order. A `static` holding a cell, lock or atomic outside test code fails
//! here; the allocator is the one process-wide thing by nature.

use std::path::{Path, PathBuf};

const STATEFUL: [&str; 7] = ["OnceLock", "OnceCell", "LazyLock", "Lazy<", "Mutex", "RwLock", "Atomic"];
const ALLOWED: [&str; 1] = ["static ALLOCATOR:"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.to_string_lossy().ends_with("_tests.rs") {
            out.push(path);
        }
    }
}

/// Stateful statics in `source` before its first `#[cfg(test)]` (tests come last in
/// this crate's files), as `line: text`.
fn stateful_statics(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = line.split("//").next().unwrap_or("");
        let declares = code.trim_start().starts_with("static ") || code.contains(" static ") && !code.contains("&'static");
        if declares && !ALLOWED.iter().any(|a| code.contains(a)) {
            // A `static` on this line whose type (here or on the next lines) keeps state.
            let text: String = source.lines().skip(n).take(3).collect();
            if STATEFUL.iter().any(|s| text.contains(s)) {
                found.push(format!("{}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn nothing_outside_the_app_keeps_state() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(files.len() >= 100, "found only {} files", files.len());
    let offences: Vec<String> = files
        .iter()
        .flat_map(|file| {
            let source = std::fs::read_to_string(file).expect("a readable source file");
            stateful_statics(&source).into_iter().map(move |s| format!("{}:{s}", file.display()))
        })
        .collect();
    assert!(offences.is_empty(), "process-wide state; keep it in App::caches instead:\n{}", offences.join("\n"));
}

#[test]
fn the_check_sees_what_it_forbids() {
    let source = "fn cache() -> &'static Mutex<X> {\n    static CACHE: OnceLock<Mutex<X>> = OnceLock::new();\n}\n";
    assert_eq!(stateful_statics(source).len(), 1);
    assert_eq!(stateful_statics("static NAMES: [&str; 2] = [\"a\", \"b\"];\n").len(), 0);
    assert_eq!(stateful_statics("static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;\n").len(), 0);
    assert_eq!(stateful_statics("#[cfg(test)]\nmod tests {\n    static KEYS: OnceLock<u8> = OnceLock::new();\n}\n").len(), 0);
    assert_eq!(stateful_statics("pub static HITS: AtomicU64 = AtomicU64::new(0);\n").len(), 1);
}
