//! Signed configuration profiles: the `.mobileconfig` plist wrapped in a CMS SignedData
//! (RFC 5652) when a profile-signing certificate is configured
//! (`ca.mobileconfig_signing_chain_file`, `ca.mobileconfig_signing_key_file`), so that
//! iOS and macOS show the profile as "Verified" and a changed byte makes it unusable.
//!
//! Decisions:
//! - The ASN.1 comes from RustCrypto's `cms` types; the signature from the binary's one
//!   crypto provider (aws-lc-rs, through rustls's key loading), so no second crypto stack.
//! - Attached content, digest SHA-256, signed attributes (content type, message digest,
//!   signing time), the whole configured chain in `certificates`: what Apple's
//!   `security cms -S` and `openssl cms -sign -nodetach` make.
//! - P-256 (ecdsa-with-SHA256) and RSA (sha256WithRSAEncryption) keys; any other key,
//!   or a key that does not belong to the first certificate, stops the server at start
//!   naming the config key, rather than at the first download.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos};
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::{OctetString, SetOfVec, UtcTime};
use der::{Any, Decode as _, Encode as _, Tag};
use rustls::SignatureScheme;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::attr::{Attribute, AttributeValue};
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::config::CaConfig;

/// The profile-signing key and the certificates that go with every signature.
pub struct ProfileSigner {
    key: Arc<dyn rustls::sign::SigningKey>,
    scheme: SignatureScheme,
    /// The signing certificate first, then the CAs above it.
    chain: Vec<Certificate>,
}

impl std::fmt::Debug for ProfileSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileSigner").field("scheme", &self.scheme).field("chain", &self.chain.len()).finish_non_exhaustive()
    }
}

const CHAIN_KEY: &str = "ca.mobileconfig_signing_chain_file";
const KEY_KEY: &str = "ca.mobileconfig_signing_key_file";

impl ProfileSigner {
    /// The signer the config names, `None` when profile signing is not configured. Both
    /// keys or neither: one alone is a mistake worth stopping for.
    pub fn from_config(ca: &CaConfig) -> anyhow::Result<Option<Arc<ProfileSigner>>> {
        match (&ca.mobileconfig_signing_chain_file, &ca.mobileconfig_signing_key_file) {
            (None, None) => Ok(None),
            (Some(chain), Some(key)) => Self::load(chain, key).map(|s| Some(Arc::new(s))),
            (Some(_), None) => anyhow::bail!("config key `{KEY_KEY}`: is not set, but `{CHAIN_KEY}` is; profile signing needs both"),
            (None, Some(_)) => anyhow::bail!("config key `{CHAIN_KEY}`: is not set, but `{KEY_KEY}` is; profile signing needs both"),
        }
    }

    /// Reads the chain (PEM certificates, the signing one first) and its key (PEM: PKCS#8,
    /// PKCS#1 or SEC1).
    pub fn load(chain_path: &Path, key_path: &Path) -> anyhow::Result<ProfileSigner> {
        // An empty value resolves to the config's folder: say so, not "Is a directory".
        for (config_key, path) in [(CHAIN_KEY, chain_path), (KEY_KEY, key_path)] {
            anyhow::ensure!(
                !path.is_dir(),
                "config key `{config_key}`: {} is a folder, not a PEM file (is the value empty?)",
                path.display()
            );
        }
        let ders: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(chain_path)
            .and_then(|iter| iter.collect::<Result<_, _>>())
            .map_err(|e| anyhow::anyhow!("config key `{CHAIN_KEY}`: cannot read certificates from {}: {e}", chain_path.display()))?;
        anyhow::ensure!(!ders.is_empty(), "config key `{CHAIN_KEY}`: {} holds no certificate", chain_path.display());
        let chain = ders.iter().map(|d| Certificate::from_der(d.as_ref())).collect::<Result<Vec<_>, _>>().map_err(|e| {
            anyhow::anyhow!("config key `{CHAIN_KEY}`: {} holds a certificate that does not parse: {e}", chain_path.display())
        })?;
        let key_der = PrivateKeyDer::from_pem_file(key_path)
            .map_err(|e| anyhow::anyhow!("config key `{KEY_KEY}`: cannot read a private key from {}: {e}", key_path.display()))?;
        let key = crate::crypto::crypto_provider().key_provider.load_private_key(key_der).map_err(|e| {
            anyhow::anyhow!(
                "config key `{KEY_KEY}`: {} is not a usable private key (P-256, or RSA of at least 2048 bits): {e}",
                key_path.display()
            )
        })?;
        let scheme = key
            .choose_scheme(&[SignatureScheme::ECDSA_NISTP256_SHA256, SignatureScheme::RSA_PKCS1_SHA256])
            .map(|signer| signer.scheme())
            .with_context(|| format!("config key `{KEY_KEY}`: {} is neither a P-256 nor an RSA key", key_path.display()))?;
        // The key must be the first certificate's, or every profile would fail to verify.
        let cert_spki = chain[0].tbs_certificate.subject_public_key_info.to_der().context("re-encoding the certificate's key")?;
        let key_spki = key.public_key().with_context(|| format!("config key `{KEY_KEY}`: the key's public half is unknown"))?;
        anyhow::ensure!(
            key_spki.as_ref() == cert_spki.as_slice(),
            "config key `{KEY_KEY}`: {} is not the key of the first certificate in {}",
            key_path.display(),
            chain_path.display()
        );
        // A profile signed by a certificate outside its validity does not verify on the
        // device, and each one spends a download: refuse to start with it.
        let signer = ProfileSigner { key, scheme, chain };
        let now = time::OffsetDateTime::now_utc();
        let (not_before, not_after) = signer.validity();
        anyhow::ensure!(
            signer.valid_at(now),
            "config key `{CHAIN_KEY}`: the profile-signing certificate in {} is valid from {not_before} to {not_after}, not now",
            chain_path.display()
        );
        if not_after - now < time::Duration::days(30) {
            tracing::warn!(%not_after, "the profile-signing certificate ({CHAIN_KEY}) expires within 30 days");
        }
        Ok(signer)
    }

