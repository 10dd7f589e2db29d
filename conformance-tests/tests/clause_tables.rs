//! The clause tables (`conformance-tests/clauses/*.md`) name, beside each clause, the test
//! that checks it. A renamed or deleted test would leave a row that still claims coverage,
//! so this test reads every row's last column and checks that what it names exists:
//! - a backticked file (`oidc/flows.test.mjs`, `tests/login.rs`) is a file of the repository
//!   whose path ends with it;
//! - a backticked test function (`a_totp_code_is_accepted_once`: four or more words) is
//!   written somewhere in the sources;
//! - a quoted test title ("max_age=0 and prompt=login force a new login", cut short with
//!   "…" where long) is a title in one of the row's files, or, when the row names no file,
//!   in one of the end-to-end suites. Titles built with `${…}` match any text there.
//!
//! Std only: a check of text needs nothing to build.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const SKIPPED_DIRS: [&str; 6] = ["target", "node_modules", ".git", ".venv", "corpus", "artifacts"];
const SOURCE_EXTENSIONS: [&str; 3] = ["rs", "mjs", "py"];

struct Repository {
    /// Every file, as a path relative to the repository root with `/` separators.
    files: Vec<String>,
    /// The text of every source file (.rs, .mjs, .py), by the same relative path.
    sources: BTreeMap<String, String>,
}

impl Repository {
    fn read(root: &Path) -> Repository {
        let mut files = Vec::new();
        walk(root, root, &mut files);
        files.sort();
        let sources = files
            .iter()
            .filter(|f| SOURCE_EXTENSIONS.iter().any(|e| f.ends_with(&format!(".{e}"))))
            .filter_map(|f| fs::read_to_string(root.join(f)).ok().map(|t| (f.clone(), t)))
            .collect();
        Repository { files, sources }
    }

    fn files_ending_with(&self, name: &str) -> Vec<&str> {
        let suffix = format!("/{name}");
        self.files.iter().filter(|f| *f == name || f.ends_with(&suffix)).map(String::as_str).collect()
    }

    fn source(&self, file: &str) -> Option<&str> {
        self.sources.get(file).map(String::as_str)
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) {
                walk(root, &path, out);
            }
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// The spans of a table cell written between `open` and `close` (backticks or quotes).
fn spans(cell: &str, delimiter: char) -> Vec<&str> {
    cell.split(delimiter).skip(1).step_by(2).collect()
}

fn is_file_name(token: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._/-".contains(c);
    token.chars().all(allowed) && [".rs", ".mjs", ".py", ".md"].iter().any(|e| token.ends_with(e))
}

fn is_test_function(token: &str) -> bool {
    token.split('_').count() >= 4
        && token.starts_with(|c: char| c.is_ascii_lowercase())
        && token.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Whether the template can produce `needle` (`whole`) or a text that starts with it (a
/// title cut with "…" in the table), `${…}` standing for any text.
fn template_produces(template: &str, needle: &str, whole: bool) -> bool {
    let mut parts =
        template.split("${").enumerate().map(|(i, part)| if i == 0 { part } else { part.split_once('}').map_or("", |(_, rest)| rest) });
    let first = parts.next().unwrap_or("");
    let Some(rest) = strip(needle, first, whole) else { return false };
    let mut candidates = vec![rest];
    for part in parts {
        let mut next = Vec::new();
        for text in candidates {
            if text.is_empty() && !whole {
                return true;
            }
            // The placeholder swallows any prefix of what is left.
            for (i, _) in text.char_indices().chain([(text.len(), ' ')]) {
                if let Some(left) = strip(&text[i..], part, whole) {
                    next.push(left);
                }
            }
        }
        candidates = next;
    }
    candidates.iter().any(|c| c.is_empty())
}

/// `text` without `part` at its start; or, unless `whole`, "" when `text` ends inside `part`.
fn strip<'a>(text: &'a str, part: &str, whole: bool) -> Option<&'a str> {
    if let Some(rest) = text.strip_prefix(part) {
        Some(rest)
    } else if !whole && part.starts_with(text) {
        Some("")
    } else {
        None
    }
}

fn names_title(source: &str, title: &str, whole: bool) -> bool {
    source.contains(title) || spans(source, '`').iter().any(|t| t.contains("${") && template_produces(t, title, whole))
}

#[test]
fn every_test_a_clause_table_names_exists() {
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let repository = Repository::read(&root);
    let tables = root.join("conformance-tests/clauses");
    let mut tables: Vec<PathBuf> = fs::read_dir(&tables)
        .expect("the clause tables' folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    tables.sort();
    assert!(tables.len() >= 15, "the clause tables were not found");

    let end_to_end: Vec<&str> = repository.sources.keys().map(String::as_str).filter(|f| f.starts_with("conformance-tests/")).collect();
    let mut missing = Vec::new();
    let mut references = 0;
    for table in &tables {
        let name = table.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let text = fs::read_to_string(table).expect("a clause table");
        for (number, line) in text.lines().enumerate() {
            // Only the last column names tests; the clause column quotes the spec.
            let Some(cell) = line.strip_prefix('|').and_then(|l| l.trim_end().strip_suffix('|')) else {
                continue;
            };
            let Some((_, checked_by)) = cell.rsplit_once('|') else { continue };
            let place = format!("{name}:{}", number + 1);
            let mut files = Vec::new();
            for token in spans(checked_by, '`') {
                if is_file_name(token) {
                    references += 1;
                    let found = repository.files_ending_with(token);
                    if found.is_empty() {
                        missing.push(format!("{place}: no file `{token}`"));
                    }
                    files.extend(found);
                } else if is_test_function(token) {
                    references += 1;
                    let written = repository.sources.values().any(|t| t.contains(token));
                    if !written {
                        missing.push(format!("{place}: no test `{token}`"));
                    }
                }
            }
            for quoted in spans(checked_by, '"') {
                let whole = !quoted.contains('…');
                let title = quoted.split('…').next().unwrap_or("").trim();
                if title.chars().count() < 12 {
                    continue;
                }
                references += 1;
                // The row's files first, then any end-to-end suite (a row may name a
                // Chromium test after a Rust one).
                let named = files
                    .iter()
                    .chain(end_to_end.iter())
                    .filter_map(|f| repository.source(f))
                    .any(|source| names_title(source, title, whole));
                if !named {
                    missing.push(format!("{place}: no test titled \"{title}\""));
                }
            }
        }
    }
    assert!(references > 500, "only {references} references read: the tables' format changed?");
    assert!(missing.is_empty(), "clause tables name tests that do not exist:\n{}", missing.join("\n"));
}

#[test]
fn a_template_title_matches_what_it_can_produce_and_nothing_else() {
    let template = "a page on ${label} cannot read the app's token response";
    let whole = "a page on another site cannot read the app's token response";
    assert!(template_produces(template, whole, true));
    assert!(template_produces(template, "a page on another site cannot", false));
    assert!(!template_produces(template, "a page on another site cannot", true));
    assert!(!template_produces(template, "a page on another site can read it", true));
    assert!(!template_produces(template, "a window on another site", false));
    let source = "t.test(`refresh ${kind} rotates`, …)";
    assert!(names_title(source, "refresh token rotates", true));
    assert!(!names_title(source, "refresh token expires", true));
    assert!(is_test_function("a_totp_code_is_accepted_once"));
    assert!(!is_test_function("client_secret_jwt"));
    assert!(is_file_name("oidc/flows.test.mjs") && !is_file_name("oidc flows"));
}
