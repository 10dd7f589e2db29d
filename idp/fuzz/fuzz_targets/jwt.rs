//! Compact JWS as request objects, client assertions and `id_token_hint` arrive: parsed,
//! re-encoded and verified (mamori_untrusted::fuzzing::jwt).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mamori_untrusted::fuzzing::jwt(data);
});
