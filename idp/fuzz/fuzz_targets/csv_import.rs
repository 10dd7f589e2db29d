//! CSV text for the user import: records, header and row limit, export round trip
//! (mamori_untrusted::fuzzing::csv_import).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mamori_untrusted::fuzzing::csv_import(data);
});
