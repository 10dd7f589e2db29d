//! What the fuzz targets drive (`idp/fuzz`, cargo-fuzz) and what the bounded
//! mutation test below drives on stable Rust in every `cargo test`: an untrusted message
//! through screening, parsing and, when it carries a signature, libxml2/xmlsec
//! verification — the whole path an AuthnRequest or LogoutRequest takes before any
//! decision is made. Nothing here may panic, hang or grow without bound, whatever the
//! input.

use std::sync::OnceLock;

use base64::Engine as _;

use crate::messages::{parse_authn_request, parse_logout_request};
use crate::{binding, verify};

/// A fixed certificate to verify against. Its key was discarded when it was made, so a
/// verification can only fail — but libxml2 and xmlsec parse and canonicalise first.
fn certificate() -> &'static [Vec<u8>] {
    static CERT: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CERT.get_or_init(|| {
        let pem = include_str!("fuzz-certificate.pem");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD.decode(body).map(|der| vec![der]).unwrap_or_default()
    })
}

/// An AuthnRequest as raw XML, then as an HTTP-Redirect query and as an HTTP-POST form
/// body (the bytes the SSO endpoint receives).
pub fn authn_request(data: &[u8]) {
    let parse = |xml: &[u8]| {
        if let Ok((text, request)) = parse_authn_request(xml) {
            let _ = verify::verify_enveloped(&text, &request.id, certificate());
        }
    };
    parse(data);
    for incoming in decoded(data) {
        parse(&incoming.xml);
    }
}

/// A LogoutRequest as raw XML, then as an HTTP-Redirect query and an HTTP-POST form body.
pub fn logout_request(data: &[u8]) {
    let parse = |xml: &[u8]| {
        if let Ok((text, request)) = parse_logout_request(xml) {
            let _ = verify::verify_enveloped(&text, &request.id, certificate());
        }
    };
    parse(data);
    for incoming in decoded(data) {
        parse(&incoming.xml);
    }
}

