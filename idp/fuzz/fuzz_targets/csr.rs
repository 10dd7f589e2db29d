//! Certificate signing requests, PEM or DER: read and, when acceptable, issued by a CA
//! (mamori_ca::fuzzing::csr).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mamori_ca::fuzzing::csr(data);
});
