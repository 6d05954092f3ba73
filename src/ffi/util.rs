//! Checked conversions of C arguments: strings in, values and strings out,
//! the growable structs (`struct_size`), and the shapes most exports share
//! (read one value of a job, run one change on a job).

use std::ffi::{c_char, CStr};
use std::marker::PhantomData;
use std::mem::size_of;

use super::handles;
use super::types::*;
use crate::engine::error::{Error, Result};
use crate::hresult::*;
use crate::{Job, Manager};

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

/// A `uint32_t` that stands for a boolean: 0 or 1, anything else refused.
pub(crate) fn bool_arg(value: u32, what: &str) -> Result<bool> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(Error::invalid_arg(format!(
            "{what} is {other}: give 0 or 1"
        ))),
    }
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
    // SAFETY: forwarded caller promises.
    unsafe { write_bytes(text.as_bytes(), true, buf.cast(), cap, needed, ok) }
}

/// `write_str` for bytes, NUL-terminated when `nul` (then `*needed`
/// counts the NUL).
///
/// # Safety
/// As for `write_str`.
pub(crate) unsafe fn write_bytes(
    data: &[u8],
    nul: bool,
    buf: *mut u8,
    cap: usize,
    needed: *mut usize,
    ok: HResult,
) -> Result<HResult> {
    let needed = Out::new(needed, "needed")?;
    if buf.is_null() && cap != 0 {
        return Err(Error::new(QM_E_POINTER, "buf is NULL but cap is not 0"));
    }
    let size = data.len() + usize::from(nul);
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
    let out = unsafe { std::slice::from_raw_parts_mut(buf, size) };
    out[..data.len()].copy_from_slice(data);
    if nul {
        out[data.len()] = 0;
    }
    Ok(ok)
}

/// One of the two strings of a two-string getter (`qm_job_get_notify_cmdline`,
/// `qm_job_get_client_certificate`): the caller's buffer and its size.
pub(crate) struct StrOut {
    pub buf: *mut c_char,
    pub cap: usize,
    pub needed: *mut usize,
}

/// Copies two strings out, all or nothing: every pointer is checked before
/// either is written; with either buffer too small nothing is copied, both
/// `needed` are set and `QM_E_INSUFFICIENT_BUFFER` is returned.
///
/// # Safety
/// Each buffer NULL or valid for its `cap` bytes; each `needed` NULL or writable.
pub(crate) unsafe fn write_two_strs(
    first: (&str, &StrOut),
    second: (&str, &StrOut),
    ok: HResult,
) -> Result<HResult> {
    let ((a, out_a), (b, out_b)) = (first, second);
    if out_a.needed.is_null() || out_b.needed.is_null() {
        return Err(Error::new(QM_E_POINTER, "a needed pointer is NULL"));
    }
    if (out_a.buf.is_null() && out_a.cap != 0) || (out_b.buf.is_null() && out_b.cap != 0) {
        return Err(Error::new(
            QM_E_POINTER,
            "a buffer is NULL but its cap is not 0",
        ));
    }
    let fits = |text: &str, cap: usize| cap == 0 || cap > text.len();
    if !fits(a, out_a.cap) || !fits(b, out_b.cap) {
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe {
            out_a.needed.write_unaligned(a.len() + 1);
            out_b.needed.write_unaligned(b.len() + 1);
        }
        return Err(Error::new(
            QM_E_INSUFFICIENT_BUFFER,
            format!(
                "the buffers hold {} and {} bytes; {} and {} are needed",
                out_a.cap,
                out_b.cap,
                a.len() + 1,
                b.len() + 1
            ),
        ));
    }
    // SAFETY: forwarded caller promises; both fit (checked above).
    unsafe { write_str(a, out_a.buf, out_a.cap, out_a.needed, ok) }?;
    // SAFETY: as above.
    unsafe { write_str(b, out_b.buf, out_b.cap, out_b.needed, ok) }
}

// ----- structs that grow -----------------------------------------------------

/// The largest `struct_size` accepted: a bigger one is a field the caller
/// never set (no qmgr struct comes near it).
pub(crate) const MAX_STRUCT_SIZE: usize = 4096;