/// SP metadata as an administrator uploads it. Whatever is accepted names its entity
/// (the one expected, when one is), has an AssertionConsumerService, sends nothing
/// anywhere but https or http to a loopback host, without user name or fragment (the
/// rule of [`crate::endpoint`], checked here by the URL's parts again), and carries
/// only certificates that parse, each sorted by its key use.
pub fn sp_metadata(data: &[u8]) {
    use crate::metadata::parse_sp_metadata;
    const EXPECTED: &str = "https://sp.example/onelogin/metadata";
    if let Ok(meta) = parse_sp_metadata(data, Some(EXPECTED)) {
        assert_eq!(meta.entity_id, EXPECTED);
    }
    let Ok(meta) = parse_sp_metadata(data, None) else { return };
    assert!(!meta.entity_id.is_empty() && !meta.acs.is_empty());
    let urls = meta.acs.iter().map(|a| &a.url).chain(meta.slo.iter().flat_map(|s| std::iter::once(&s.url).chain(&s.response_url)));
    for text in urls {
        let url = url::Url::parse(text).expect("an accepted endpoint parses");
        assert!(url.username().is_empty() && url.password().is_none() && url.fragment().is_none(), "{text}");
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        assert!((url.scheme() == "https" && url.host().is_some()) || (url.scheme() == "http" && loopback), "{text}");
        assert!(!text.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\'), "{text:?}");
    }
    let ders: Vec<Vec<u8>> = meta.certificates.iter().map(|p| pem::parse(p).expect("PEM").into_contents()).collect();
    for der in meta.signing_certificates.iter().chain(&meta.encryption_certificates) {
        assert!(x509_parser::parse_x509_certificate(der).is_ok());
        assert!(ders.contains(der), "a key-use certificate is not among the certificates");
    }
    assert!(ders.iter().all(|d| meta.signing_certificates.contains(d) || meta.encryption_certificates.contains(d)));
}

/// The messages `data` carries read as a Redirect query (its query signature checked, as
/// the endpoint does before parsing) and as a POST form body.
fn decoded(data: &[u8]) -> Vec<binding::Incoming> {
    let mut out = Vec::new();
    if let Ok(query) = std::str::from_utf8(data)
        && let Ok(incoming) = binding::from_redirect_query(query)
    {
        if let Some(signature) = &incoming.query_signature {
            let _ = binding::verify_query_signature(signature, certificate());
        }
        out.push(incoming);
    }
    if let Ok(incoming) = binding::from_post_form(data) {
        out.push(incoming);
    }
    out
}

/// A document through the exclusive canonicalisation the IdP signs with. It only ever
/// canonicalises what it wrote itself, but it lives among the parsers of outside input
/// and keeps their promise: no panic, no hang. And a canonical form is a fixed point:
/// whatever it accepts, canonicalised again, comes out the same, for every element as
/// the apex and with any element left out.
pub fn c14n(data: &[u8]) {
    use crate::c14n::{elements, exclusive};
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(list) = elements(text) else { return };
    for (n, apex) in list.iter().enumerate().take(16) {
        let omit = list.get(n + 1).map(|e| e.span.start);
        for omit in [None, omit] {
            let Ok(canonical) = exclusive(text, apex.span.start, omit) else { continue };
            let again = exclusive(&canonical, 0, None).unwrap_or_else(|e| panic!("the canonical form does not read again: {e}"));
            assert_eq!(again, canonical, "canonicalising the canonical form changed it");
        }
    }
}

/// Seed inputs: well-formed requests (one signed), and the hostile shapes the screening
/// exists for. The cargo-fuzz corpus (`idp/fuzz/corpus/*`) starts from these too.
pub fn seeds() -> Vec<Vec<u8>> {
    const AUTHN: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2026-04-01T09:00:00Z" Destination="https://idp/t/demo/saml/sso" AssertionConsumerServiceURL="https://sp/acs" ForceAuthn="true" IsPassive="false"><saml:Issuer>https://sp/metadata</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" AllowCreate="true"/><samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:X509</saml:AuthnContextClassRef></samlp:RequestedAuthnContext></samlp:AuthnRequest>"#;
    const LOGOUT: &str = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_l1" Version="2.0" IssueInstant="2026-04-01T09:00:00Z" Destination="https://idp/t/demo/saml/slo" NotOnOrAfter="2026-04-01T09:05:00Z"><saml:Issuer>https://sp/metadata</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">abc</saml:NameID><samlp:SessionIndex>_s1</samlp:SessionIndex></samlp:LogoutRequest>"#;
    const SIGNATURE: &str = r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"##;
    let signed_authn = AUTHN.replacen("</saml:Issuer>", &format!("</saml:Issuer>{SIGNATURE}"), 1);
    let signed_logout = LOGOUT.replacen("</saml:Issuer>", &format!("</saml:Issuer>{}", SIGNATURE.replace("#_a1", "#_l1")), 1);
    let redirect = |xml: &str| {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(binding::deflate(xml.as_bytes()));
        format!("SAMLRequest={}&RelayState=x&SigAlg=y&Signature=AAAA", binding::form_encode(&b64)).into_bytes()
    };
    vec![
        AUTHN.as_bytes().to_vec(),
        signed_authn.clone().into_bytes(),
        LOGOUT.as_bytes().to_vec(),
        signed_logout.into_bytes(),
        redirect(AUTHN),
        redirect(LOGOUT),
        format!(r#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>{AUTHN}"#).into_bytes(),
        AUTHN.replace("https://sp/metadata", "&x;").into_bytes(),
        format!("<samlp:Extensions>{}{}</samlp:Extensions>", "<a>".repeat(40), "</a>".repeat(40)).into_bytes(),
    ]
}

/// A small deterministic PRNG (xorshift), so the stable run is reproducible.
pub struct Mutator(u64);

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Mutator(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }

    /// One to eight byte-level and XML-aware mutations of `input`.
    pub fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        const TOKENS: [&[u8]; 14] = [
            b"<",
            b">",
            b"&",
            b"&amp;",
            b"&#0;",
            b"<!DOCTYPE x>",
            b"<!--",
            b"-->",
            b"<![CDATA[",
            b"]]>",
            b"xmlns:p=\"u\"",
            b" ID=\"_a1\"",
            b"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/>",
            b"\xff",
        ];
        let mut out = input.to_vec();
        for _ in 0..=self.below(8) {
            let at = self.below(out.len() + 1);
            match self.below(6) {
                0 if !out.is_empty() => {
                    let i = self.below(out.len());
                    out[i] = self.next() as u8;
                }
                1 if !out.is_empty() => {
                    let end = (at + 1 + self.below(16)).min(out.len());
                    out.drain(at.min(out.len())..end);
                }
                2 => {
                    let token = TOKENS[self.below(TOKENS.len())];
                    out.splice(at..at, token.iter().copied());
                }
                3 if !out.is_empty() => {
                    let start = self.below(out.len());
                    let end = (start + 1 + self.below(64)).min(out.len());
                    let chunk = out[start..end].to_vec();
                    out.splice(at..at, chunk);
                }
                4 => out.truncate(at),
                _ => {
                    let b = self.next() as u8;
                    out.insert(at, b);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("corpus dir")
            .map(|e| e.expect("entry").path())
            .map(|p| (p.file_name().expect("name").to_string_lossy().into_owned(), std::fs::read(&p).expect("read")))
            .collect();
        files.sort();
        files
    }

    /// The committed SP metadata corpus replays; what python3-saml and pysaml2 publish is
    /// accepted, and the hostile seeds are refused; a bounded mutation run keeps the
    /// target's invariants.
    #[test]
    fn sp_metadata_corpus_replays_real_metadata_parses_and_mutations_keep_the_invariants() {
        let files = corpus("sp_metadata");
        let mut real = 0;
        for (name, data) in &files {
            sp_metadata(data);
            let parsed = crate::metadata::parse_sp_metadata(data, None);
            if name.starts_with("onelogin-") || name.starts_with("pysaml2-") {
                real += 1;
                let meta = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(!meta.signing_certificates.is_empty(), "{name}");
            } else if name.starts_with("seed-") {
                assert!(parsed.is_err(), "{name} is accepted");
            }
        }
        assert!(real >= 3, "the real metadata seeds are missing");
        let mut mutator = Mutator::new(7);
        for round in 0..1500 {
            sp_metadata(&mutator.mutate(&files[round % files.len()].1));
        }
    }

    /// The committed corpus (the seeds from python3-saml and pysaml2, `make_seeds.py`, and
    /// any input a fuzzer once crashed on) replays without a panic, and every message a
    /// real SP sent gets through decoding, screening and parsing: the fuzzers start from
    /// inputs that reach the parsers rather than being refused at the first byte.
    #[test]
    fn committed_corpus_replays_and_real_requests_parse() {
        type Target = (&'static str, fn(&[u8]), fn(&[u8]) -> bool);
        let targets: [Target; 2] = [
            ("authn_request", authn_request, |xml| parse_authn_request(xml).is_ok()),
            ("logout_request", logout_request, |xml| parse_logout_request(xml).is_ok()),
        ];
        for (target, run, parses) in targets {
            let files = corpus(target);
            let mut real = 0;
            for (name, data) in &files {
                run(data);
                if !(name.starts_with("onelogin-") || name.starts_with("pysaml2-")) {
                    continue;
                }
                real += 1;
                let xml = if name.ends_with("-xml") {
                    data.clone()
                } else {
                    let text = std::str::from_utf8(data).expect("utf-8");
                    let incoming =
                        if name.ends_with("-redirect") { binding::from_redirect_query(text) } else { binding::from_post_form(data) };
                    incoming.unwrap_or_else(|e| panic!("{target}/{name}: {e}")).xml
                };
                assert!(parses(&xml), "{target}/{name} does not parse");
            }
            assert!(real >= 6, "{target}: only {real} seeds from real SPs");
        }
    }

    /// The fuzz targets' code on stable Rust: a bounded run over mutated seeds (set
    /// `MAMORI_FUZZ_ITERATIONS` for a longer one). A panic fails the test; libxml2 or
    /// xmlsec crashing would abort it.
    #[test]
    fn mutated_requests_never_panic() {
        assert_eq!(certificate().len(), 1, "the verifier certificate decodes");
        let iterations: usize = std::env::var("MAMORI_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
        let seeds = seeds();
        let mut mutator = Mutator::new(0x5eed_5a31);
        for seed in &seeds {
            authn_request(seed);
            logout_request(seed);
        }
        for i in 0..iterations {
            let input = mutator.mutate(&seeds[i % seeds.len()]);
            authn_request(&input);
            logout_request(&input);
        }
    }

    /// The c14n corpus replays, every seed canonicalises (they are the shapes the IdP
    /// signs; `regression-*` files are inputs a fuzzer once failed on), and a bounded mutation
    /// run keeps the fixed point.
    #[test]
    fn c14n_corpus_canonicalises_and_mutations_keep_the_fixed_point() {
        let files = corpus("c14n");
        assert!(files.len() >= 5, "the c14n seeds are missing");
        for (name, data) in &files {
            c14n(data);
            // Inputs a fuzzer once failed on are kept to replay, not as shapes we sign.
            if name.starts_with("regression-") {
                continue;
            }
            let text = std::str::from_utf8(data).expect("utf-8 seed");
            let start = text.find('<').expect("an element");
            assert!(crate::c14n::exclusive(text, start, None).is_ok(), "{name} does not canonicalise");
        }
        let mut mutator = Mutator::new(11);
        for round in 0..5000 {
            c14n(&mutator.mutate(&files[round % files.len()].1));
        }
    }
}
