//! Encrypted assertions and identifiers (SAML Core §2.3.4, §2.2.4, §6; XML Encryption
//! 1.1). Out: the signed assertion
//! is encrypted with a fresh AES-256-GCM key (`xmlenc11#aes256-gcm`: 96-bit IV, then the
//! ciphertext, then the 128-bit tag, base64 in one CipherValue), and that key with the
//! service provider's RSA key under RSA-OAEP (`xmlenc#rsa-oaep-mgf1p`, the OAEP variant
//! every libxmlsec1 reads). In: an EncryptedID in a LogoutRequest, encrypted to the key
//! our metadata publishes for encryption ([`decrypt`]). samael only decrypts assertions
//! (and not AES-256-GCM), so both directions are written here on aws-lc-rs.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OaepPublicEncryptingKey, PublicEncryptingKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// `<saml:EncryptedAssertion>` holding `assertion_xml` for the holder of `recipient_cert`
/// (DER X.509 with an RSA key).
pub fn encrypt_assertion(assertion_xml: &str, recipient_cert: &[u8]) -> anyhow::Result<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(recipient_cert)
        .map_err(|_| anyhow::anyhow!("the service provider's certificate does not parse"))?;
    let spki = cert.tbs_certificate.subject_pki.raw;
    let public =
        PublicEncryptingKey::from_der(spki).map_err(|_| anyhow::anyhow!("the service provider's certificate has no usable RSA key"))?;
    let oaep = OaepPublicEncryptingKey::new(public).map_err(|_| anyhow::anyhow!("RSA-OAEP key"))?;

    let mut content_key = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(content_key.as_mut()).map_err(|_| anyhow::anyhow!("no randomness"))?;
    let mut iv = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut iv).map_err(|_| anyhow::anyhow!("no randomness"))?;
    let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, content_key.as_ref()).map_err(|_| anyhow::anyhow!("AES key"))?);
    let mut data = assertion_xml.as_bytes().to_vec();
    aead.seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut data)
        .map_err(|_| anyhow::anyhow!("AES-GCM encryption failed"))?;
    let mut cipher_value = iv.to_vec();
    cipher_value.extend_from_slice(&data);

    let mut wrapped = vec![0u8; oaep.ciphertext_size()];
    let wrapped = oaep
        .encrypt(&OAEP_SHA1_MGF1SHA1, content_key.as_ref(), &mut wrapped, None)
        .map_err(|_| anyhow::anyhow!("RSA-OAEP encryption failed"))?;

    let cert_b64 = STANDARD.encode(recipient_cert);
    Ok(format!(
        concat!(
            r#"<saml2:EncryptedAssertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion">"#,
            r#"<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Type="http://www.w3.org/2001/04/xmlenc#Element">"#,
            r#"<xenc:EncryptionMethod Algorithm="{aes}"/>"#,
            r#"<ds:KeyInfo><xenc:EncryptedKey>"#,
            r#"<xenc:EncryptionMethod Algorithm="{rsa}"><ds:DigestMethod Algorithm="{sha1}"/></xenc:EncryptionMethod>"#,
            r#"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"#,
            r#"<xenc:CipherData><xenc:CipherValue>{key}</xenc:CipherValue></xenc:CipherData>"#,
            r#"</xenc:EncryptedKey></ds:KeyInfo>"#,
            r#"<xenc:CipherData><xenc:CipherValue>{data}</xenc:CipherValue></xenc:CipherData>"#,
            r#"</xenc:EncryptedData></saml2:EncryptedAssertion>"#
        ),
        aes = AES256_GCM,
        rsa = RSA_OAEP_MGF1P,
        sha1 = SHA1_DIGEST,
        cert = cert_b64,
        key = STANDARD.encode(wrapped),
        data = STANDARD.encode(cipher_value),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::keys::{KeyUse, tests::test_key};
    use super::*;
    use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, PrivateDecryptingKey};

    fn between<'a>(text: &'a str, from: &str, to: &str) -> &'a str {
        let start = text.find(from).expect("start") + from.len();
        let end = text[start..].find(to).expect("end") + start;
        &text[start..end]
    }

    /// Decrypts with an independent path (the key's PKCS#8 through aws-lc-rs) to show
    /// the layout: IV ‖ ciphertext ‖ tag, key under OAEP-SHA1.
    #[test]
    fn encrypted_assertions_decrypt_with_the_recipient_key() {
        let key = test_key(KeyUse::Encryption);
        let assertion = r#"<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a">secret</saml2:Assertion>"#;
        let xml = encrypt_assertion(assertion, key.certificate_der()).expect("encrypts");
        assert!(!xml.contains("secret"));
        let values: Vec<&str> = xml.split("<xenc:CipherValue>").skip(1).map(|v| v.split('<').next().unwrap_or("")).collect();
        assert_eq!(values.len(), 2);
        let wrapped = STANDARD.decode(values[0]).expect("b64");
        let private = PrivateDecryptingKey::from_pkcs8(key.private_key_der()).expect("pkcs8");
        let oaep = OaepPrivateDecryptingKey::new(private).expect("oaep");
        let mut out = vec![0u8; oaep.min_output_size()];
        let content_key = oaep.decrypt(&OAEP_SHA1_MGF1SHA1, &wrapped, &mut out, None).expect("unwraps").to_vec();
        let data = STANDARD.decode(values[1]).expect("b64");
        let (iv, sealed) = data.split_at(NONCE_LEN);
        let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &content_key).expect("key"));
        let mut sealed = sealed.to_vec();
        let plain = aead.open_in_place(Nonce::try_assume_unique_for_key(iv).expect("iv"), Aad::empty(), &mut sealed).expect("opens");
        assert_eq!(plain, assertion.as_bytes());
        assert_eq!(between(&xml, "<xenc:EncryptionMethod Algorithm=\"", "\""), AES256_GCM);
    }
}

