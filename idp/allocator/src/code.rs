//! The binary's start-up code out of the resident set once the server is ready.
//!
//! Executing code maps it: each page fault in the binary's `.text` maps the 64 KiB around
//! it (the kernel's fault-around), and start-up (configuration, migrations, key
//! generation, the CLI's parsing) runs code all over a 28 MiB `.text` that serving never
//! runs again. Those pages are clean page cache, shared and reclaimable, but while mapped
//! they count in the process's resident set, and they were two thirds of an idle
//! server's (docs/benchmarks.md, issue 22).
//!
//! [`unmap_start_up_code`] drops this process's mappings of its own code pages
//! (`MADV_DONTNEED` on the executable segments of `/proc/self/exe`). The file's pages stay
//! in the page cache; code that runs again faults back in as a minor fault. Only the
//! executable, private, file-backed segments are touched: they hold no written page
//! (no text relocations), so dropping a mapping loses nothing. Read-only data is left
//! alone, since a RELRO segment is read-only too and holds relocated (written) pages.

use std::path::{Path, PathBuf};

/// One executable mapping of `exe` in a `/proc/self/maps` listing.
#[derive(Debug, PartialEq, Eq)]
struct CodeRange {
    start: usize,
    end: usize,
}

/// The executable private mappings of `exe` in `maps` (the text of `/proc/self/maps`).
fn code_ranges(maps: &str, exe: &Path) -> Vec<CodeRange> {
    maps.lines()
        .filter_map(|line| {
            // address perms offset dev inode pathname
            let mut fields = line.split_ascii_whitespace();
            let (range, perms) = (fields.next()?, fields.next()?);
            let path = fields.nth(3)?;
            if perms != "r-xp" || Path::new(path) != exe {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let (start, end) = (usize::from_str_radix(start, 16).ok()?, usize::from_str_radix(end, 16).ok()?);
            (start < end).then_some(CodeRange { start, end })
        })
        .collect()
}

fn own_executable() -> Option<PathBuf> {
    std::fs::read_link("/proc/self/exe").ok()
}

/// Drops this process's mappings of its own code; returns the bytes advised (0 where
/// `/proc` is not there to say where the code is).
pub fn unmap_start_up_code() -> usize {
    let (Some(exe), Ok(maps)) = (own_executable(), std::fs::read_to_string("/proc/self/maps")) else {
        return 0;
    };
    let mut advised = 0;
    for range in code_ranges(&maps, &exe) {
        let len = range.end - range.start;
        // SAFETY: the range is a whole private, read-only, executable file mapping of this
        // binary, as the kernel listed it (page-aligned). MADV_DONTNEED on such a mapping
        // only drops page-table entries: the next access maps the same file pages again,
        // and there is no written (copy-on-write) page in it to lose. Code running on
        // other threads meanwhile faults its page back in.
        #[allow(unsafe_code)]
        let done = unsafe { libc::madvise(range.start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
        if done == 0 {
            advised += len;
        }
    }
    advised
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_executables_own_code_is_listed() {
        let maps = "\
55d0c0000000-55d0c1000000 r--p 00000000 103:02 1234 /opt/mamori/bin/mamori
55d0c1000000-55d0c2c00000 r-xp 01000000 103:02 1234 /opt/mamori/bin/mamori
55d0c2c00000-55d0c3000000 r--p 02c00000 103:02 1234 /opt/mamori/bin/mamori
55d0c3000000-55d0c3100000 rw-p 03000000 103:02 1234 /opt/mamori/bin/mamori
7f0000000000-7f0000200000 r-xp 00028000 103:02 99 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000400000-7f0000600000 r-xp 00000000 00:00 0
7f0000600000-7f0000700000 r-xp 00000000 103:02 1234 /opt/mamori/bin/mamori-old
7ffd00000000-7ffd00001000 r-xp 00000000 00:00 0 [vdso]
";
        let ranges = code_ranges(maps, Path::new("/opt/mamori/bin/mamori"));
        assert_eq!(ranges, [CodeRange { start: 0x55d0c1000000, end: 0x55d0c2c00000 }]);
        assert!(code_ranges("garbage\n\n- r-xp", Path::new("/x")).is_empty());
    }

    #[test]
    fn the_running_test_binary_keeps_running_after_its_code_is_unmapped() {
        let advised = unmap_start_up_code();
        assert!(advised > 0, "this test binary's own code was found and advised");
        // Code and data are still there: the pages fault back in from the file.
        let text: String = ["faults", " ", "back"].concat();
        assert_eq!(text.len(), 11);
        assert!(std::thread::spawn(|| (1..=10u64).product::<u64>()).join().is_ok_and(|p| p == 3_628_800));
    }
}
