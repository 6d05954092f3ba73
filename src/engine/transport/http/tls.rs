//! The TLS settings of a run: whom a server's certificate must chain to,
//! which client certificate is offered, and the separate settings for an
//! HTTPS proxy.
//!
//! - Without a CA file, a server is verified against the system's trust
//!   store (the platform verifier).
//! - With a CA file, a server must chain to one of its certificates, or be
//!   one of them: a certificate found byte for byte in the CA file is
//!   trusted as itself (pinning), as curl and OpenSSL accept a self-signed
//!   certificate made with `openssl req -x509` (which marks it CA:TRUE,
//!   refused by webpki as an end-entity). A pinned certificate must still
//!   name the host and be within its dates.
//! - An HTTPS proxy is the network's, not the job's: it is verified against
//!   the system's trust store, never the job's CA file, and is never
//!   offered the job's client certificate.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::engine::transport::error::{self, TransferError};
use crate::engine::transport::options::HttpOptions;
use crate::engine::transport::pem::{read_pem_certs, read_pem_key};

type Config = Arc<rustls::ClientConfig>;

/// The settings for servers of a job: its CA file (with pinning) or the
/// system's trust store, and its client certificate if it has one.
pub(crate) fn server_config(options: &HttpOptions) -> Result<Config, TransferError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let setup = |e: rustls::Error| error::tls_setup_error(format!("TLS cannot be set up: {e}"));
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(setup)?;
    let verifier: Arc<dyn ServerCertVerifier> = match &options.ca_file {
        Some(path) => {
            let certs = read_pem_certs(path).map_err(error::tls_setup_error)?;
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(certs.iter().cloned());
            if added == 0 {
                return Err(error::tls_setup_error(format!(
                    "'{}' holds no usable CA certificate",
                    path.display()
                )));
            }
            let chains = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| error::tls_setup_error(format!("TLS cannot be set up: {e}")))?;
            Arc::new(CaFileVerifier {
                chains,
                pinned: certs,
            })
        }
        None => system_verifier(provider).map_err(setup)?,
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match &options.client_certificate {
        Some((cert_path, key_path)) => {
            let chain = read_pem_certs(cert_path).map_err(error::tls_setup_error)?;
            let key = read_pem_key(key_path).map_err(error::tls_setup_error)?;
            builder.with_client_auth_cert(chain, key).map_err(setup)?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The settings for an HTTPS proxy: the system's trust store, no client
/// certificate (see the module documentation).
pub(crate) fn proxy_config() -> Result<Config, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            Ok(builder
                .dangerous()
                .with_custom_certificate_verifier(system_verifier(provider)?)
                .with_no_client_auth())
        })
        .map_err(|e| format!("TLS to the proxy cannot be set up: {e}"))?;
    Ok(Arc::new(config))
}

fn system_verifier(
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, rustls::Error> {
    Ok(Arc::new(rustls_platform_verifier::Verifier::new(provider)?))
}

/// Verifies servers against a job's CA file: a chain to one of its
/// certificates, or one of its certificates itself (pinned).
#[derive(Debug)]
struct CaFileVerifier {
    chains: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for CaFileVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chained = self.chains.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if chained.is_ok()
            || !self
                .pinned
                .iter()
                .any(|c| c.as_ref() == end_entity.as_ref())
        {
            return chained;
        }
        // The very certificate the caller gave: trusted as itself, but only
        // for the names it carries and within its dates.
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        check_dates(end_entity, now)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chains.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chains.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chains.supported_verify_schemes()
    }
}

/// Refuses a certificate outside its validity period at `now`.
fn check_dates(cert: &[u8], now: UnixTime) -> Result<(), rustls::Error> {
    let (not_before, not_after) = validity(cert).ok_or(CertificateError::BadEncoding)?;
    let now = now.as_secs() as i64;
    if now < not_before {
        return Err(CertificateError::NotValidYet.into());
    }
    if now > not_after {
        return Err(CertificateError::Expired.into());
    }
    Ok(())
}