/// Encrypted elements as they arrive (parsed in the fuzzed wire crate).
pub use mamori_saml_wire::encrypted as wire;

/// Why an encrypted element could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("unsupported algorithm {0}")]
    Algorithm(String),
    #[error("no EncryptedKey that one of our keys opens")]
    NoKey,
    #[error("the ciphertext is malformed or does not authenticate")]
    Cipher,
}

const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
const RSA_OAEP_11: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";

/// Decrypts an EncryptedID's content with one of our encryption keys (PKCS#8 DER).
/// Key transport: RSA-OAEP with SHA-1 and MGF1-SHA-1 (`rsa-oaep-mgf1p`, or xmlenc 1.1
/// `rsa-oaep` with its defaults); RSA PKCS#1 v1.5 is refused (Bleichenbacher). Content:
/// AES-128/256 in CBC or GCM.
pub fn decrypt(element: &wire::EncryptedElement, private_keys: &[&[u8]]) -> Result<Vec<u8>, DecryptError> {
    use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, PrivateDecryptingKey};
    let b64 = |t: &str| {
        let clean: String = t.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        STANDARD.decode(clean).map_err(|_| DecryptError::Cipher)
    };
    let content_alg = element.data.method.as_ref().map(|m| m.algorithm.as_str()).unwrap_or("");
    let key_len = match content_alg {
        AES128_CBC | AES128_GCM => 16,
        AES256_CBC | AES256_GCM => 32,
        other => return Err(DecryptError::Algorithm(other.to_owned())),
    };
    let candidates = element.data.key_info.iter().flat_map(|k| k.keys.iter()).chain(element.keys.iter());
    let mut content_key = None;
    for encrypted_key in candidates {
        let method = encrypted_key.method.as_ref().ok_or_else(|| DecryptError::Algorithm(String::new()))?;
        if !matches!(method.algorithm.as_str(), RSA_OAEP_MGF1P | RSA_OAEP_11) {
            return Err(DecryptError::Algorithm(method.algorithm.clone()));
        }
        if method.digest.as_ref().is_some_and(|d| d.algorithm != SHA1_DIGEST) {
            return Err(DecryptError::Algorithm(method.digest.as_ref().map(|d| d.algorithm.clone()).unwrap_or_default()));
        }
        let wrapped = b64(&encrypted_key.cipher_data.value.text)?;
        for pkcs8 in private_keys {
            let Ok(private) = PrivateDecryptingKey::from_pkcs8(pkcs8) else { continue };
            let Ok(oaep) = OaepPrivateDecryptingKey::new(private) else { continue };
            let mut out = vec![0u8; oaep.min_output_size()];
            if let Ok(plain) = oaep.decrypt(&OAEP_SHA1_MGF1SHA1, &wrapped, &mut out, None)
                && plain.len() == key_len
            {
                content_key = Some(Zeroizing::new(plain.to_vec()));
                break;
            }
        }
        if content_key.is_some() {
            break;
        }
    }
    let content_key = content_key.ok_or(DecryptError::NoKey)?;
    let data = b64(&element.data.cipher_data.value.text)?;
    match content_alg {
        AES128_GCM | AES256_GCM => {
            let algorithm = if key_len == 16 { &aws_lc_rs::aead::AES_128_GCM } else { &AES_256_GCM };
            if data.len() < NONCE_LEN + 16 {
                return Err(DecryptError::Cipher);
            }
            let (iv, sealed) = data.split_at(NONCE_LEN);
            let key = LessSafeKey::new(UnboundKey::new(algorithm, &content_key).map_err(|_| DecryptError::Cipher)?);
            let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| DecryptError::Cipher)?;
            let mut sealed = sealed.to_vec();
            let plain = key.open_in_place(nonce, Aad::empty(), &mut sealed).map_err(|_| DecryptError::Cipher)?;
            Ok(plain.to_vec())
        }
        _ => {
            use aws_lc_rs::cipher::{AES_128, AES_256, DecryptingKey, DecryptionContext, UnboundCipherKey};
            if data.len() < 32 || data.len() % 16 != 0 {
                return Err(DecryptError::Cipher);
            }
            let algorithm = if key_len == 16 { &AES_128 } else { &AES_256 };
            let key = DecryptingKey::cbc(UnboundCipherKey::new(algorithm, &content_key).map_err(|_| DecryptError::Cipher)?)
                .map_err(|_| DecryptError::Cipher)?;
            let (iv, body) = data.split_at(16);
            let iv: [u8; 16] = iv.try_into().map_err(|_| DecryptError::Cipher)?;
            let mut body = body.to_vec();
            let plain = key.decrypt(&mut body, DecryptionContext::Iv128(iv.into())).map_err(|_| DecryptError::Cipher)?;
            // XML Encryption padding: the last byte says how many bytes to drop (the
            // others are arbitrary, so this is not PKCS#7).
            let pad = usize::from(*plain.last().ok_or(DecryptError::Cipher)?);
            if pad == 0 || pad > 16 || pad > plain.len() {
                return Err(DecryptError::Cipher);
            }
            let keep = plain.len() - pad;
            Ok(plain[..keep].to_vec())
        }
    }
}

