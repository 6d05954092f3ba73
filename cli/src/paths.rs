//! From command-line words to the names the library takes: URLs as given,
//! local paths (destinations, --state, --ca-file, ...) made absolute against
//! the working directory.

use std::path::{Path, PathBuf};

use qmgr::hresult::QM_E_PATH_NOT_FOUND;
use qmgr::HResult;

use crate::fail::{Failure, EXIT_USAGE};

/// The state directory: `--state DIR`, else `$QMGR_STATE` (ignored when
/// empty), made absolute, so that a relative one means the same directory
/// to every later invocation.
pub fn state_dir(given: Option<PathBuf>) -> Result<Option<PathBuf>, Failure> {
    let dir = given.or_else(|| {
        std::env::var_os("QMGR_STATE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    dir.map(|d| {
        std::path::absolute(&d)
            .map_err(|e| Failure::usage(format!("cannot make '{}' absolute: {e}", d.display())))
    })
    .transpose()
}

/// Refuses a state directory that does not exist: only `create` and
/// `transfer` make one, so that a mistyped `--state` given to `list` or
/// `run` is an error instead of a new, empty directory (exit 2).
pub fn existing_state_dir(dir: &Path, verb: &str) -> Result<(), Failure> {
    if dir.is_dir() {
        return Ok(());
    }
    Err(Failure {
        exit: EXIT_USAGE,
        label: "error",
        line: format!(
            "{}: there is no state directory '{}' ('{verb}' does not create one; \
             'qmgr --state {} create NAME' does)",
            HResult(QM_E_PATH_NOT_FOUND),
            dir.display(),
            dir.display()
        ),
    })
}

/// A local file named by an option (--ca-file, --cert, --key), made absolute.
pub fn option_file(path: &Path) -> Result<String, Failure> {
    absolute(path)
}

/// True for `scheme:...` (RFC 3986 scheme syntax), which is left to the
/// library to accept or refuse.
fn has_scheme(text: &str) -> bool {
    match text.split_once(':') {
        Some((scheme, _)) => {
            let mut chars = scheme.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// `path` made absolute (against the current directory), as UTF-8 text.
pub fn absolute(path: &Path) -> Result<String, Failure> {
    let abs = std::path::absolute(path)
        .map_err(|e| Failure::usage(format!("cannot make '{}' absolute: {e}", path.display())))?;
    abs.into_os_string()
        .into_string()
        .map_err(|p| Failure::usage(format!("the path '{}' is not UTF-8", p.to_string_lossy())))
}

/// The source as the library takes it: a URL (or anything with a scheme)
/// as given, a local path made absolute.
pub fn remote(text: &str) -> Result<String, Failure> {
    if text.is_empty() || text.starts_with('/') || has_scheme(text) {
        Ok(text.to_string())
    } else {
        absolute(Path::new(text))
    }
}

/// The destination, made absolute; an existing directory gets the source's
/// file name appended, as `cp` does.
pub fn local(path: &Path, remote: &str) -> Result<String, Failure> {
    let mut path: PathBuf = path.to_path_buf();
    if path.is_dir() {
        let name = file_name(remote).ok_or_else(|| {
            Failure::usage(format!(
                "'{}' is a directory and '{}' names no file: give a file path",
                path.display(),
                qmgr::redact_passwords(remote)
            ))
        })?;
        path.push(name);
    }
    absolute(&path)
}

/// The last segment of a URL's or path's path, percent-decoded for URLs.
fn file_name(remote: &str) -> Option<String> {
    let url = remote.contains("://");
    let path = if url {
        let rest = remote.split_once("://")?.1;
        let rest = rest.split(['?', '#']).next()?;
        rest.split_once('/')?.1
    } else {
        remote
    };
    let last = path.rsplit('/').next()?;
    let name = if url {
        percent_decode(last)?
    } else {
        last.to_string()
    };
    (!name.is_empty() && name != "." && name != ".." && !name.contains('/')).then_some(name)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(remote("http://h/x").unwrap(), "http://h/x");
        assert_eq!(remote("ftp://x").unwrap(), "ftp://x");
        assert_eq!(remote("/abs").unwrap(), "/abs");
        let rel = remote("some/file").unwrap();
        assert!(rel.starts_with('/') && rel.ends_with("/some/file"), "{rel}");
    }

    #[test]
    fn file_names() {
        assert_eq!(file_name("http://h/a/b.bin?x=1").as_deref(), Some("b.bin"));
        assert_eq!(file_name("file:///tmp/a%20b").as_deref(), Some("a b"));
        assert_eq!(file_name("/tmp/c").as_deref(), Some("c"));
        assert_eq!(file_name("http://h/"), None);
        assert_eq!(file_name("http://h"), None);
        assert_eq!(file_name("http://h/%2F"), None);
    }
}