/// A struct of the header that starts with `struct_size` and may grow by
/// fields appended at its end.
///
/// # Safety
/// The type is `#[repr(C)]`, its first field is the `u32` `struct_size`, it
/// has no padding byte the compiler adds (every byte belongs to a field),
/// and all-zero bytes are a valid value of it.
pub(crate) unsafe trait Growable: Copy {
    /// Its C name, for messages.
    const NAME: &'static str;
    /// Its size in the first version of ABI 1, the smallest `struct_size`
    /// accepted. When a field is appended, this stays what it is.
    const MIN_SIZE: usize;
}

// SAFETY: repr(C), struct_size first, fields 4+4+ptr+ptr+8 with no gap on
// 32- and 64-bit targets (the layout test checks every offset).
unsafe impl Growable for qm_file_set_info {
    const NAME: &'static str = "qm_file_set_info";
    const MIN_SIZE: usize = 16 + 2 * size_of::<*const c_char>();
}
// SAFETY: repr(C), struct_size first, 4+4+8+8 with no gap.
unsafe impl Growable for qm_file_range {
    const NAME: &'static str = "qm_file_range";
    const MIN_SIZE: usize = 24;
}
// SAFETY: repr(C), struct_size first, 4+4+8+8 with no gap.
unsafe impl Growable for qm_file_progress {
    const NAME: &'static str = "qm_file_progress";
    const MIN_SIZE: usize = 24;
}
// SAFETY: repr(C), struct_size first, 4+4+8 with no gap.
unsafe impl Growable for qm_file_delta_status {
    const NAME: &'static str = "qm_file_delta_status";
    const MIN_SIZE: usize = 16;
}
// SAFETY: repr(C), struct_size first, 4+4+8+8+4+4+8+8 with no gap.
unsafe impl Growable for qm_job_progress {
    const NAME: &'static str = "qm_job_progress";
    const MIN_SIZE: usize = 48;
}
// SAFETY: repr(C), struct_size first, five 4-byte fields.
unsafe impl Growable for qm_job_error {
    const NAME: &'static str = "qm_job_error";
    const MIN_SIZE: usize = 20;
}
// SAFETY: repr(C), struct_size first, 4+4+8+8+8 with no gap.
unsafe impl Growable for qm_job_times {
    const NAME: &'static str = "qm_job_times";
    const MIN_SIZE: usize = 32;
}

/// Checks a caller's `struct_size` for `T`.
fn checked_size<T: Growable>(size: u32, what: &str) -> Result<usize> {
    let size = size as usize;
    if size < T::MIN_SIZE {
        return Err(Error::invalid_arg(format!(
            "{what}.struct_size is {size}, less than any {name} (at least {min} bytes): \
             set it to sizeof({name})",
            name = T::NAME,
            min = T::MIN_SIZE
        )));
    }
    if size > MAX_STRUCT_SIZE {
        return Err(Error::invalid_arg(format!(
            "{what}.struct_size is {size}: it was not set (set it to sizeof({}))",
            T::NAME
        )));
    }
    Ok(size)
}

/// Reads the `struct_size` at `ptr`.
///
/// # Safety
/// `ptr` is non-NULL and valid for reading 4 bytes.
unsafe fn struct_size_at(ptr: *const u8) -> u32 {
    // SAFETY: the caller's promise; it need not be aligned.
    unsafe { ptr.cast::<u32>().read_unaligned() }
}

/// Writes `value`, the library's own version of a growable struct, into a
/// caller's struct of `size` bytes: `min(size, sizeof value)` bytes, and
/// `struct_size` set to that count.
///
/// # Safety
/// `dst` is valid for writing `size` bytes.
unsafe fn fill<T: Growable>(dst: *mut u8, size: usize, value: &T) {
    let n = size.min(size_of::<T>());
    // SAFETY: `value` has no padding (Growable), so its n bytes are all
    // initialised; dst is valid for size >= n bytes (caller's promise).
    unsafe {
        std::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), dst, n);
        dst.cast::<u32>().write_unaligned(n as u32);
    }
}

/// A caller's out-struct whose `struct_size` was checked.
pub(crate) struct OutStruct<T> {
    ptr: *mut u8,
    size: usize,
    _value: PhantomData<T>,
}

