//! Defaults of the policy document's certificate lifecycle knobs (absent from older
//! documents), taken from [`TenantPolicy::default`].

use mamori_storage::model::TenantPolicy;

pub fn expiry_reminder_days() -> u32 {
    TenantPolicy::default().certificate_expiry_reminder_days
}
pub fn expiry_reminder_repeats() -> u32 {
    TenantPolicy::default().certificate_expiry_reminder_repeats
}
pub fn renewal_grace_days() -> u32 {
    TenantPolicy::default().renewal_grace_days
}
pub fn csr_min_rsa_bits() -> u32 {
    TenantPolicy::default().csr_min_rsa_bits
}