    /// The signing certificate's validity (notBefore, notAfter).
    fn validity(&self) -> (time::OffsetDateTime, time::OffsetDateTime) {
        let validity = &self.chain[0].tbs_certificate.validity;
        let at = |t: &x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs())
                .ok()
                .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        };
        (at(&validity.not_before), at(&validity.not_after))
    }

    /// Whether a profile signed at `now` verifies: the signing certificate is within its
    /// validity. Checked before a download is spent on a profile.
    pub fn valid_at(&self, now: time::OffsetDateTime) -> bool {
        let (not_before, not_after) = self.validity();
        not_before <= now && now <= not_after
    }

    /// `content` (the plist) as a DER `ContentInfo` holding a SignedData with the content
    /// attached, signed at `now`.
    pub fn sign(&self, content: &[u8], now: time::OffsetDateTime) -> anyhow::Result<Vec<u8>> {
        let signer_cert = &self.chain[0];
        let digest_alg = AlgorithmIdentifierOwned { oid: rfc5912::ID_SHA_256, parameters: None };
        let signature_algorithm = match self.scheme {
            SignatureScheme::ECDSA_NISTP256_SHA256 => AlgorithmIdentifierOwned { oid: rfc5912::ECDSA_WITH_SHA_256, parameters: None },
            _ => AlgorithmIdentifierOwned { oid: rfc5912::SHA_256_WITH_RSA_ENCRYPTION, parameters: Some(Any::null()) },
        };
        let signed_attrs: SetOfVec<Attribute> = SetOfVec::try_from(vec![
            attribute(rfc5911::ID_CONTENT_TYPE, Any::new(Tag::ObjectIdentifier, rfc5911::ID_DATA.as_bytes())?)?,
            attribute(rfc5911::ID_MESSAGE_DIGEST, Any::new(Tag::OctetString, Sha256::digest(content).to_vec())?)?,
            attribute(rfc5911::ID_SIGNING_TIME, signing_time(now)?)?,
        ])?;
        // RFC 5652 §5.4: the signature covers the attributes' DER as a SET OF, not as the
        // [0] IMPLICIT field they become inside SignerInfo.
        let to_sign = signed_attrs.to_der()?;
        let signer = self.key.choose_scheme(&[self.scheme]).context("the profile-signing key no longer offers its scheme")?;
        let signature = signer.sign(&to_sign).map_err(|e| anyhow::anyhow!("signing the profile: {e}"))?;
        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: signer_cert.tbs_certificate.issuer.clone(),
                serial_number: signer_cert.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: digest_alg.clone(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm,
            signature: OctetString::new(signature)?,
            unsigned_attrs: None,
        };
        let certificates = self.chain.iter().cloned().map(CertificateChoices::Certificate).collect::<Vec<_>>();
        let signed = SignedData {
            version: CmsVersion::V1,
            digest_algorithms: SetOfVec::try_from(vec![digest_alg])?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: rfc5911::ID_DATA,
                econtent: Some(Any::new(Tag::OctetString, content)?),
            },
            certificates: Some(CertificateSet(SetOfVec::try_from(certificates)?)),
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info])?),
        };
        let info = ContentInfo { content_type: rfc5911::ID_SIGNED_DATA, content: Any::encode_from(&signed)? };
        Ok(info.to_der()?)
    }
}

fn attribute(oid: der::asn1::ObjectIdentifier, value: AttributeValue) -> der::Result<Attribute> {
    Ok(Attribute { oid, values: SetOfVec::try_from(vec![value])? })
}

/// UTCTime, as RFC 5652 §11.3 asks for years 1950 to 2049 (GeneralizedTime after).
fn signing_time(now: time::OffsetDateTime) -> anyhow::Result<Any> {
    let since_epoch = std::time::Duration::from_secs(u64::try_from(now.unix_timestamp()).context("a signing time before 1970")?);
    let der = match UtcTime::from_unix_duration(since_epoch) {
        Ok(utc) => utc.to_der()?,
        Err(_) => der::asn1::GeneralizedTime::from_unix_duration(since_epoch)?.to_der()?,
    };
    Ok(Any::from_der(&der)?)
}
