//! Tenants (contracts) and their policy knobs, as in the spec's "per-tenant policy".

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::string_enum;

string_enum! {
    /// How a user logs in: which factors the login transaction requires.
    pub enum LoginMethod {
        Cert => "cert",
        CertPassword => "cert+password",
        CertPasswordOtp => "cert+password+otp",
        Password => "password",
        PasswordOtp => "password+otp",
        /// The certificate and a passkey, which stands in for the password.
        CertPasskey => "cert+passkey",
        /// The certificate, the password and a passkey, which stands in for the one-time
        /// password.
        CertPasswordPasskey => "cert+password+passkey",
        /// A discoverable passkey alone, on the listener that asks for no certificate.
        Passkey => "passkey",
    }
}

impl LoginMethod {
    pub fn needs_certificate(self) -> bool {
        matches!(
            self,
            LoginMethod::Cert
                | LoginMethod::CertPassword
                | LoginMethod::CertPasswordOtp
                | LoginMethod::CertPasskey
                | LoginMethod::CertPasswordPasskey
        )
    }

    pub fn needs_password(self) -> bool {
        matches!(
            self,
            LoginMethod::CertPassword
                | LoginMethod::CertPasswordOtp
                | LoginMethod::Password
                | LoginMethod::PasswordOtp
                | LoginMethod::CertPasswordPasskey
        )
    }

    pub fn needs_passkey(self) -> bool {
        matches!(self, LoginMethod::CertPasskey | LoginMethod::CertPasswordPasskey | LoginMethod::Passkey)
    }

    pub fn needs_otp(self) -> bool {
        matches!(self, LoginMethod::CertPasswordOtp | LoginMethod::PasswordOtp)
    }
}

string_enum! {
    /// Key type of issued client certificates.
    pub enum CertificateKeyType {
        P256 => "p256",
        Rsa2048 => "rsa2048",
    }
}

string_enum! {
    /// PKCS#12 encryption: modern (PBES2/AES) or legacy (3DES/SHA-1) for old devices.
    pub enum Pkcs12Format {
        Modern => "modern",
        Legacy => "legacy",
    }
}

string_enum! {
    /// Where one-time passwords come from.
    pub enum OtpKind {
        Totp => "totp",
        Email => "email",
    }
}

/// Character classes a password may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordCharClasses {
    pub digits: bool,
    pub upper: bool,
    pub lower: bool,
    pub symbols: bool,
}

impl Default for PasswordCharClasses {
    fn default() -> Self {
        PasswordCharClasses { digits: true, upper: true, lower: true, symbols: true }
    }
}

