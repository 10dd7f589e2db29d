//! What the fuzz targets drive (`idp/fuzz`, cargo-fuzz) and what the bounded mutation
//! tests below drive on stable Rust in every `cargo test`. Each target asserts what must
//! hold of whatever a parser accepts, not only that it does not panic.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::{client_certificate, csv, jws};

/// The public keys of the seed tokens' signers (their private keys were thrown away).
fn jwks() -> &'static Value {
    static JWKS: OnceLock<Value> = OnceLock::new();
    JWKS.get_or_init(|| serde_json::from_str(include_str!("fuzz/jwks.json")).unwrap_or(Value::Null))
}

/// The signing inputs (`header.claims`) of the committed tokens that verify against
/// [`jwks`]: nothing else may ever verify.
fn signed_inputs() -> &'static [&'static str] {
    &[
        include_str!("../../fuzz/corpus/jwt/openssl-request-object-es256"),
        include_str!("../../fuzz/corpus/jwt/openssl-client-assertion-rs256"),
        include_str!("../../fuzz/corpus/jwt/openssl-client-assertion-ps256-no-kid"),
        include_str!("../../fuzz/corpus/jwt/openssl-id-token-hint-es256"),
        include_str!("../../fuzz/corpus/jwt/openssl-hostile-jwks-in-claims"),
    ]
}

/// A token as a request object, a client assertion or an `id_token_hint` arrives: any
/// text. What parses is exactly three segments whose first two are JSON objects, and
/// re-encodes to the very text it came from; verification picks at most one key, and
/// succeeds only for a token one of the thrown-away keys signed. A JWK Set in the
/// claims (as a client's `jwks` or fetched `jwks_uri` would be) is tried as well, so
/// hostile keys reach the verifier.
pub fn jwt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(parsed) = jws::parse(&text) else { return };
    let segments: Vec<&str> = text.split('.').collect();
    assert_eq!(segments.len(), 3);
    assert_eq!(parsed.signing_input, format!("{}.{}", segments[0], segments[1]));
    assert_eq!(URL_SAFE_NO_PAD.encode(&parsed.signature), segments[2], "the signature is not canonical base64url");
    for (segment, value) in [(segments[0], &parsed.header), (segments[1], &parsed.claims)] {
        assert!(value.is_object());
        let decoded = URL_SAFE_NO_PAD.decode(segment).expect("a parsed segment decodes");
        assert_eq!(URL_SAFE_NO_PAD.encode(&decoded), segment, "a segment is not canonical base64url");
        assert_eq!(&serde_json::from_slice::<Value>(&decoded).expect("JSON"), value);
    }
    let _ = parsed.claims["exp"].as_i64();
    if parsed.verify(jwks()).is_ok() {
        let input = parsed.signing_input.as_str();
        assert!(
            signed_inputs().iter().any(|token| token.starts_with(input) && token.as_bytes().get(input.len()) == Some(&b'.')),
            "a token no key signed verifies: {input}"
        );
        assert!(matches!(parsed.alg(), "ES256" | "RS256" | "PS256"));
    }
    if !parsed.claims["jwks"].is_null() {
        let _ = parsed.verify(&parsed.claims["jwks"]);
    }
}

/// CA certificates the seed leaves were issued by (their keys were thrown away).
fn client_cas() -> &'static [Vec<u8>] {
    static CAS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CAS.get_or_init(|| {
        let mut cas = Vec::new();
        let mut body = String::new();
        for line in include_str!("fuzz/client-cas.pem").lines() {
            if line.starts_with("-----END") {
                cas.extend(STANDARD.decode(std::mem::take(&mut body)).ok());
            } else if !line.starts_with("-----") {
                body.push_str(line.trim());
            }
        }
        cas
    })
}

/// The leaves one of [`client_cas`] signed, and the CAs themselves (self-signed).
fn issued_leaves() -> [&'static [u8]; 3] {
    [
        include_bytes!("../../fuzz/corpus/client_certificate/openssl-ec-client.der"),
        include_bytes!("../../fuzz/corpus/client_certificate/openssl-rsa-client.der"),
        include_bytes!("../../fuzz/corpus/client_certificate/openssl-ed25519-server-only.der"),
    ]
}

/// The DER a browser presents as its client certificate, judged as the login does
/// against our CAs. Whatever is accepted was issued by one of them: its to-be-signed
/// part is that of a certificate they signed (or a CA's own), and its issuer is a CA's
/// subject; its serial is lowercase hex without leading zero octets, as recorded. The
/// input is also tried as its own CA, so self-signed shapes reach signature checking.
pub fn client_certificate(data: &[u8]) {
    let cas = client_cas();
    if let Some(presented) = client_certificate::examine(data, cas) {
        use x509_parser::prelude::FromDer as _;
        let (_, leaf) = x509_parser::certificate::X509Certificate::from_der(data).expect("an accepted leaf parses");
        let tbs = leaf.tbs_certificate.as_ref();
        let known = issued_leaves()
            .into_iter()
            .chain(cas.iter().map(Vec::as_slice))
            .any(|der| x509_parser::certificate::X509Certificate::from_der(der).is_ok_and(|(_, c)| c.tbs_certificate.as_ref() == tbs));
        assert!(known, "a certificate none of our CAs issued is accepted");
        check_serial(&presented.serial);
    }
    if let Some(presented) = client_certificate::examine(data, &[data.to_vec()]) {
        check_serial(&presented.serial);
    }
}

