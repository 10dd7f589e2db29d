//! Certificate revocation lists (RFC 5280 section 5): v2, with crlNumber and
//! authorityKeyIdentifier, and a reasonCode on each entry unless it is unspecified.

use std::fmt;
use std::str::FromStr;

use rcgen::{CertificateRevocationListParams, RevokedCertParams, SerialNumber};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::encoding::{certificate_time, parse_serial_hex, pem_encode};
use crate::{CaError, CertificateAuthority};

/// CRLReason (RFC 5280 section 5.3.1), minus the codes that only apply to delta CRLs
/// and attribute authorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevocationReason {
    #[default]
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    PrivilegeWithdrawn,
}

impl RevocationReason {
    pub const ALL: [RevocationReason; 8] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::CertificateHold,
        Self::PrivilegeWithdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "key-compromise",
            Self::CaCompromise => "ca-compromise",
            Self::AffiliationChanged => "affiliation-changed",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessation-of-operation",
            Self::CertificateHold => "certificate-hold",
            Self::PrivilegeWithdrawn => "privilege-withdrawn",
        }
    }

    /// `None` for Unspecified: RFC 5280 says to omit the extension rather than write 0.
    fn to_rcgen(self) -> Option<rcgen::RevocationReason> {
        use rcgen::RevocationReason as R;
        match self {
            Self::Unspecified => None,
            Self::KeyCompromise => Some(R::KeyCompromise),
            Self::CaCompromise => Some(R::CaCompromise),
            Self::AffiliationChanged => Some(R::AffiliationChanged),
            Self::Superseded => Some(R::Superseded),
            Self::CessationOfOperation => Some(R::CessationOfOperation),
            Self::CertificateHold => Some(R::CertificateHold),
            Self::PrivilegeWithdrawn => Some(R::PrivilegeWithdrawn),
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevocationReason {
    type Err = CaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Self::ALL.into_iter().find(|reason| reason.as_str().eq_ignore_ascii_case(wanted)).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
            CaError::invalid_request(format!("unknown revocation reason \"{wanted}\"; use one of {}", known.join(", ")))
        })
    }
}

/// One entry of a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCertificate {
    /// Hex, as in [`crate::IssuedCertificate::serial_hex`]; `:` separators are accepted.
    pub serial_hex: String,
    pub revoked_at: OffsetDateTime,
    pub reason: RevocationReason,
}

/// A signed CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    pub der: Vec<u8>,
    pub pem: String,
    pub crl_number: u64,
    /// As written in the CRL: UTC, whole seconds.
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
}

impl CertificateAuthority {
    /// Signs a CRL listing `revoked`. `crl_number` must grow with every CRL this CA
    /// publishes (RFC 5280 section 5.2.3); the caller keeps that counter.
    pub fn sign_crl(
        &self,
        revoked: &[RevokedCertificate],
        crl_number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Crl, CaError> {
        let this_update = certificate_time("this_update", this_update)?;
        let next_update = certificate_time("next_update", next_update)?;
        if next_update <= this_update {
            return Err(CaError::invalid_request("next_update must be later than this_update"));
        }
        let revoked_certs = revoked
            .iter()
            .map(|entry| {
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from(parse_serial_hex(&entry.serial_hex)?),
                    revocation_time: certificate_time("revoked_at", entry.revoked_at)?,
                    reason_code: entry.reason.to_rcgen(),
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>, CaError>>()?;
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(crl_number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: self.authority_key_id.clone(),
        };
        let crl = params.signed_by(&self.issuer).map_err(|e| match e {
            rcgen::Error::IssuerNotCrlSigner => {
                CaError::invalid_request("this CA certificate's keyUsage does not include cRLSign, so it cannot sign CRLs")
            }
            other => CaError::Generation(format!("signing the CRL failed: {other}")),
        })?;
        let der = crl.der().to_vec();
        Ok(Crl { pem: pem_encode("X509 CRL", &der), der, crl_number, this_update, next_update })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_are_kebab_case_everywhere() {
        for reason in RevocationReason::ALL {
            assert_eq!(reason.to_string().parse::<RevocationReason>().unwrap(), reason);
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{reason}\""));
            assert_eq!(serde_json::from_str::<RevocationReason>(&json).unwrap(), reason);
        }
        assert_eq!(RevocationReason::CaCompromise.to_string(), "ca-compromise");
        assert!("stolen".parse::<RevocationReason>().is_err());
    }
}