/// A tenant's policy. `Default` gives the spec's defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantPolicy {
    /// Methods users of this tenant may have (a non-empty set).
    pub allowed_login_methods: Vec<LoginMethod>,
    /// Method given to new users; must be allowed.
    pub default_login_method: LoginMethod,
    pub password_min_length: u32,
    pub password_max_length: u32,
    pub password_char_classes: PasswordCharClasses,
    /// Days until a password expires; 0 = never.
    pub password_expiry_days: u32,
    /// How many previous passwords may not be reused (at least 1: the current one).
    pub password_history_count: u32,
    pub lockout_threshold_password: u32,
    pub lockout_threshold_secret_answer: u32,
    pub lockout_threshold_enrollment_otp: u32,
    /// Minutes after which a lock for wrong passwords or one-time passwords ends by itself;
    /// 0 = only an operator unlocks (the default, as in the spec). Locks for wrong secret
    /// answers always wait for an operator: they guard the reissue of credentials.
    #[serde(default)]
    pub lockout_release_minutes: u32,
    /// Whether the "N more attempts" warning is shown.
    pub show_attempts_left: bool,
    pub self_service_enabled: bool,
    pub password_reissue_enabled: bool,
    pub device_management_enabled: bool,
    pub login_method_change_enabled: bool,
    /// Whether users may ask for a certificate reissue themselves (operators always can).
    pub user_certificate_reissue_enabled: bool,
    pub max_devices: u32,
    pub certificate_validity_days: u32,
    pub certificate_key_type: CertificateKeyType,
    pub pkcs12_format: Pkcs12Format,
    pub otp_kind: OtpKind,
    pub session_idle_minutes: u32,
    pub session_absolute_minutes: u32,
    pub enrollment_ticket_hours: u32,
    pub download_ticket_hours: u32,
    pub download_max_count: u32,
    pub reissue_link_minutes: u32,
    // Certificate lifecycle (issue 21, m0020). Absent from older policy documents, which
    // get the defaults.
    /// Days before a device's certificate expires that its user is first mailed a
    /// reminder to renew; 0 = no reminders.
    #[serde(default = "defaults::expiry_reminder_days")]
    pub certificate_expiry_reminder_days: u32,
    /// Further reminders after the first, evenly spaced before the expiry (see
    /// [`TenantPolicy::expiry_reminder_thresholds`]).
    #[serde(default = "defaults::expiry_reminder_repeats")]
    pub certificate_expiry_reminder_repeats: u32,
    /// After a renewal from the account page, how many days the device's previous
    /// certificate keeps working if the new one is never used to log in (0: it is
    /// revoked when next presented or swept).
    #[serde(default = "defaults::renewal_grace_days")]
    pub renewal_grace_days: u32,
    /// The smallest RSA key (bits) accepted in a certificate signing request; never below
    /// 2048.
    #[serde(default = "defaults::csr_min_rsa_bits")]
    pub csr_min_rsa_bits: u32,
    /// Whether a user created through SCIM with an e-mail address is mailed an
    /// enrollment ticket, its URL and one-time password in one mail (issue 23, m0024).
    /// Off by default: the flows hand the password over apart from the URL, and a mail
    /// carrying both is weaker. Absent from older documents: off.
    #[serde(default)]
    pub scim_enrollment_mail: bool,
}

/// Defaults of the certificate lifecycle knobs, for documents written before them.
mod defaults {
    pub fn expiry_reminder_days() -> u32 {
        30
    }
    pub fn expiry_reminder_repeats() -> u32 {
        1
    }
    pub fn renewal_grace_days() -> u32 {
        14
    }
    pub fn csr_min_rsa_bits() -> u32 {
        super::CSR_RSA_FLOOR_BITS
    }
}

/// No policy accepts RSA keys below this size (112-bit strength) in a CSR.
pub const CSR_RSA_FLOOR_BITS: u32 = 2048;

/// The largest RSA key a CSR may carry, so the highest `csr_min_rsa_bits` (the CA's own
/// bound in `mamori-ca`).
pub const CSR_RSA_CEILING_BITS: u32 = 8192;

/// The largest value of a knob that still means something a user could meet; the others
/// go up to the 32-bit column they are stored in. Every surface shows these as the range.
const KNOB_CEILINGS: [(&str, u32); 7] = [
    // A reminder ten years ahead, more reminders than days.
    ("certificate_expiry_reminder_days", 3650),
    ("certificate_expiry_reminder_repeats", 365),
    ("renewal_grace_days", 365),
    // Ten years: longer than any device should keep one key (and certificates never
    // outlive their CA whatever this says).
    ("certificate_validity_days", 3650),
    // An RSA minimum no accepted key reaches.
    ("csr_min_rsa_bits", CSR_RSA_CEILING_BITS),
    // The password fields take at most 256 characters.
    ("password_max_length", 256),
    ("password_min_length", 256),
];

/// The smallest value of a knob where that is more than 0 or 1.
const KNOB_FLOORS: [(&str, u32); 1] = [
    // NIST SP 800-63B §5.1.1.2: at least 8 characters for a chosen password.
    ("password_min_length", 8),
];