fn check_serial(serial: &str) {
    assert!(serial.len().is_multiple_of(2) && !serial.starts_with("00"), "serial {serial}");
    assert!(serial.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "serial {serial}");
}

/// A CSV file for the user import, as text (the API refuses bytes that are not UTF-8).
/// Records come in line order, none blank, each starting on a line the text has; an
/// accepted table has the required columns and at most the row limit; and every field
/// read comes back unchanged through the export's quoting (with the `'` it puts before
/// what a spreadsheet would take for a formula).
pub fn csv_import(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines = 1 + text.matches('\n').count();
    let (records, malformed) = csv::parse(text);
    assert!(records.len() + malformed.len() <= lines);
    let mut last = 0;
    for record in &records {
        assert!(record.line > last && record.line <= lines, "line {} after {last} of {lines}", record.line);
        last = record.line;
        assert!(!(record.fields.len() == 1 && record.fields[0].trim().is_empty()), "a blank record");
    }
    assert!(malformed.iter().all(|m| m.line >= 1 && m.line <= lines));
    // A small row limit, so that the fuzzer's inputs reach it.
    const MAX_ROWS: usize = 8;
    if let Ok(table) = csv::table(text, &csv::USER_COLUMNS, &["login_id", "email"], MAX_ROWS) {
        assert!(table.rows.len() <= MAX_ROWS);
        assert!(table.names.iter().any(|n| n == "login_id") && table.names.iter().any(|n| n == "email"));
        assert!(table.names.iter().all(|n| csv::USER_COLUMNS.contains(&n.as_str())));
        assert_eq!(table.rows.len() + 1, records.len());
    }
    for record in records.iter().take(64) {
        let line: Vec<String> = record.fields.iter().map(|f| csv::quote(f)).collect();
        // After a header line, as in an export (a byte-order mark opening the very first
        // line is the file's, not the field's).
        let (again, bad) = csv::parse(&format!("h\n{}", line.join(",")));
        assert!(bad.is_empty(), "an exported line does not read back: {line:?}");
        let expected: Vec<String> = record
            .fields
            .iter()
            .map(|f| if f.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{f}") } else { f.clone() })
            .collect();
        assert_eq!(again.len(), 2, "{line:?}");
        assert_eq!(again[1].fields, expected);
    }
}

/// A small deterministic PRNG (xorshift) and byte mutations, for the stable runs.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn mutate(&mut self, input: &[u8], tokens: &[&[u8]]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..=(self.next() % 6) {
            let at = (self.next() as usize) % (out.len() + 1);
            match self.next() % 5 {
                0 if at < out.len() => out[at] = self.next() as u8,
                1 => {
                    let end = (at + 1 + (self.next() % 16) as usize).min(out.len());
                    out.drain(at.min(out.len())..end);
                }
                2 if !tokens.is_empty() => {
                    let token = tokens[(self.next() as usize) % tokens.len()];
                    out.splice(at..at, token.iter().copied());
                }
                3 => out.truncate(at),
                _ => out.insert(at, self.next() as u8),
            }
        }
        out
    }
}

/// Runs `target` over `seeds` and `rounds` mutations of them.
pub fn mutation_run(target: fn(&[u8]), seeds: &[Vec<u8>], tokens: &[&[u8]], rounds: usize) {
    let mut mutator = Mutator(0x2545_f491_4f6c_dd1d);
    for seed in seeds {
        target(seed);
    }
    for round in 0..rounds {
        let input = mutator.mutate(&seeds[round % seeds.len()], tokens);
        target(&input);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir).expect("corpus dir").map(|e| e.expect("entry").path()).collect();
        files.sort();
        files.iter().map(|p| std::fs::read(p).expect("read")).collect()
    }

    /// The real seeds reach what the targets are for: the signed tokens verify, the
    /// issued leaves are accepted (and the stranger's with the same issuer name is not),
    /// so the fuzzers start past the first refusal.
    #[test]
    fn real_seeds_verify_and_strangers_do_not() {
        for token in signed_inputs() {
            assert!(jws::parse(token).expect("parses").verify(jwks()).is_ok(), "{token}");
        }
        for leaf in issued_leaves() {
            assert!(client_certificate::examine(leaf, client_cas()).is_some());
        }
        let ec = client_certificate::examine(issued_leaves()[0], client_cas()).expect("ours");
        assert!(ec.client_auth && ec.serial == "8a0000000000000000000000000000000000000001", "{ec:?}");
        assert!(!client_certificate::examine(issued_leaves()[2], client_cas()).expect("ours").client_auth);
        let stranger = include_bytes!("../../fuzz/corpus/client_certificate/openssl-foreign-same-issuer-name.der");
        assert!(client_certificate::examine(stranger, client_cas()).is_none());
        assert!(client_certificate::examine(b"not a certificate", client_cas()).is_none());
    }

    #[test]
    fn mutated_jwts_keep_the_invariants() {
        mutation_run(jwt, &corpus("jwt"), &[b".", b"e30", b"eyJhbGciOiJFUzI1NiJ9", b"=", b"+/"], 20_000);
    }

    #[test]
    fn mutated_client_certificates_keep_the_invariants() {
        mutation_run(client_certificate, &corpus("client_certificate"), &[b"\x30\x82", b"\x02\x01\x00", b"\x00"], 4_000);
    }

    #[test]
    fn mutated_csv_imports_keep_the_invariants() {
        mutation_run(csv_import, &corpus("csv_import"), &[b"\"", b",", b"\r\n", b"\n", b"=", b"\xef\xbb\xbf", b"\"\""], 20_000);
    }
}
