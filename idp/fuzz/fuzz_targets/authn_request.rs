//! AuthnRequest parsing: screening, samael's parser, and libxml2/xmlsec signature
//! verification, over raw XML and HTTP-Redirect query strings.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mamori_saml_wire::fuzzing::authn_request(data);
});
