//! Random secrets handed to people: URL tokens, one-time and download passwords.

use base64::Engine as _;
use rand::Rng as _;
use rand::seq::IndexedRandom as _;

/// A 256-bit URL-safe token for links (enrollment, download, reissue).
pub fn url_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `s` could be a token of [`url_token`]: what a path that carries one accepts
/// before anything else, so that no other text reaches a lookup or a `Location` header.
pub fn is_url_token(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Letters and digits that cannot be mistaken for one another when read aloud or typed
/// from paper (no 0/O, 1/l/I).
const UNAMBIGUOUS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

/// The enrollment one-time password the operator hands over separately from the URL.
pub fn enrollment_otp() -> String {
    pick(UNAMBIGUOUS, 10)
}

/// The certificate download password: 8 mixed-case letters, like `YQLSZBDj` in the manual.
pub fn download_password() -> String {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz";
    loop {
        let p = pick(LETTERS, 8);
        // Mixed case as promised: at least one upper and one lower letter.
        if p.bytes().any(|b| b.is_ascii_uppercase()) && p.bytes().any(|b| b.is_ascii_lowercase()) {
            return p;
        }
    }
}

/// A certificate-acquisition ID (shown in download mails; never the site user ID).
pub fn acquisition_id() -> String {
    let mut rng = rand::rng();
    format!("C{:011}", rng.random_range(0..100_000_000_000u64))
}

fn pick(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).filter_map(|_| alphabet.choose(&mut rng).map(|&b| b as char)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(url_token().len(), 43);
        let otp = enrollment_otp();
        assert_eq!(otp.len(), 10);
        assert!(otp.bytes().all(|b| UNAMBIGUOUS.contains(&b)));
        let dl = download_password();
        assert_eq!(dl.len(), 8);
        assert!(dl.bytes().all(|b| b.is_ascii_alphabetic()));
        assert_ne!(url_token(), url_token());
        assert!(acquisition_id().starts_with('C'));
    }
}
