//! Apple configuration profiles (`.mobileconfig`, Apple's "Configuration Profile
//! Reference"): the downloaded PKCS#12 wrapped as a `com.apple.security.pkcs12` payload,
//! so that iOS and macOS install the certificate and its key with a tap and the download
//! password, and optionally the CA root as a `com.apple.security.root` payload.
//!
//! Decisions:
//! - The PKCS#12's password is not in the profile (no `Password` key). With it, whoever
//!   holds the file holds the key; without it, the device asks for the download password
//!   at installation, exactly as for the `.p12` (spec flow 2: the password is what
//!   protects the download).
//! - UUIDs are derived from the acquisition ID: the same download gives the same profile,
//!   and no two downloads share one. The identifier names the device, so a later
//!   certificate's profile replaces the earlier one on the device instead of piling up.
//! - The profile is signed (CMS) only when the operator configures a profile-signing
//!   certificate Apple devices trust (`crate::flows::mobileconfig_signing`); devices
//!   show an unsigned profile as "Not Verified" but install it.

use plist::{Dictionary, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The MIME type Safari hands to the profile installer.
pub const CONTENT_TYPE: &str = "application/x-apple-aspen-config";

/// What goes into one profile.
pub struct ProfileInput<'a> {
    pub pkcs12: &'a [u8],
    /// The `.p12` file name, shown in the installer.
    pub file_name: &'a str,
    pub acquisition_id: &'a str,
    /// Names the profile across certificates of the same device.
    pub device_id: Option<Uuid>,
    /// The host of Mamori's public URL, for the reverse-DNS identifiers.
    pub public_host: &'a str,
    /// The root CA certificate (DER), to install as trusted, when configured.
    pub ca_root_der: Option<&'a [u8]>,
    /// What the installer shows, in the user's language.
    pub texts: ProfileTexts,
}

/// The profile's display texts (see `mobileconfig.*` in ui/messages).
pub struct ProfileTexts {
    /// The profile's name; `{name}` is the certificate file's name without `.p12`.
    pub display_name: String,
    pub description: String,
    pub identity_description: String,
    pub root_name: String,
}

impl ProfileTexts {
    pub fn in_language(ui: &mamori_ui::Ui, locale: mamori_ui::Locale) -> ProfileTexts {
        let text = |key: &str| ui.message(locale, key);
        ProfileTexts {
            display_name: text("mobileconfig.display_name"),
            description: text("mobileconfig.description"),
            identity_description: text("mobileconfig.identity_description"),
            root_name: text("mobileconfig.root_name"),
        }
    }
}

/// The profile as an XML property list.
pub fn configuration_profile(input: &ProfileInput<'_>) -> Result<Vec<u8>, plist::Error> {
    let base = format!("{}.mamori", reverse_dns(input.public_host));
    let profile_id = match input.device_id {
        Some(device) => format!("{base}.device.{}", device.simple()),
        None => format!("{base}.download.{}", input.acquisition_id.to_ascii_lowercase()),
    };
    let uuid = |role: &str| stable_uuid(input.acquisition_id, role).to_string().to_ascii_uppercase();

    let mut identity = payload("com.apple.security.pkcs12", &format!("{profile_id}.pkcs12"), &uuid("pkcs12"), input.file_name);
    identity.insert("PayloadCertificateFileName".into(), input.file_name.into());
    identity.insert("PayloadContent".into(), Value::Data(input.pkcs12.to_vec()));
    identity.insert("PayloadDescription".into(), input.texts.identity_description.as_str().into());
    let mut content = vec![Value::Dictionary(identity)];
    if let Some(root) = input.ca_root_der {
        let mut trusted = payload("com.apple.security.root", &format!("{profile_id}.root"), &uuid("root"), &input.texts.root_name);
        trusted.insert("PayloadCertificateFileName".into(), "mamori-root-ca.cer".into());
        trusted.insert("PayloadContent".into(), Value::Data(root.to_vec()));
        content.push(Value::Dictionary(trusted));
    }

    let mut profile = Dictionary::new();
    profile.insert("PayloadType".into(), "Configuration".into());
    profile.insert("PayloadVersion".into(), Value::Integer(1.into()));
    profile.insert("PayloadIdentifier".into(), profile_id.clone().into());
    profile.insert("PayloadUUID".into(), uuid("profile").into());
    let display_name = input.texts.display_name.replace("{name}", input.file_name.trim_end_matches(".p12"));
    profile.insert("PayloadDisplayName".into(), display_name.into());
    profile.insert("PayloadDescription".into(), input.texts.description.as_str().into());
    profile.insert("PayloadOrganization".into(), input.public_host.into());
    profile.insert("PayloadRemovalDisallowed".into(), false.into());
    profile.insert("PayloadContent".into(), Value::Array(content));

    let mut out = Vec::new();
    Value::Dictionary(profile).to_writer_xml(&mut out)?;
    Ok(out)
}

/// The keys every payload has.
fn payload(kind: &str, identifier: &str, uuid: &str, display_name: &str) -> Dictionary {
    let mut d = Dictionary::new();
    d.insert("PayloadType".into(), kind.into());
    d.insert("PayloadVersion".into(), Value::Integer(1.into()));
    d.insert("PayloadIdentifier".into(), identifier.into());
    d.insert("PayloadUUID".into(), uuid.into());
    d.insert("PayloadDisplayName".into(), display_name.into());
    d
}