impl<T: Growable> OutStruct<T> {
    /// Checks `ptr` (`QM_E_POINTER` if NULL) and its `struct_size`
    /// (`QM_E_INVALIDARG` below `T::MIN_SIZE` or above `MAX_STRUCT_SIZE`).
    ///
    /// # Safety
    /// `ptr` is NULL or valid for reading its `struct_size` and writing
    /// that many bytes.
    pub(crate) unsafe fn new<P>(ptr: *mut P, what: &str) -> Result<OutStruct<T>> {
        if ptr.is_null() {
            return Err(Error::new(QM_E_POINTER, format!("{what} is NULL")));
        }
        let ptr = ptr.cast::<u8>();
        // SAFETY: non-NULL; the caller promises its struct_size is readable.
        let size = checked_size::<T>(unsafe { struct_size_at(ptr) }, what)?;
        Ok(OutStruct {
            ptr,
            size,
            _value: PhantomData,
        })
    }

    /// Fills the caller's struct with `value` (see [`fill`]).
    ///
    /// # Safety
    /// As promised to `new`.
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: valid for self.size bytes (promised to new).
        unsafe { fill(self.ptr, self.size, &value) }
    }
}

/// Reads an array of `count` growable in-structs: the stride is the first
/// element's `struct_size`, and every element must carry the same. A
/// caller's struct smaller than the library's leaves the fields it lacks
/// zero; a larger one is accepted when the fields the library does not
/// know are all zero (else they would be silently ignored).
///
/// # Safety
/// `ptr` is non-NULL and valid for `count` elements of the caller's size.
pub(crate) unsafe fn read_in_array<T: Growable>(
    ptr: *const u8,
    count: usize,
    what: &str,
) -> Result<Vec<T>> {
    // SAFETY: non-NULL; the caller promises count >= 1 readable elements
    // when count > 0.
    let stride = match count {
        0 => return Ok(Vec::new()),
        // SAFETY: as above.
        _ => checked_size::<T>(unsafe { struct_size_at(ptr) }, &format!("{what}[0]"))?,
    };
    let own = size_of::<T>();
    // Not `count` up front: a garbage count would abort the process on the
    // allocation before any element is checked (found by an attack).
    let mut out = Vec::with_capacity(count.min(64));
    for i in 0..count {
        // SAFETY: element i of the caller's array (count elements of
        // `stride` bytes each, by the caller's promise).
        let elem = unsafe { ptr.add(i * stride) };
        // SAFETY: as above.
        let size = unsafe { struct_size_at(elem) } as usize;
        if size != stride {
            return Err(Error::invalid_arg(format!(
                "{what}[{i}].struct_size is {size} but {what}[0].struct_size is {stride}: \
                 every element must carry the same"
            )));
        }
        if stride > own {
            // SAFETY: bytes own..stride of the element, inside it.
            let tail = unsafe { std::slice::from_raw_parts(elem.add(own), stride - own) };
            if tail.iter().any(|&b| b != 0) {
                return Err(Error::invalid_arg(format!(
                    "{what}[{i}] sets fields this library does not know ({} has {own} bytes \
                     here, the caller's {stride}): a newer feature, refused rather than ignored",
                    T::NAME
                )));
            }
        }
        let mut value = std::mem::MaybeUninit::<T>::zeroed();
        // SAFETY: all-zero is a valid T (Growable); copying min(stride,
        // own) bytes from the element into it keeps every byte initialised.
        let value = unsafe {
            std::ptr::copy_nonoverlapping(elem, value.as_mut_ptr().cast::<u8>(), stride.min(own));
            value.assume_init()
        };
        out.push(value);
    }
    Ok(out)
}

