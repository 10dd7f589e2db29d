//! The request path as the request log writes it: bounded, and without the secrets some
//! paths carry. A request line may be 64 KiB (a hostile client's is), and `/enroll/{token}`
//! or `/reissue/password/{token}` hold half of a credential that must not sit in logs
//! readable by everyone who reads logs.

/// Longest path written as sent; the rest is cut and its length said.
const MAX_LOGGED_CHARS: usize = 200;

/// Path prefixes whose next segment is a secret token.
const TOKEN_PREFIXES: [&str; 3] = ["/enroll/", "/reissue/certificate/", "/reissue/password/"];

/// `path` for the log: its token segment replaced by `{token}`, cut at
/// [`MAX_LOGGED_CHARS`] characters with the full length noted.
pub fn logged_path(path: &str) -> String {
    let redacted = TOKEN_PREFIXES.iter().find_map(|prefix| {
        let rest = path.strip_prefix(prefix)?;
        let tail = rest.find('/').map_or("", |i| &rest[i..]);
        Some(format!("{prefix}{{token}}{tail}"))
    });
    let path = redacted.as_deref().unwrap_or(path);
    match path.char_indices().nth(MAX_LOGGED_CHARS) {
        None => path.to_owned(),
        Some((cut, _)) => format!("{}… ({} bytes)", &path[..cut], path.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_reach_the_log_and_long_paths_are_cut() {
        assert_eq!(logged_path("/t/demo/authorize"), "/t/demo/authorize");
        assert_eq!(logged_path("/enroll/Zm9vYmFy"), "/enroll/{token}");
        assert_eq!(logged_path("/enroll/Zm9vYmFy/register"), "/enroll/{token}/register");
        assert_eq!(logged_path("/reissue/password/abc"), "/reissue/password/{token}");
        assert_eq!(logged_path("/reissue/certificate/abc"), "/reissue/certificate/{token}");
        assert_eq!(logged_path("/reissue/password"), "/reissue/password", "no token, nothing to hide");
        let long = format!("/t/{}", "a".repeat(70_000));
        let logged = logged_path(&long);
        assert!(logged.starts_with("/t/aaa") && logged.ends_with("… (70003 bytes)"), "{}", &logged[logged.len() - 30..]);
        assert_eq!(logged.chars().count(), MAX_LOGGED_CHARS + "… (70003 bytes)".chars().count());
        // Cut on a character boundary, whatever the path holds.
        let wide = format!("/{}", "名".repeat(300));
        assert!(logged_path(&wide).starts_with("/名名"));
        let token = format!("/enroll/{}", "t".repeat(5000));
        assert_eq!(logged_path(&token), "/enroll/{token}");
    }
}