impl Default for TenantPolicy {
    fn default() -> Self {
        TenantPolicy {
            // Certificate-based methods only, unless a contract says otherwise.
            allowed_login_methods: vec![LoginMethod::Cert, LoginMethod::CertPassword, LoginMethod::CertPasswordOtp],
            default_login_method: LoginMethod::CertPassword,
            password_min_length: 8,
            password_max_length: 32,
            password_char_classes: PasswordCharClasses::default(),
            password_expiry_days: 90,
            password_history_count: 1,
            lockout_threshold_password: 5,
            lockout_threshold_secret_answer: 5,
            lockout_threshold_enrollment_otp: 5,
            lockout_release_minutes: 0,
            show_attempts_left: true,
            self_service_enabled: true,
            password_reissue_enabled: true,
            device_management_enabled: true,
            login_method_change_enabled: true,
            user_certificate_reissue_enabled: false,
            max_devices: 3,
            certificate_validity_days: 365,
            certificate_key_type: CertificateKeyType::P256,
            pkcs12_format: Pkcs12Format::Modern,
            otp_kind: OtpKind::Totp,
            session_idle_minutes: 30,
            session_absolute_minutes: 480,
            enrollment_ticket_hours: 72,
            download_ticket_hours: 72,
            download_max_count: 3,
            reissue_link_minutes: 60,
            certificate_expiry_reminder_days: defaults::expiry_reminder_days(),
            certificate_expiry_reminder_repeats: defaults::expiry_reminder_repeats(),
            renewal_grace_days: defaults::renewal_grace_days(),
            csr_min_rsa_bits: defaults::csr_min_rsa_bits(),
            scim_enrollment_mail: false,
        }
    }
}

/// Which rule a policy knob breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyRule {
    /// Zero where at least 1 is needed.
    AtLeastOne,
    /// Beyond the 32-bit signed column it is stored in.
    TooLarge,
    /// The maximum password length below the minimum.
    BelowMinimum,
    /// No password character class allowed.
    NoCharacterClass,
    /// No login method allowed.
    NoMethod,
    /// The default login method is not an allowed one.
    DefaultNotAllowed,
    /// The absolute session lifetime below the idle one.
    BelowIdle,
    /// An RSA key size below [`CSR_RSA_FLOOR_BITS`].
    BelowRsaFloor,
    /// Below the knob's floor ([`TenantPolicy::floor_of`]).
    TooSmall,
}

/// The first knob of a policy that breaks a rule, so that every surface can name it (the
/// API by its name, the console by its label in the operator's language).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyProblem {
    /// The knob, spelt as in [`TenantPolicy`]'s fields.
    pub knob: &'static str,
    pub rule: PolicyRule,
}

impl std::fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let knob = self.knob;
        match self.rule {
            PolicyRule::AtLeastOne => write!(f, "{knob} must be at least 1"),
            PolicyRule::TooLarge => write!(f, "{knob} is too large"),
            PolicyRule::TooSmall => write!(f, "{knob} is too small"),
            PolicyRule::BelowMinimum => write!(f, "{knob} must not be below password_min_length"),
            PolicyRule::NoCharacterClass => write!(f, "{knob} must allow at least one class"),
            PolicyRule::NoMethod => write!(f, "{knob} must not be empty"),
            PolicyRule::DefaultNotAllowed => write!(f, "{knob} must be one of allowed_login_methods"),
            PolicyRule::BelowIdle => write!(f, "{knob} must not be below session_idle_minutes"),
            PolicyRule::BelowRsaFloor => write!(f, "{knob} must be at least {CSR_RSA_FLOOR_BITS}"),
        }
    }
}

impl TenantPolicy {
    /// The largest value `knob` may take, where it is less than the column's limit.
    pub fn ceiling_of(knob: &str) -> Option<u32> {
        KNOB_CEILINGS.iter().find(|(name, _)| *name == knob).map(|(_, ceiling)| *ceiling)
    }

    /// The smallest value `knob` may take, where it is more than 0 or 1.
    pub fn floor_of(knob: &str) -> Option<u32> {
        KNOB_FLOORS.iter().find(|(name, _)| *name == knob).map(|(_, floor)| *floor)
    }

