//! The few operating-system calls that `std` does not wrap, made here so
//! that the engine stays free of `unsafe` and never imports the C boundary.
//! Each is best effort and has a portable fallback.

use std::fs::File;

/// Asks the kernel to start writing `len` bytes of `file` from `offset` back
/// to the disk, without waiting for it (Linux `sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`). A later `fsync` then finds most of the work
/// done. It guarantees nothing by itself; on other systems it does nothing.
pub(crate) fn start_writeback(file: &File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return;
        };
        // SAFETY: the descriptor is borrowed from a live `File` for the whole
        // call, and the call reads no memory of ours. Its result is ignored on
        // purpose: the caller's later fsync reports any write error.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

/// The process's effective user id (`geteuid`), to tell whether a state
/// directory belongs to the user running qmgr.
#[cfg(feature = "state")]
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, touches no memory of ours and
    // cannot fail.
    unsafe { libc::geteuid() }
}
