//! PEM files: the CA bundle and the client certificate and key a job names.

use std::path::Path;

use ureq::tls::{Certificate, PemItem, PrivateKey};

/// Every certificate of a PEM file (at least one).
pub(crate) fn read_pem_certs(path: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!("'{}' holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// The private key of a PEM file.
pub(crate) fn read_pem_key(path: &Path) -> Result<PrivateKey<'static>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    PrivateKey::from_pem(&pem)
        .map_err(|e| format!("'{}' holds no usable PEM private key: {e}", path.display()))
}