/// A UUID (version 8, RFC 9562) from SHA-256 of the download and the payload's role.
fn stable_uuid(acquisition_id: &str, role: &str) -> Uuid {
    let digest = Sha256::digest(format!("mamori mobileconfig\0{acquisition_id}\0{role}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// `idp.example.com` → `com.example.idp`; an IP address becomes one label
/// (`127.0.0.1` → `ip-127-0-0-1`), since reversing its parts would mean nothing.
pub fn reverse_dns(host: &str) -> String {
    let host = host.trim_matches(|c| c == '[' || c == ']').to_ascii_lowercase();
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    if is_ip {
        return format!("ip-{}", host.replace(['.', ':'], "-"));
    }
    let labels: Vec<String> = host
        .split('.')
        .filter(|l| !l.is_empty())
        .map(|l| l.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect())
        .collect();
    if labels.is_empty() { "invalid".to_owned() } else { labels.into_iter().rev().collect::<Vec<_>>().join(".") }
}

/// Whether a browser runs on iOS, iPadOS or macOS, where a profile installs with a tap.
/// iPadOS Safari says "Macintosh" too, so both are offered the profile.
pub fn is_apple_user_agent(user_agent: &str) -> bool {
    ["iPhone", "iPad", "iPod", "Macintosh", "Mac OS X"].iter().any(|needle| user_agent.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(root: Option<&'a [u8]>) -> ProfileInput<'a> {
        ProfileInput {
            pkcs12: b"p12 bytes",
            file_name: "p-01-usr012-1.p12",
            acquisition_id: "C01234567890",
            device_id: Some(Uuid::from_u128(0x1234)),
            public_host: "idp.example.jp",
            ca_root_der: root,
            texts: ProfileTexts::in_language(&mamori_ui::Ui::new(), mamori_ui::Locale::En),
        }
    }

    fn parse(bytes: &[u8]) -> Dictionary {
        Value::from_reader_xml(bytes).expect("plist").into_dictionary().expect("dict")
    }

    #[test]
    fn the_profile_carries_the_pkcs12_without_its_password() {
        let profile = parse(&configuration_profile(&input(None)).expect("profile"));
        assert_eq!(profile["PayloadType"].as_string(), Some("Configuration"));
        let id = profile["PayloadIdentifier"].as_string().expect("id");
        assert_eq!(id, "jp.example.idp.mamori.device.00000000000000000000000000001234");
        let content = profile["PayloadContent"].as_array().expect("content");
        assert_eq!(content.len(), 1);
        let p12 = content[0].as_dictionary().expect("payload");
        assert_eq!(p12["PayloadType"].as_string(), Some("com.apple.security.pkcs12"));
        assert_eq!(p12["PayloadContent"].as_data(), Some(&b"p12 bytes"[..]));
        assert!(p12["PayloadIdentifier"].as_string().expect("id").starts_with(id));
        assert!(!p12.contains_key("Password"));
    }

    #[test]
    fn uuids_are_stable_per_download_and_distinct_per_payload() {
        let root = [0x30u8, 0x00];
        let a = parse(&configuration_profile(&input(Some(&root))).expect("a"));
        let b = parse(&configuration_profile(&input(Some(&root))).expect("b"));
        let uuids = |p: &Dictionary| {
            let mut all = vec![p["PayloadUUID"].as_string().expect("uuid").to_owned()];
            for item in p["PayloadContent"].as_array().expect("content") {
                all.push(item.as_dictionary().expect("payload")["PayloadUUID"].as_string().expect("uuid").to_owned());
            }
            all
        };
        assert_eq!(uuids(&a), uuids(&b));
        let all = uuids(&a);
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|u| Uuid::parse_str(u).is_ok()));
        assert!(all[0] != all[1] && all[1] != all[2] && all[0] != all[2]);
        let other = ProfileInput { acquisition_id: "C09999999999", ..input(Some(&root)) };
        assert_ne!(uuids(&parse(&configuration_profile(&other).expect("other")))[0], all[0]);
    }

    /// The installer speaks the user's language: the texts come from the messages.
    #[test]
    fn the_display_texts_are_in_the_users_language() {
        let ja =
            ProfileInput { texts: ProfileTexts::in_language(&mamori_ui::Ui::new(), mamori_ui::Locale::Ja), ..input(Some(&[0x30, 0x00])) };
        let profile = parse(&configuration_profile(&ja).expect("profile"));
        assert_eq!(profile["PayloadDisplayName"].as_string(), Some("Mamori 電子証明書（p-01-usr012-1）"));
        assert!(profile["PayloadDescription"].as_string().expect("text").contains("証明書ダウンロード用パスワード"));
        let content = profile["PayloadContent"].as_array().expect("content");
        assert!(content.iter().all(|p| !p.as_dictionary().expect("payload")["PayloadDisplayName"].as_string().expect("name").is_empty()));
        assert_eq!(content[1].as_dictionary().expect("root")["PayloadDisplayName"].as_string(), Some("Mamori ルート認証局"));
        let en = parse(&configuration_profile(&input(None)).expect("profile"));
        assert_eq!(en["PayloadDisplayName"].as_string(), Some("Mamori certificate (p-01-usr012-1)"));
    }

    #[test]
    fn hosts_and_user_agents() {
        assert_eq!(reverse_dns("idp.example.com"), "com.example.idp");
        assert_eq!(reverse_dns("localhost"), "localhost");
        assert_eq!(reverse_dns("127.0.0.1"), "ip-127-0-0-1");
        assert_eq!(reverse_dns("[::1]"), "ip---1");
        assert_eq!(reverse_dns(""), "invalid");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1";
        assert!(is_apple_user_agent(iphone));
        assert!(is_apple_user_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15"));
        assert!(!is_apple_user_agent("Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0 Safari/537.36"));
        assert!(!is_apple_user_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/140.0"));
    }
}