    /// Checks the knobs against each other; the message names the first bad knob.
    pub fn validate(&self) -> Result<(), String> {
        self.check().map_err(|problem| problem.to_string())
    }

    /// [`Self::validate`], saying which knob breaks which rule.
    pub fn check(&self) -> Result<(), PolicyProblem> {
        let refuse = |knob: &'static str, rule: PolicyRule| Err(PolicyProblem { knob, rule });
        let positive = [
            ("password_min_length", self.password_min_length),
            ("password_history_count", self.password_history_count),
            ("lockout_threshold_password", self.lockout_threshold_password),
            ("lockout_threshold_secret_answer", self.lockout_threshold_secret_answer),
            ("lockout_threshold_enrollment_otp", self.lockout_threshold_enrollment_otp),
            ("max_devices", self.max_devices),
            ("certificate_validity_days", self.certificate_validity_days),
            ("session_idle_minutes", self.session_idle_minutes),
            ("session_absolute_minutes", self.session_absolute_minutes),
            ("enrollment_ticket_hours", self.enrollment_ticket_hours),
            ("download_ticket_hours", self.download_ticket_hours),
            ("download_max_count", self.download_max_count),
            ("reissue_link_minutes", self.reissue_link_minutes),
            // 0 would revoke the old certificate before the user installed the new one.
            ("renewal_grace_days", self.renewal_grace_days),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return refuse(name, PolicyRule::AtLeastOne);
        }
        // Values are stored in 32-bit signed columns.
        let mut all = positive.to_vec();
        all.push(("password_max_length", self.password_max_length));
        all.push(("password_expiry_days", self.password_expiry_days));
        all.push(("lockout_release_minutes", self.lockout_release_minutes));
        all.push(("certificate_expiry_reminder_days", self.certificate_expiry_reminder_days));
        all.push(("certificate_expiry_reminder_repeats", self.certificate_expiry_reminder_repeats));
        all.push(("csr_min_rsa_bits", self.csr_min_rsa_bits));
        if let Some((name, _)) = all.iter().find(|(_, value)| i32::try_from(*value).is_err()) {
            return refuse(name, PolicyRule::TooLarge);
        }
        if let Some((name, _)) = all.iter().find(|(name, value)| Self::ceiling_of(name).is_some_and(|ceiling| *value > ceiling)) {
            return refuse(name, PolicyRule::TooLarge);
        }
        if let Some((name, _)) = all.iter().find(|(name, value)| Self::floor_of(name).is_some_and(|floor| *value < floor)) {
            return refuse(name, PolicyRule::TooSmall);
        }
        if self.password_max_length < self.password_min_length {
            return refuse("password_max_length", PolicyRule::BelowMinimum);
        }
        let classes = self.password_char_classes;
        if !(classes.digits || classes.upper || classes.lower || classes.symbols) {
            return refuse("password_char_classes", PolicyRule::NoCharacterClass);
        }
        if self.allowed_login_methods.is_empty() {
            return refuse("allowed_login_methods", PolicyRule::NoMethod);
        }
        if !self.allowed_login_methods.contains(&self.default_login_method) {
            return refuse("default_login_method", PolicyRule::DefaultNotAllowed);
        }
        if self.session_absolute_minutes < self.session_idle_minutes {
            return refuse("session_absolute_minutes", PolicyRule::BelowIdle);
        }
        if self.csr_min_rsa_bits < CSR_RSA_FLOOR_BITS {
            return refuse("csr_min_rsa_bits", PolicyRule::BelowRsaFloor);
        }
        Ok(())
    }

    /// How long a renewed certificate keeps working beside its renewal: at least a day,
    /// also for a tenant saved with 0 before [`Self::check`] refused it, so that the user
    /// is never locked out before installing the new certificate.
    pub fn renewal_grace(&self) -> time::Duration {
        time::Duration::days(i64::from(self.renewal_grace_days.max(1)))
    }

