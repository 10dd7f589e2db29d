//! SAML SP metadata as an administrator uploads it: screened, parsed, endpoints held to
//! the https/loopback rule (mamori_saml_wire::fuzzing::sp_metadata).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mamori_saml_wire::fuzzing::sp_metadata(data);
});
