//! What Mamori asks of mimalloc, the `mamori` binary's global allocator (idp/src/main.rs).
//!
//! mimalloc purges freed memory (gives it back to the OS) a second after it is freed, and
//! only on a later allocator call. Start-up frees a lot at once (`quickstart`'s key
//! generation and migrations, Argon2id's 19 MiB per hash), and an idle server then makes
//! no call that would purge it: 74 MiB resident idle, against 38 MiB when every free is
//! purged at once (docs/benchmarks.md, issue 22). Purging at once for good cost up to
//! 17 % more CPU per rotated refresh token, so it holds only while the server starts:
//! [`start_up`] first thing in `main`, [`ready`] once the server listens.
//!
//! An operator's `MIMALLOC_PURGE_DELAY` (mimalloc's own setting) is left alone. In a
//! binary whose global allocator is not mimalloc (the test binaries) the calls act on
//! mimalloc's own empty heap and change nothing.

pub mod code;
pub mod sqlite;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (include/mimalloc.h); the crate
/// exports no constant for it. A test checks the index against the option's default.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc v3's default purge delay, in milliseconds (src/options.c).
const DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 1000;

fn operator_chose_delay() -> bool {
    std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() || std::env::var_os("MIMALLOC_RESET_DELAY").is_some()
}

fn set_purge_delay(ms: std::ffi::c_long) {
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table; any value is
    // valid for this option, and it may be set at any time from any thread.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, ms);
    }
}

/// The purge delay in force, in milliseconds.
pub fn purge_delay_ms() -> std::ffi::c_long {
    // SAFETY: reads an integer from mimalloc's option table.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_get(PURGE_DELAY)
    }
}

/// While the server starts: purge freed memory at once. SQLite, not yet used, is set to
/// allocate from mimalloc too ([`sqlite`]).
pub fn start_up() {
    if !operator_chose_delay() {
        set_purge_delay(0);
    }
    if !sqlite::use_mimalloc() {
        eprintln!("warning: SQLite was already in use; it keeps the C library's allocator");
    }
}

/// The server is ready: what start-up freed goes back to the OS now, and freed memory is
/// purged after mimalloc's usual delay from here on (cheaper under load). The code only
/// start-up ran leaves the resident set too ([`code`]).
pub fn ready() {
    code::unmap_start_up_code();
    // SAFETY: `mi_collect` walks mimalloc's own bookkeeping; it may be called from any
    // thread at any time, and `force` only makes it purge without waiting.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
    if !operator_chose_delay() {
        set_purge_delay(DEFAULT_PURGE_DELAY_MS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_index_is_the_purge_delay_and_start_up_sets_it_for_a_while() {
        if operator_chose_delay() {
            return;
        }
        // An index pointing at another option would read another default.
        assert_eq!(purge_delay_ms(), DEFAULT_PURGE_DELAY_MS, "index {PURGE_DELAY} is not mi_option_purge_delay");
        start_up();
        assert_eq!(purge_delay_ms(), 0);
        let kept: Vec<Vec<u8>> = (0..64).map(|i| vec![i; 64 * 1024]).collect();
        drop(kept);
        ready();
        assert_eq!(purge_delay_ms(), DEFAULT_PURGE_DELAY_MS);
    }
}
