//! PEM files: the CA bundle and the client certificate and key a job names.

use std::io::Read;
use std::path::Path;

#[cfg(feature = "tls")]
use rustls::pki_types::pem::PemObject;
#[cfg(feature = "tls")]
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::engine::transport::file::open_regular;

/// The largest PEM file read: a CA bundle of a few hundred certificates is
/// under 1 MiB; anything larger is not what the caller meant.
pub(crate) const MAX_PEM_FILE: u64 = 1 << 20;

/// Reads a small regular file without ever blocking: the type is checked
/// before the file is opened (a FIFO would wait for a writer), again on the
/// open file (it may have been swapped meanwhile), and at most
/// `MAX_PEM_FILE` bytes are read.
pub(crate) fn read_small_file(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let not_regular = || format!("'{shown}' is not a regular file");
    let (file, meta) = open_regular(path)
        .map_err(|e| format!("cannot read '{shown}': {e}"))?
        .ok_or_else(not_regular)?;
    if meta.len() > MAX_PEM_FILE {
        return Err(format!(
            "'{shown}' is {} bytes; a PEM file here may hold at most {MAX_PEM_FILE}",
            meta.len()
        ));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_PEM_FILE + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("cannot read '{shown}': {e}"))?;
    if data.len() as u64 > MAX_PEM_FILE {
        return Err(format!(
            "'{shown}' grew past {MAX_PEM_FILE} bytes while read"
        ));
    }
    Ok(data)
}

/// Every certificate of a PEM file (at least one).
#[cfg(feature = "tls")]
pub(crate) fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read_small_file(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(format!("'{}' holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// The private key of a PEM file.
#[cfg(feature = "tls")]
pub(crate) fn read_pem_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read_small_file(path)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| format!("'{}' holds no usable PEM private key: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_directories_and_huge_files_are_refused_without_blocking() {
        let dir = crate::testing::Scratch::new("pem");
        let fifo = dir.join("fifo.pem");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        // Would block forever in open(2) if the type were not checked first.
        assert!(read_small_file(&fifo)
            .unwrap_err()
            .contains("not a regular file"));
        assert!(read_small_file(&dir)
            .unwrap_err()
            .contains("not a regular file"));
        let big = dir.join("big.pem");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_PEM_FILE + 1)
            .unwrap();
        assert!(read_small_file(&big).unwrap_err().contains("at most"));
        let small = dir.join("small.pem");
        std::fs::write(&small, b"abc").unwrap();
        assert_eq!(read_small_file(&small).unwrap(), b"abc");
    }
}
