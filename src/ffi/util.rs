//! Checked conversions of C arguments: strings in, values and strings out.

use std::ffi::{c_char, CStr};

use crate::engine::error::{Error, Result};
use crate::hresult::*;

/// A required NUL-terminated UTF-8 input string.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str> {
    // SAFETY: the caller promises ptr is NULL or a valid C string.
    unsafe { opt_str_arg(ptr, what) }?.ok_or_else(|| Error::invalid_arg(format!("{what} is NULL")))
}

/// An optional NUL-terminated UTF-8 input string (NULL is `None`).
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL, and the caller promises a valid NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes
        .to_str()
        .map(Some)
        .map_err(|_| Error::invalid_arg(format!("{what} is not valid UTF-8")))
}

/// A checked, non-NULL out-pointer; written only once the call has succeeded.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Checks `ptr` (`QM_E_POINTER` if NULL).
    pub(crate) fn new(ptr: *mut T, what: &str) -> Result<Out<T>> {
        if ptr.is_null() {
            Err(Error::new(QM_E_POINTER, format!("{what} is NULL")))
        } else {
            Ok(Out(ptr))
        }
    }

    /// An optional out-pointer: NULL means the caller does not want the value.
    pub(crate) fn optional(ptr: *mut T) -> Option<Out<T>> {
        (!ptr.is_null()).then_some(Out(ptr))
    }

    /// Stores the value.
    ///
    /// # Safety
    /// The pointer given to `new` must be valid for a write of `T`.
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: non-NULL by construction; validity is the caller's promise.
        unsafe { self.0.write_unaligned(value) }
    }
}

/// Copies `text` out snprintf-style: `*needed` always gets its size with the
/// NUL; `cap = 0` is a size query (`ok` returned); a smaller buffer gives
/// `QM_E_INSUFFICIENT_BUFFER`; otherwise the string is copied and `ok` returned.
///
/// # Safety
/// `buf` is NULL or valid for `cap` bytes; `needed` is NULL or valid for a write.
pub(crate) unsafe fn write_str(
    text: &str,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
    ok: HResult,
) -> Result<HResult> {
    let needed = Out::new(needed, "needed")?;
    if buf.is_null() && cap != 0 {
        return Err(Error::new(QM_E_POINTER, "buf is NULL but cap is not 0"));
    }
    let size = text.len() + 1;
    // SAFETY: needed was checked non-NULL; the caller promises it is writable.
    unsafe { needed.write(size) };
    if cap == 0 {
        return Ok(ok);
    }
    if cap < size {
        return Err(Error::new(
            QM_E_INSUFFICIENT_BUFFER,
            format!("the buffer holds {cap} bytes; {size} are needed"),
        ));
    }
    // SAFETY: buf is non-NULL (checked above) and valid for cap >= size bytes.
    let out = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), size) };
    out[..text.len()].copy_from_slice(text.as_bytes());
    out[text.len()] = 0;
    Ok(ok)
}
