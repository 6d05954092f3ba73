//! The header's section "HTTP options" of a job: headers, credentials,
//! proxy, TLS trust and client certificates, timeouts, redirect policy.

use std::ffi::c_char;

use super::handles;
use super::types::*;
use super::util::{
    job_do, job_get, job_get_opt_str, job_get_str, job_set, opt_str_arg, write_two_strs, StrOut,
};
use crate::engine::error::Error;
use crate::hresult::*;
use crate::ProxySetting;

/// Sets extra request headers, "Name: value" lines separated by CRLF (the
/// last CRLF optional), or removes them with `headers = NULL`. Range,
/// If-Range, Content-Length, Transfer-Encoding and Connection are managed by
/// qmgr and refused. Like the credentials, every one of these headers
/// (`Authorization`, `Cookie`, `X-Api-Key`, a `Host` or `User-Agent` of
/// yours...) is sent only to the origin (scheme, host, port) of the file's
/// remote name, never to another origin a redirect leads to; a
/// `Proxy-Authorization` goes only to a plain-HTTP proxy.
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (malformed or
/// reserved header, not UTF-8), `QM_BG_E_INVALID_STATE` (final),
/// `QM_E_HANDLE`. Any thread.
///
/// # Safety
/// `headers` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn qm_job_set_custom_headers(
    job: qm_job_t,
    headers: *const c_char,
) -> qm_hresult {
    job_do(job, |j| {
        // SAFETY: the caller promises a valid C string or NULL.
        j.set_custom_headers(unsafe { opt_str_arg(headers, "headers") }?)?;
        Ok(HResult::OK)
    })
}

/// Gets the custom headers as set (string out-parameter convention of
/// `qm_format_hresult`). Returns `QM_S_OK`, `QM_S_FALSE` (none set: the
/// string is empty), `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`,
/// `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_custom_headers(
    job: qm_job_t,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_str(job, buf, cap, needed, |j| {
            Ok(match j.custom_headers() {
                Some(text) => (text, HResult::OK),
                None => (String::new(), HResult(QM_S_FALSE)),
            })
        })
    }
}

/// Sets HTTP Basic credentials, or removes them with `user = NULL`
/// (`password = NULL` is an empty password). They are kept in memory, and
/// with a state directory in its private (0600) database.
/// Returns `QM_S_OK`, `QM_BG_E_USERNAME_TOO_LARGE` (over 300 characters),
/// `QM_BG_E_PASSWORD_TOO_LARGE` (over 65,536), `QM_E_INVALIDARG` (':' in the
/// user name, control characters, not UTF-8), `QM_BG_E_INVALID_STATE`
/// (final), `QM_E_HANDLE`. Any thread.
///
/// # Safety
/// Both strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn qm_job_set_credentials(
    job: qm_job_t,
    user: *const c_char,
    password: *const c_char,
) -> qm_hresult {
    guard!({
        let job = handles::job(job)?;
        // SAFETY: the caller promises valid C strings or NULL.
        let user = unsafe { opt_str_arg(user, "user") }?;
        // SAFETY: as above.
        let password = unsafe { opt_str_arg(password, "password") }?.unwrap_or("");
        job.set_credentials(user.map(|u| (u, password)))?;
        Ok(HResult::OK)
    })
}

