//! The DER certificate a browser presents at login, judged against our CAs
//! (mamori_untrusted::fuzzing::client_certificate).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mamori_untrusted::fuzzing::client_certificate(data);
});
