//! `EncryptedID` / `EncryptedAssertion` as they arrive (XML Encryption 1.1), read with
//! quick-xml's serde; decrypting them is the IdP's (`mamori::saml::encryption`).

use serde::Deserialize;

/// An `xenc:EncryptedData` (with its EncryptedKey inside its KeyInfo or beside it), as
/// an EncryptedID holds it (SAML Core §2.2.4), read namespace-agnostically.
#[derive(Debug, Clone, Deserialize)]
pub struct EncryptedElement {
    #[serde(rename = "EncryptedData")]
    pub data: EncryptedData,
    #[serde(rename = "EncryptedKey", default)]
    pub keys: Vec<EncryptedKey>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EncryptedData {
    #[serde(rename = "EncryptionMethod")]
    pub method: Option<Method>,
    #[serde(rename = "KeyInfo")]
    pub key_info: Option<KeyInfo>,
    #[serde(rename = "CipherData")]
    pub cipher_data: CipherData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct KeyInfo {
    #[serde(rename = "EncryptedKey", default)]
    pub keys: Vec<EncryptedKey>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EncryptedKey {
    #[serde(rename = "EncryptionMethod")]
    pub method: Option<Method>,
    #[serde(rename = "CipherData")]
    pub cipher_data: CipherData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Method {
    #[serde(rename = "@Algorithm")]
    pub algorithm: String,
    #[serde(rename = "DigestMethod")]
    pub digest: Option<Digest>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Digest {
    #[serde(rename = "@Algorithm")]
    pub algorithm: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CipherData {
    #[serde(rename = "CipherValue")]
    pub value: CipherValue,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CipherValue {
    #[serde(rename = "$text", default)]
    pub text: String,
}
