//! SQLite's memory from mimalloc instead of glibc's malloc.
//!
//! The bundled SQLite allocates through the C library unless told otherwise, so with
//! mimalloc as Rust's global allocator the binary ran two allocators. In a profile of
//! the SAML SSO (docs/benchmarks.md, issue 22) glibc's `malloc`, `free`,
//! `malloc_consolidate` and SQLite's size lookups were about a tenth of the server's CPU,
//! on the connection threads that sqlx runs SQLite on.

use std::ffi::{c_int, c_void};

use libmimalloc_sys as mi;
use libsqlite3_sys as sqlite;

// SAFETY (all below): SQLite calls these only as `sqlite3_mem_methods` says: `xMalloc`
// and `xRealloc` with a positive size, `xFree`, `xRealloc` and `xSize` with a pointer
// that `xMalloc` or `xRealloc` returned (and that is not yet freed). mimalloc's
// functions accept exactly that, from any thread, and align to 16 bytes (SQLite asks 8).

#[allow(unsafe_code)]
unsafe extern "C" fn x_malloc(size: c_int) -> *mut c_void {
    unsafe { mi::mi_malloc(usize::try_from(size).unwrap_or(0)) }
}

#[allow(unsafe_code)]
unsafe extern "C" fn x_free(p: *mut c_void) {
    unsafe { mi::mi_free(p) }
}

#[allow(unsafe_code)]
unsafe extern "C" fn x_realloc(p: *mut c_void, size: c_int) -> *mut c_void {
    unsafe { mi::mi_realloc(p, usize::try_from(size).unwrap_or(0)) }
}

#[allow(unsafe_code)]
unsafe extern "C" fn x_size(p: *mut c_void) -> c_int {
    c_int::try_from(unsafe { mi::mi_usable_size(p) }).unwrap_or(c_int::MAX)
}

#[allow(unsafe_code)]
unsafe extern "C" fn x_roundup(size: c_int) -> c_int {
    let good = unsafe { mi::mi_good_size(usize::try_from(size).unwrap_or(0)) };
    c_int::try_from(good).unwrap_or(size)
}

#[allow(unsafe_code)]
unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    sqlite::SQLITE_OK
}

#[allow(unsafe_code)]
unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

/// Makes SQLite allocate from mimalloc. It must run before SQLite's first use in the
/// process (first thing in `main`); later, SQLite refuses (`SQLITE_MISUSE`) and keeps
/// the C library's allocator, and this returns false.
pub fn use_mimalloc() -> bool {
    let methods = sqlite::sqlite3_mem_methods {
        xMalloc: Some(x_malloc),
        xFree: Some(x_free),
        xRealloc: Some(x_realloc),
        xSize: Some(x_size),
        xRoundup: Some(x_roundup),
        xInit: Some(x_init),
        xShutdown: Some(x_shutdown),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: SQLITE_CONFIG_MALLOC takes a pointer to a `sqlite3_mem_methods`, which
    // SQLite copies before returning; the functions it names live for the whole program.
    // SQLite refuses the call once it is initialized, so memory it already holds is never
    // freed by the other allocator.
    #[allow(unsafe_code)]
    let rc = unsafe { sqlite::sqlite3_config(sqlite::SQLITE_CONFIG_MALLOC, &methods as *const sqlite::sqlite3_mem_methods) };
    rc == sqlite::SQLITE_OK
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_methods_allocate_resize_and_free() {
        // Called directly, as SQLite calls them.
        #[allow(unsafe_code)]
        unsafe {
            let p = super::x_malloc(100);
            assert!(!p.is_null());
            assert!(super::x_size(p) >= 100);
            assert!(super::x_roundup(100) >= 100);
            std::ptr::write_bytes(p.cast::<u8>(), 7, 100);
            let q = super::x_realloc(p, 5000);
            assert!(!q.is_null() && super::x_size(q) >= 5000);
            assert_eq!(*q.cast::<u8>().add(99), 7, "realloc keeps the contents");
            super::x_free(q);
        }
    }

    #[test]
    fn an_initialized_sqlite_keeps_its_allocator() {
        // What SQLite holds must never be freed by another allocator: once it is in use,
        // the switch is refused.
        #[allow(unsafe_code)]
        let rc = unsafe { libsqlite3_sys::sqlite3_initialize() };
        assert_eq!(rc, libsqlite3_sys::SQLITE_OK);
        assert!(!super::use_mimalloc());
    }
}