/// Writes `values` into a caller's out-array of `cap` growable structs
/// (the stride is `out[0].struct_size`; every element written must carry
/// the same). `cap >= values.len()` is the caller's check.
///
/// # Safety
/// `out` is non-NULL and valid for `cap` elements of the caller's size.
pub(crate) unsafe fn write_out_array<T: Growable>(
    out: *mut u8,
    cap: usize,
    values: &[T],
    what: &str,
) -> Result<()> {
    if cap == 0 {
        return Ok(());
    }
    // SAFETY: non-NULL with cap >= 1 readable elements (caller's promise).
    let stride = checked_size::<T>(unsafe { struct_size_at(out) }, &format!("{what}[0]"))?;
    for i in 1..values.len() {
        // SAFETY: element i < values.len() <= cap of the caller's array.
        let size = unsafe { struct_size_at(out.add(i * stride)) } as usize;
        if size != stride {
            return Err(Error::invalid_arg(format!(
                "{what}[{i}].struct_size is {size} but {what}[0].struct_size is {stride}: \
                 every element must carry the same"
            )));
        }
    }
    for (i, value) in values.iter().enumerate() {
        // SAFETY: element i of the caller's array, valid for stride bytes.
        unsafe { fill(out.add(i * stride), stride, value) };
    }
    Ok(())
}

// ----- the shapes most exports share ---------------------------------------

/// Reads one value of a job into `out` (`QM_E_POINTER` if NULL).
///
/// # Safety
/// `out` NULL or writable.
pub(crate) unsafe fn job_get<T>(
    job: qm_job_t,
    out: *mut T,
    read: impl FnOnce(&Job) -> Result<T>,
) -> qm_hresult {
    guard!({
        let out = Out::new(out, "out")?;
        let value = read(&handles::job(job)?)?;
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { out.write(value) };
        Ok(HResult::OK)
    })
}

/// Reads one growable struct of a job into `out` (see [`OutStruct`]).
///
/// # Safety
/// `out` NULL or valid for its `struct_size` bytes.
pub(crate) unsafe fn job_get_struct<P, T: Growable>(
    job: qm_job_t,
    out: *mut P,
    read: impl FnOnce(&Job) -> Result<T>,
) -> qm_hresult {
    guard!({
        // SAFETY: forwarded caller promise.
        let out = unsafe { OutStruct::<T>::new(out, "out") }?;
        let value = handles::with_job(job, read)??;
        // SAFETY: as promised to OutStruct::new.
        unsafe { out.write(value) };
        Ok(HResult::OK)
    })
}

/// Runs one change on a job.
pub(crate) fn job_do(job: qm_job_t, action: impl FnOnce(&Job) -> Result<HResult>) -> qm_hresult {
    guard!({ action(&handles::job(job)?) })
}

/// Runs one change on a job that returns nothing but success.
pub(crate) fn job_set(job: qm_job_t, action: impl FnOnce(&Job) -> Result<()>) -> qm_hresult {
    job_do(job, |j| action(j).map(|()| HResult::OK))
}

/// Copies one string of a job out (see `qm_format_hresult` for the convention).
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
pub(crate) unsafe fn job_get_str(
    job: qm_job_t,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
    read: impl FnOnce(&Job) -> Result<(String, HResult)>,
) -> qm_hresult {
    guard!({
        if needed.is_null() {
            return Err(Error::new(QM_E_POINTER, "needed is NULL"));
        }
        let (text, ok) = read(&handles::job(job)?)?;
        // SAFETY: forwarded caller promises.
        unsafe { write_str(&text, buf, cap, needed, ok) }
    })
}

/// `job_get_str` for a value that may be absent: `QM_S_FALSE` and an
/// empty string then.
///
/// # Safety
/// As for `job_get_str`.
pub(crate) unsafe fn job_get_opt_str(
    job: qm_job_t,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
    read: impl FnOnce(&Job) -> Result<Option<String>>,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_str(job, buf, cap, needed, |j| {
            Ok(match read(j)? {
                Some(text) => (text, HResult::OK),
                None => (String::new(), HResult(QM_S_FALSE)),
            })
        })
    }
}

/// Reads one value of a manager into `out` (`QM_E_POINTER` if NULL).
///
/// # Safety
/// `out` NULL or writable.
pub(crate) unsafe fn manager_get<T>(
    mgr: qm_manager_t,
    out: *mut T,
    read: impl FnOnce(&Manager) -> T,
) -> qm_hresult {
    guard!({
        let out = Out::new(out, "out")?;
        let value = read(&*handles::manager(mgr)?);
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { out.write(value) };
        Ok(HResult::OK)
    })
}