/// The `notBefore` and `notAfter` of an X.509 certificate (DER), in Unix
/// seconds: `Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0]
/// version OPTIONAL, serialNumber, signature, issuer, validity, ... } ... }`.
fn validity(cert: &[u8]) -> Option<(i64, i64)> {
    let (_, certificate, _) = der(cert, 0x30)?;
    let (_, mut tbs, _) = der(certificate, 0x30)?;
    if tbs.first() == Some(&0xA0) {
        tbs = der(tbs, 0xA0)?.2;
    }
    let after_serial = der(tbs, 0x02)?.2;
    let after_signature = der(after_serial, 0x30)?.2;
    let after_issuer = der(after_signature, 0x30)?.2;
    let (_, validity, _) = der(after_issuer, 0x30)?;
    let (tag, not_before, rest) = der_any(validity)?;
    let not_before = asn1_time(tag, not_before)?;
    let (tag, not_after, _) = der_any(rest)?;
    Some((not_before, asn1_time(tag, not_after)?))
}

/// One DER element of tag `tag` at the start of `input`: (tag, contents, what follows).
fn der(input: &[u8], tag: u8) -> Option<(u8, &[u8], &[u8])> {
    der_any(input).filter(|(t, _, _)| *t == tag)
}

/// One DER element at the start of `input`: (tag, contents, what follows).
fn der_any(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7F => (usize::from(first), rest),
        0x81..=0x84 => {
            let n = usize::from(first - 0x80);
            let bytes = rest.get(..n)?;
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        }
        _ => return None,
    };
    let contents = rest.get(..len)?;
    Some((tag, contents, &rest[len..]))
}

/// A UTCTime (`0x17`, `YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime
/// (`0x18`, `YYYYMMDDHHMMSSZ`) in Unix seconds.
fn asn1_time(tag: u8, text: &[u8]) -> Option<i64> {
    let digits = text.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        digits
            .get(range)?
            .iter()
            .try_fold(0i64, |acc, d| Some(acc * 10 + i64::from(d - b'0')))
    };
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy = number(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (0x18, 14) => (number(0..4)?, 4),
        _ => return None,
    };
    let field = |i: usize| number(rest + 2 * i..rest + 2 * i + 2);
    let (month, day, hour, minute, second) =
        (field(0)?, field(1)?, field(2)?, field(3)?, field(4)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar
/// (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn1_times_are_unix_seconds() {
        assert_eq!(asn1_time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(asn1_time(0x17, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(asn1_time(0x18, b"20261202155447Z"), Some(1_796_226_887));
        assert_eq!(asn1_time(0x18, b"99991231235959Z"), Some(253_402_300_799));
        for bad in [
            &b"7001010000Z"[..],
            b"700101000000",
            b"701301000000Z",
            b"70010100000+Z",
        ] {
            assert_eq!(asn1_time(0x17, bad), None, "{bad:?}");
        }
        assert_eq!(asn1_time(0x18, b"700101000000Z"), None);
    }

    #[test]
    fn the_validity_of_a_certificate_is_read_and_truncations_are_refused() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2001, 2, 3);
        params.not_after = rcgen::date_time_ymd(2060, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        let der = cert.der().as_ref();
        assert_eq!(validity(der), Some((981_158_400, 2_840_140_800)));
        for cut in 0..der.len() - 1 {
            // Every truncation is refused or still reads the dates whole; none panics.
            if let Some(dates) = validity(&der[..cut]) {
                assert_eq!(dates, (981_158_400, 2_840_140_800));
            }
        }
        assert!(check_dates(
            der,
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(981_158_400))
        )
        .is_ok());
        assert!(check_dates(
            der,
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(981_158_399))
        )
        .is_err());
        assert!(check_dates(
            der,
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(2_840_140_801))
        )
        .is_err());
    }
}
