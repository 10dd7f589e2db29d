//! User flows, free of HTTP: handlers in `web` parse a request, call a flow, render.

pub mod account;
pub mod client_certificate;
pub mod device_certificate;
pub mod download;
pub mod enrollment;
pub mod events;
pub mod login;
pub mod mobileconfig;
pub mod mobileconfig_signing;
pub mod otp;
pub mod passkey;
pub mod passkey_login;
pub mod password_login;
pub mod password_policy;
pub mod reissue;
pub mod resume;
pub mod secret_answer;
pub mod session_binding;
pub mod session_end;
pub mod step_up;

#[cfg(test)]
mod client_certificate_tests;
#[cfg(test)]
mod layering_tests;
#[cfg(test)]
mod login_tests;
#[cfg(test)]
mod mobileconfig_signing_tests;
