//! Encrypted assertions (SAML Core §2.3.4, §6; XML Encryption 1.1): the signed assertion
//! is encrypted with a fresh AES-256-GCM key (`xmlenc11#aes256-gcm`: 96-bit IV, then the
//! ciphertext, then the 128-bit tag, base64 in one CipherValue), and that key with the
//! service provider's RSA key under RSA-OAEP (`xmlenc#rsa-oaep-mgf1p`, the OAEP variant
//! every libxmlsec1 reads). samael only decrypts (and not AES-256-GCM), so this is
//! written here on aws-lc-rs.

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
    let public = PublicEncryptingKey::from_der(spki)
        .map_err(|_| anyhow::anyhow!("the service provider's certificate has no usable RSA key"))?;
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
        let plain = aead
            .open_in_place(Nonce::try_assume_unique_for_key(iv).expect("iv"), Aad::empty(), &mut sealed)
            .expect("opens");
        assert_eq!(plain, assertion.as_bytes());
        assert_eq!(between(&xml, "<xenc:EncryptionMethod Algorithm=\"", "\""), AES256_GCM);
    }
}