#[cfg(test)]
mod decrypt_tests {
    use super::super::keys::{KeyUse, tests::test_key};
    use super::*;
    use aws_lc_rs::cipher::{AES_128, EncryptingKey, EncryptionContext, UnboundCipherKey};

    fn cbc_element(plain: &[u8], cert: &[u8]) -> wire::EncryptedElement {
        let key = [7u8; 16];
        let iv = [9u8; 16];
        let pad = 16 - plain.len() % 16;
        let mut data = plain.to_vec();
        data.extend(std::iter::repeat_n(0xAB, pad - 1));
        data.push(pad as u8);
        let enc = EncryptingKey::cbc(UnboundCipherKey::new(&AES_128, &key).expect("key")).expect("cbc");
        enc.less_safe_encrypt(&mut data, EncryptionContext::Iv128(iv.into())).expect("encrypts");
        let mut value = iv.to_vec();
        value.extend(data);
        let (_, cert) = x509_parser::parse_x509_certificate(cert).expect("cert");
        let public = PublicEncryptingKey::from_der(cert.tbs_certificate.subject_pki.raw).expect("rsa");
        let oaep = OaepPublicEncryptingKey::new(public).expect("oaep");
        let mut wrapped = vec![0u8; oaep.ciphertext_size()];
        let wrapped = oaep.encrypt(&OAEP_SHA1_MGF1SHA1, &key, &mut wrapped, None).expect("wraps").to_vec();
        let xml = format!(
            r#"<saml:EncryptedID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><xenc:EncryptionMethod Algorithm="{AES128_CBC}"/><dsig:KeyInfo xmlns:dsig="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{RSA_OAEP_MGF1P}"/><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></dsig:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedID>"#,
            STANDARD.encode(wrapped),
            STANDARD.encode(value)
        );
        quick_xml::de::from_str(&xml).expect("parses")
    }

    #[test]
    fn encrypted_ids_decrypt_with_our_key_only() {
        let key = test_key(KeyUse::Encryption);
        let element = cbc_element(b"<saml:NameID>alice</saml:NameID>", key.certificate_der());
        assert_eq!(decrypt(&element, &[key.private_key_der()]).expect("decrypts"), b"<saml:NameID>alice</saml:NameID>");
        let other = test_key(KeyUse::Signing);
        assert_eq!(decrypt(&element, &[other.private_key_der()]), Err(DecryptError::NoKey));
        let mut weak = element.clone();
        if let Some(k) = weak.data.key_info.as_mut().and_then(|k| k.keys.first_mut()) {
            k.method = Some(wire::Method { algorithm: "http://www.w3.org/2001/04/xmlenc#rsa-1_5".into(), digest: None });
        }
        assert!(matches!(decrypt(&weak, &[key.private_key_der()]), Err(DecryptError::Algorithm(_))));
        let mut tampered = element;
        tampered.data.cipher_data.value.text = STANDARD.encode([0u8; 20]);
        assert_eq!(decrypt(&tampered, &[key.private_key_der()]), Err(DecryptError::Cipher));
    }
}
