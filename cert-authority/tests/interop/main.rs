//! Interoperability tests: everything this crate produces is checked by an independent
//! implementation, the `openssl` command-line tool, and read back with x509-parser.
//! One test binary for the crate keeps link time down.

// Fixture helpers are not #[test] functions, but a panic there is still a failed test.
#![allow(clippy::unwrap_used)]

mod common;
mod crl;
mod csr;
mod device_certificates;
mod import;
mod pkcs12;
mod sealing;
