//! The exclusive canonicalisation the IdP signs its own documents with: no panic or hang
//! on any input, and the canonical form is a fixed point (mamori_saml_wire::fuzzing::c14n).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mamori_saml_wire::fuzzing::c14n(data);
});