/// Sets the proxy: NULL takes it from the environment (`http_proxy`,
/// `https_proxy`, `no_proxy`; the default) as the last `qm_job_resume` or
/// `qm_manager_open` read it (see `qm_job_resume`), "" connects directly, otherwise
/// a URL with scheme http, https, socks4, socks4a, socks5 or socks5h.
/// An https:// proxy is the network's, not the server's: its certificate is
/// checked against the system's trust store (never the job's CA file) and
/// it is never offered the job's client certificate.
/// A proxy that refuses the credentials (an HTTP 401 or 407, a SOCKS login
/// or identd failure) fails the job with `QM_HTTP_ERROR(407)` (ERROR), one
/// whose rules refuse the connection with `QM_HTTP_ERROR(403)` (or the
/// other 4xx it answered to `CONNECT`), a SOCKS proxy that lacks the
/// command or address type with `QM_BG_E_INVALID_PROXY_INFO`; one that is
/// busy or cannot reach the server is retried (TRANSIENT_ERROR).
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_PROXY_INFO` (malformed URL),
/// `QM_E_INVALIDARG` (not UTF-8), `QM_BG_E_INVALID_STATE` (final),
/// `QM_E_HANDLE`. Any thread.
///
/// # Safety
/// `proxy_url` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn qm_job_set_proxy(job: qm_job_t, proxy_url: *const c_char) -> qm_hresult {
    job_do(job, |j| {
        // SAFETY: the caller promises a valid C string or NULL.
        j.set_proxy(unsafe { opt_str_arg(proxy_url, "proxy_url") }?)?;
        Ok(HResult::OK)
    })
}

/// Gets the proxy as `qm_job_set_proxy` set it (string out-parameter
/// convention of `qm_format_hresult`): the URL, exactly as given (with any
/// user name and password in it: the caller set them); "" with `QM_S_OK`
/// for a direct connection; "" with `QM_S_FALSE` when the proxy comes from
/// the environment (the default).
/// Returns `QM_S_OK`, `QM_S_FALSE`, `QM_E_INSUFFICIENT_BUFFER`,
/// `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_proxy(
    job: qm_job_t,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_str(job, buf, cap, needed, |j| {
            Ok(match j.proxy() {
                ProxySetting::FromEnvironment => (String::new(), HResult(QM_S_FALSE)),
                ProxySetting::Direct => (String::new(), HResult::OK),
                ProxySetting::Url(url) => (url, HResult::OK),
            })
        })
    }
}

/// Trusts the CA certificates in this PEM file instead of the system's
/// roots for this job's HTTPS transfers; NULL returns to the system's roots.
/// A server must chain to one of its certificates, or present one of them
/// itself: a certificate in the file is trusted as itself (pinning; e.g. a
/// self-signed one made with `openssl req -x509`, or a leaf without its
/// CA), still only for the host names it carries and within its dates.
/// Not used for an https:// proxy (see `qm_job_set_proxy`).
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (relative path, not a regular file,
/// no PEM certificate in it, not UTF-8), the Win32 error of an unreadable file (e.g.
/// `QM_E_FILE_NOT_FOUND`), `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`.
/// Any thread.
///
/// # Safety
/// `pem_path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn qm_job_set_ca_file(job: qm_job_t, pem_path: *const c_char) -> qm_hresult {
    job_do(job, |j| {
        // SAFETY: the caller promises a valid C string or NULL.
        j.set_ca_file(unsafe { opt_str_arg(pem_path, "pem_path") }?)?;
        Ok(HResult::OK)
    })
}

/// Gets the path of the CA file `qm_job_set_ca_file` set (string
/// out-parameter convention of `qm_format_hresult`), or "" with
/// `QM_S_FALSE` when the job uses the system's roots.
/// Returns `QM_S_OK`, `QM_S_FALSE`, `QM_E_INSUFFICIENT_BUFFER`,
/// `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_ca_file(
    job: qm_job_t,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_opt_str(job, buf, cap, needed, |j| {
            Ok(j.ca_file().map(|p| p.to_string_lossy().into_owned()))
        })
    }
}

/// Presents this client certificate and private key (PEM files) for mutual
/// TLS; both NULL removes them. Returns `QM_S_OK`, `QM_E_INVALIDARG` (only
/// one given, relative path, not a regular file, no PEM certificate or no
/// usable private key in it, not UTF-8), the Win32
/// error of an unreadable file, `QM_BG_E_INVALID_STATE` (final),
/// `QM_E_HANDLE`. Any thread.
///
/// # Safety
/// Both strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn qm_job_set_client_certificate(
    job: qm_job_t,
    cert_pem: *const c_char,
    key_pem: *const c_char,
) -> qm_hresult {
    guard!({
        let job = handles::job(job)?;
        // SAFETY: the caller promises valid C strings or NULL.
        let cert = unsafe { opt_str_arg(cert_pem, "cert_pem") }?;
        // SAFETY: as above.
        let key = unsafe { opt_str_arg(key_pem, "key_pem") }?;
        let pair = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(Error::invalid_arg(
                    "give both the certificate and the key, or neither",
                ))
            }
        };
        job.set_client_certificate(pair)?;
        Ok(HResult::OK)
    })
}