    /// Which reminder is due for a certificate with `remaining` time left: the days of
    /// the nearest threshold it has reached, or `None` (reminders off, not yet within
    /// the first one, or already expired). The first threshold is at
    /// `certificate_expiry_reminder_days`, then `certificate_expiry_reminder_repeats` more
    /// at even steps towards the expiry (30 days and 2 repeats: 30, 20, 10), rounded up
    /// to whole days, at most one a day. A reminder a node missed while down is not sent
    /// late once a nearer one is due: only the nearest counts.
    pub fn expiry_reminder_due(&self, remaining: time::Duration) -> Option<u32> {
        let days = u64::from(self.certificate_expiry_reminder_days);
        if days == 0
            || remaining <= time::Duration::ZERO
            || remaining > time::Duration::days(i64::from(self.certificate_expiry_reminder_days))
        {
            return None;
        }
        // More reminders than days cannot be told apart: one a day at most, so the
        // thresholds are distinct and decreasing.
        let steps = u64::from(self.certificate_expiry_reminder_repeats).min(days - 1) + 1;
        let threshold = |i: u64| (days * (steps - i)).div_ceil(steps);
        let reached = |i: u64| time::Duration::days(i64::try_from(threshold(i)).unwrap_or(i64::MAX)) >= remaining;
        // The largest step whose threshold `remaining` has reached; step 0 has.
        let (mut low, mut high) = (0, steps - 1);
        while low < high {
            let middle = (low + high).div_ceil(2);
            if reached(middle) { low = middle } else { high = middle - 1 }
        }
        u32::try_from(threshold(low)).ok()
    }
}

/// A tenant: one contract, owning users and relying sites.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: Uuid,
    /// Short unique name used in URLs, e.g. "demo".
    pub slug: String,
    pub display_name: String,
    pub created_at: OffsetDateTime,
    pub policy: TenantPolicy,
}

/// A tenant's branding beyond its display name. Each value was checked by the IdP's field
/// rules before it was stored; storage keeps them as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantBranding {
    /// `#rrggbb`, lower case.
    pub accent_colour: Option<String>,
    /// Hex SHA-256 of the logo: names its version in URLs.
    pub logo_sha256: Option<String>,
    /// The PNG itself, only when asked for.
    pub logo_png: Option<Vec<u8>>,
}

#[cfg(test)]
mod reminder_tests {
    use super::{PolicyRule, TenantPolicy};

    /// The thresholds a certificate passes on its way to expiry, checked hour by hour.
    fn thresholds(days: u32, repeats: u32) -> Vec<u32> {
        let policy = TenantPolicy {
            certificate_expiry_reminder_days: days,
            certificate_expiry_reminder_repeats: repeats,
            ..TenantPolicy::default()
        };
        let mut seen: Vec<u32> = Vec::new();
        for hours in (1..=i64::from(days + 2) * 24).rev() {
            if let Some(due) = policy.expiry_reminder_due(time::Duration::hours(hours))
                && seen.last() != Some(&due)
            {
                seen.push(due);
            }
        }
        seen
    }

    #[test]
    fn reminders_step_evenly_towards_the_expiry() {
        assert_eq!(thresholds(30, 0), vec![30]);
        assert_eq!(thresholds(30, 1), vec![30, 15]);
        assert_eq!(thresholds(30, 2), vec![30, 20, 10]);
        assert_eq!(thresholds(14, 2), vec![14, 10, 5], "rounded up");
        assert_eq!(thresholds(0, 5), Vec::<u32>::new(), "0 days: no reminders");
        assert_eq!(thresholds(3, 10), vec![3, 2, 1], "one a day at most");
        assert_eq!(thresholds(1, 0), vec![1]);
    }