/// Runs one change on a manager.
pub(crate) fn manager_set(
    mgr: qm_manager_t,
    action: impl FnOnce(&Manager) -> Result<()>,
) -> qm_hresult {
    guard!({
        action(&*handles::manager(mgr)?)?;
        Ok(HResult::OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of};

    /// Every growable struct: its first version's size, no padding (the
    /// sum of its fields is its size) and `struct_size` at offset 0.
    #[test]
    fn growable_structs_have_no_padding_and_start_with_struct_size() {
        fn check<T: Growable>(fields: &[usize]) {
            assert_eq!(size_of::<T>(), T::MIN_SIZE, "{}", T::NAME);
            assert_eq!(fields.iter().sum::<usize>(), size_of::<T>(), "{}", T::NAME);
            assert!(align_of::<T>() >= 4);
        }
        let p = size_of::<*const c_char>();
        check::<qm_file_set_info>(&[4, 4, p, p, 8]);
        check::<qm_file_range>(&[4, 4, 8, 8]);
        check::<qm_file_progress>(&[4, 4, 8, 8]);
        check::<qm_job_progress>(&[4, 4, 8, 8, 4, 4, 8, 8]);
        check::<qm_job_error>(&[4, 4, 4, 4, 4]);
        check::<qm_job_times>(&[4, 4, 8, 8, 8]);
        assert_eq!(offset_of!(qm_job_progress, struct_size), 0);
        assert_eq!(offset_of!(qm_file_set_info, struct_size), 0);
    }

    #[test]
    fn an_out_struct_gets_what_fits_and_learns_how_much() {
        let value = qm_job_times {
            struct_size: 0,
            reserved: 0,
            creation_ms: 1,
            modification_ms: 2,
            transfer_completion_ms: 3,
        };
        // A newer caller's bigger struct: the library fills its 32 bytes
        // and says so; the caller's extra field stays as it was.
        let mut bigger = [0xAAu8; 40];
        bigger[..4].copy_from_slice(&40u32.to_ne_bytes());
        let out = unsafe { OutStruct::<qm_job_times>::new(bigger.as_mut_ptr(), "out") }.unwrap();
        unsafe { out.write(value) };
        assert_eq!(u32::from_ne_bytes(bigger[..4].try_into().unwrap()), 32);
        assert_eq!(i64::from_ne_bytes(bigger[8..16].try_into().unwrap()), 1);
        assert_eq!(&bigger[32..], &[0xAA; 8]);
        // Too small, or never set.
        for size in [0u32, 31, 4097] {
            let mut raw = [0u8; 64];
            raw[..4].copy_from_slice(&size.to_ne_bytes());
            let err = unsafe { OutStruct::<qm_job_times>::new(raw.as_mut_ptr(), "out") }
                .err()
                .unwrap();
            assert_eq!(err.code.0, QM_E_INVALIDARG, "{size}");
        }
    }

    #[test]
    fn an_in_array_is_read_by_its_stride_and_unknown_fields_must_be_zero() {
        // Two ranges in a caller's struct of 32 bytes (8 unknown ones).
        let mut raw = [0u8; 64];
        for (i, offset) in [(0usize, 100u64), (1, 900)] {
            let at = i * 32;
            raw[at..at + 4].copy_from_slice(&32u32.to_ne_bytes());
            raw[at + 8..at + 16].copy_from_slice(&offset.to_ne_bytes());
            raw[at + 16..at + 24].copy_from_slice(&10u64.to_ne_bytes());
        }
        let got = unsafe { read_in_array::<qm_file_range>(raw.as_ptr(), 2, "ranges") }.unwrap();
        assert_eq!(got[1].initial_offset, 900);
        assert_eq!(got[1].length, 10);
        raw[32 + 24] = 1;
        let err = unsafe { read_in_array::<qm_file_range>(raw.as_ptr(), 2, "ranges") }.unwrap_err();
        assert!(
            err.message.contains("ranges[1] sets fields"),
            "{}",
            err.message
        );
        raw[32 + 24] = 0;
        raw[32..36].copy_from_slice(&24u32.to_ne_bytes());
        let err = unsafe { read_in_array::<qm_file_range>(raw.as_ptr(), 2, "ranges") }.unwrap_err();
        assert!(err.message.contains("every element"), "{}", err.message);
    }
}
