//! Browser-facing plumbing shared by every page: language, CSRF, sessions, client facts.

pub mod account;
pub mod brand;
pub mod console;
pub mod context;
pub mod csrf;
pub mod download;
pub mod enroll;
pub mod login;
pub mod login_passkey;
pub mod login_password;
pub mod mailbox;
pub mod ocsp;
pub mod page;
pub mod pages;
pub mod reissue;
pub mod request;
pub mod session;