/// Gets the paths of the client certificate and key files
/// `qm_job_set_client_certificate` set: the certificate's into `cert`, the
/// key's into `key`, each by the string convention of `qm_format_hresult`.
/// Only the paths: qmgr reads the files when it connects and never hands
/// out what they hold. Both are "" with `QM_S_FALSE` when none is set.
/// With either buffer too small nothing is copied, both `needed` are set
/// and `QM_E_INSUFFICIENT_BUFFER` is returned.
/// Returns `QM_S_OK`, `QM_S_FALSE`, `QM_E_INSUFFICIENT_BUFFER`,
/// `QM_E_HANDLE`, `QM_E_POINTER` (a `needed` NULL, or a buffer NULL with
/// its cap above 0; nothing is written). Any thread.
///
/// # Safety
/// Each buffer NULL or valid for its `cap` bytes; each `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_client_certificate(
    job: qm_job_t,
    cert: *mut c_char,
    cert_cap: usize,
    cert_needed: *mut usize,
    key: *mut c_char,
    key_cap: usize,
    key_needed: *mut usize,
) -> qm_hresult {
    guard!({
        let job = handles::job(job)?;
        let (paths, ok) = match job.client_certificate() {
            Some((c, k)) => (
                (
                    c.to_string_lossy().into_owned(),
                    k.to_string_lossy().into_owned(),
                ),
                HResult::OK,
            ),
            None => ((String::new(), String::new()), HResult(QM_S_FALSE)),
        };
        let cert_out = StrOut {
            buf: cert,
            cap: cert_cap,
            needed: cert_needed,
        };
        let key_out = StrOut {
            buf: key,
            cap: key_cap,
            needed: key_needed,
        };
        // SAFETY: forwarded caller promises.
        unsafe { write_two_strs((&paths.0, &cert_out), (&paths.1, &key_out), ok) }
    })
}

/// Sets how long a connection may deliver nothing (no single read or write
/// completes) before qmgr gives it up and retries the transfer, in seconds
/// (default 60; values below 1 are stored as 1). It is a stall timer,
/// re-armed by every read, not a limit on the whole download; but a
/// response head must arrive whole within it, and opening a connection
/// (name lookup, TCP, proxy and TLS handshakes) within 30 s, however
/// steadily the bytes drip (`QM_E_WINHTTP_TIMEOUT`, TRANSIENT_ERROR).
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_stall_timeout(job: qm_job_t, seconds: u32) -> qm_hresult {
    job_set(job, |j| j.set_stall_timeout(seconds))
}

/// Gets the stall timeout in seconds.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_stall_timeout(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.stall_timeout())) }
}

/// Sets the job's HTTP security flags (`IBackgroundCopyJobHttpOptions::
/// SetSecurityFlags`): one redirect policy, `QM_HTTP_REDIRECT_POLICY_ALLOW_SILENT`
/// (0, the default: redirects are followed), `_ALLOW_REPORT` (followed, and
/// reported by `qm_job_get_file_final_url`) or `_DISALLOW` (a redirect
/// puts the job in ERROR with `QM_E_WINHTTP_REDIRECT_FAILED`;
/// `qm_job_get_file_final_url` names where it pointed), optionally with
/// `QM_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP`. Without that flag no
/// request of a file whose remote name is `https://` goes over plain HTTP:
/// such a redirect (or any from HTTPS to HTTP) is refused with
/// `QM_E_WINHTTP_REDIRECT_FAILED`.
/// The rule under every policy: a redirect is a report, never a new
/// remote name. Every attempt (and every `qm_job_resume`) starts at the
/// remote name the caller gave; credentials and custom headers go only to
/// that name's origin (scheme, host, port); a redirect never leads out of
/// `http(s)://` (a `Location: file:///...` is refused). Unlike BITS,
/// `_ALLOW_REPORT` and `_DISALLOW` do not rewrite the remote name (which
/// would make the next resume fetch from, and trust, a server's choice);
/// read the report from `qm_job_get_file_final_url`.
/// Returns `QM_S_OK`, `QM_E_NOTIMPL` (a `QM_SSL_*` flag: qmgr always
/// verifies certificates; trust a private CA with `qm_job_set_ca_file`),
/// `QM_E_INVALIDARG` (unknown bits, or two policies), `QM_BG_E_INVALID_STATE`
/// (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_security_flags(job: qm_job_t, flags: u32) -> qm_hresult {
    job_set(job, |j| j.set_security_flags(flags))
}

/// Gets the job's HTTP security flags.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_security_flags(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.security_flags().0)) }
}