    #[test]
    fn the_nearest_reached_threshold_is_due() {
        let policy =
            TenantPolicy { certificate_expiry_reminder_days: 30, certificate_expiry_reminder_repeats: 2, ..TenantPolicy::default() };
        let due = |d: f64| policy.expiry_reminder_due(time::Duration::seconds_f64(d * 86400.0));
        assert_eq!(due(31.0), None, "not yet");
        assert_eq!(due(30.0), Some(30));
        assert_eq!(due(20.5), Some(30));
        assert_eq!(due(20.0), Some(20));
        assert_eq!(due(9.0), Some(10), "the 30 and 20 day reminders missed: only the nearest");
        assert_eq!(due(0.0), None, "expired");
        assert_eq!(due(-1.0), None, "expired");
        let huge = TenantPolicy {
            certificate_expiry_reminder_days: i32::MAX as u32,
            certificate_expiry_reminder_repeats: i32::MAX as u32,
            ..TenantPolicy::default()
        };
        assert_eq!(huge.expiry_reminder_due(time::Duration::days(1)), Some(1), "no list of two billion thresholds, no overflow");
    }

    #[test]
    fn lifecycle_knobs_have_ceilings_a_user_could_meet() {
        for (knob, policy) in [
            ("certificate_expiry_reminder_days", TenantPolicy { certificate_expiry_reminder_days: 3651, ..TenantPolicy::default() }),
            ("certificate_expiry_reminder_repeats", TenantPolicy { certificate_expiry_reminder_repeats: 366, ..TenantPolicy::default() }),
            ("renewal_grace_days", TenantPolicy { renewal_grace_days: 1_000_000, ..TenantPolicy::default() }),
            ("csr_min_rsa_bits", TenantPolicy { csr_min_rsa_bits: 16384, ..TenantPolicy::default() }),
        ] {
            assert_eq!(policy.check().expect_err(knob).knob, knob);
        }
        let at_ceilings = TenantPolicy {
            certificate_expiry_reminder_days: 3650,
            certificate_expiry_reminder_repeats: 365,
            renewal_grace_days: 365,
            csr_min_rsa_bits: 8192,
            ..TenantPolicy::default()
        };
        assert!(at_ceilings.check().is_ok());
    }

    #[test]
    fn knobs_stay_within_what_a_user_can_meet() {
        let refused = |policy: TenantPolicy| policy.check().expect_err("refused");
        // A validity no CA can issue, a grace period of none, passwords no field takes.
        let cases = [
            (
                TenantPolicy { certificate_validity_days: 3651, ..TenantPolicy::default() },
                "certificate_validity_days",
                PolicyRule::TooLarge,
            ),
            (TenantPolicy { renewal_grace_days: 0, ..TenantPolicy::default() }, "renewal_grace_days", PolicyRule::AtLeastOne),
            (TenantPolicy { password_min_length: 7, ..TenantPolicy::default() }, "password_min_length", PolicyRule::TooSmall),
            (TenantPolicy { password_max_length: 257, ..TenantPolicy::default() }, "password_max_length", PolicyRule::TooLarge),
        ];
        for (policy, knob, rule) in cases {
            let problem = refused(policy);
            assert_eq!((problem.knob, problem.rule), (knob, rule));
        }
        // Their edges are allowed.
        let edges = TenantPolicy {
            certificate_validity_days: 3650,
            renewal_grace_days: 1,
            password_min_length: 8,
            password_max_length: 256,
            ..TenantPolicy::default()
        };
        assert!(edges.check().is_ok());
        // A tenant saved with no grace period before it was refused still gets a day.
        assert_eq!(TenantPolicy { renewal_grace_days: 0, ..TenantPolicy::default() }.renewal_grace(), time::Duration::days(1));
        assert_eq!(TenantPolicy::ceiling_of("certificate_validity_days"), Some(3650));
        assert_eq!(TenantPolicy::floor_of("max_devices"), None);
    }

    #[test]
    fn csr_keys_below_2048_bits_are_refused() {
        let policy = TenantPolicy { csr_min_rsa_bits: 1024, ..TenantPolicy::default() };
        assert_eq!(policy.validate().expect_err("refused"), "csr_min_rsa_bits must be at least 2048");
        assert!(TenantPolicy { csr_min_rsa_bits: 3072, ..TenantPolicy::default() }.validate().is_ok());
    }
}
