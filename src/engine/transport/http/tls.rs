//! The TLS settings of a run: whom a server's certificate must chain to,
//! which client certificate is offered, and the separate settings for an
//! HTTPS proxy.
//!
//! - Without a CA file, a server is verified against the system's trust
//!   store (the platform verifier).
//! - With a CA file, a server must chain to one of its CA certificates, or
//!   be one of its certificates: a certificate found byte for byte in the
//!   CA file is trusted as itself (pinning), as curl and OpenSSL accept a
//!   self-signed certificate made with `openssl req -x509` (which marks it
//!   CA:TRUE, refused by webpki as an end-entity) or a leaf given without
//!   its CA. A pinned certificate must still name the host and be within
//!   its dates.
//! - Only a certificate that is a CA (basic constraints CA:TRUE, and
//!   `keyCertSign` if it states its key usage) and within its dates when
//!   the run starts is an anchor that other certificates may chain to:
//!   webpki takes an anchor's name and key only, so a pinned leaf (or an
//!   expired CA) would otherwise vouch for any certificate its key signs,
//!   for any name and any dates.
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
            if certs.is_empty() {
                return Err(error::tls_setup_error(format!(
                    "'{}' holds no certificate",
                    path.display()
                )));
            }
            // The anchors, grouped by how many intermediates a path below
            // them may have: one group without a bound, one per bounded CA
            // (webpki keeps an anchor's name and key, not its pathLen).
            let now = UnixTime::now().as_secs() as i64;
            let mut groups: Vec<(Option<u64>, rustls::RootCertStore)> = Vec::new();
            for cert in &certs {
                let Some(f) = facts(cert).filter(|f| f.is_anchor_at(now)) else {
                    continue;
                };
                let i = match groups
                    .iter()
                    .position(|(b, _)| b.is_none() && f.path_len.is_none())
                {
                    Some(i) => i,
                    None => {
                        groups.push((f.path_len, rustls::RootCertStore::empty()));
                        groups.len() - 1
                    }
                };
                groups[i].1.add_parsable_certificates([cert.clone()]);
            }
            let mut chains = Vec::new();
            for (bound, roots) in groups.into_iter().filter(|(_, r)| !r.is_empty()) {
                let verifier = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(&provider),
                )
                .build()
                .map_err(|e| error::tls_setup_error(format!("TLS cannot be set up: {e}")))?;
                chains.push((bound, verifier));
            }
            Arc::new(CaFileVerifier {
                chains,
                pinned: certs,
                provider,
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

/// Verifies servers against a job's CA file: a chain to one of its CA
/// certificates, or one of its certificates itself (pinned). `chains`
/// holds a verifier per group of anchors with the most intermediates a
/// path below them may have (`None`: no bound; `Some(n)`: a CA's pathLen,
/// checked here as webpki does not): a server that sends more than `n`
/// intermediates (certificates of the file itself not counted) is not
/// verified against that CA.
#[derive(Debug)]
struct CaFileVerifier {
    chains: Vec<(Option<u64>, Arc<WebPkiServerVerifier>)>,
    pinned: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
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
        let sent: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .filter(|c| !self.pinned.iter().any(|p| p.as_ref() == c.as_ref()))
            .cloned()
            .collect();
        let mut chained = Err(CertificateError::UnknownIssuer.into());
        for (bound, chains) in &self.chains {
            if bound.is_some_and(|n| sent.len() as u64 > n) {
                continue;
            }
            let verified =
                chains.verify_server_cert(end_entity, &sent, server_name, ocsp_response, now);
            // The first group's error is the one reported, unless a later
            // group says more (a name or a date, not an unknown issuer).
            let says_more = matches!(
                (&chained, &verified),
                (
                    Err(rustls::Error::InvalidCertificate(
                        CertificateError::UnknownIssuer
                    )),
                    Err(_)
                )
            );
            if verified.is_ok() || says_more {
                chained = verified;
            }
            if chained.is_ok() {
                break;
            }
        }
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Refuses a certificate outside its validity period at `now`.
fn check_dates(cert: &[u8], now: UnixTime) -> Result<(), rustls::Error> {
    let facts = facts(cert).ok_or(CertificateError::BadEncoding)?;
    let now = now.as_secs() as i64;
    if now < facts.not_before {
        return Err(CertificateError::NotValidYet.into());
    }
    if now > facts.not_after {
        return Err(CertificateError::Expired.into());
    }
    Ok(())
}

/// What the trust decisions need of a certificate.
#[derive(Debug, PartialEq, Eq)]
struct CertFacts {
    /// `notBefore`, Unix seconds.
    not_before: i64,
    /// `notAfter`, Unix seconds.
    not_after: i64,
    /// Basic constraints say CA:TRUE.
    is_ca: bool,
    /// Its key may sign certificates: no key usage stated, or `keyCertSign`.
    signs_certificates: bool,
    /// The basic constraints' pathLen: the most intermediates below it.
    path_len: Option<u64>,
}

impl CertFacts {
    /// May other certificates chain to it at `now` (Unix seconds)?
    fn is_anchor_at(&self, now: i64) -> bool {
        self.is_ca && self.signs_certificates && (self.not_before..=self.not_after).contains(&now)
    }
}

/// The dates and CA-ness of an X.509 certificate (DER): `Certificate ::=
/// SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
/// serialNumber, signature, issuer, validity, subject,
/// subjectPublicKeyInfo, [1] OPTIONAL, [2] OPTIONAL, [3] extensions
/// OPTIONAL } ... }`.
fn facts(cert: &[u8]) -> Option<CertFacts> {
    let (_, certificate, _) = der(cert, 0x30)?;
    let (_, mut tbs, _) = der(certificate, 0x30)?;
    if tbs.first() == Some(&0xA0) {
        tbs = der(tbs, 0xA0)?.2;
    }
    let after_serial = der(tbs, 0x02)?.2;
    let after_signature = der(after_serial, 0x30)?.2;
    let after_issuer = der(after_signature, 0x30)?.2;
    let (_, validity, after_validity) = der(after_issuer, 0x30)?;
    let (tag, not_before, rest) = der_any(validity)?;
    let not_before = asn1_time(tag, not_before)?;
    let (tag, not_after, _) = der_any(rest)?;
    let not_after = asn1_time(tag, not_after)?;
    let after_subject = der(after_validity, 0x30)?.2;
    let mut rest = der(after_subject, 0x30)?.2;
    let mut facts = CertFacts {
        not_before,
        not_after,
        is_ca: false,
        signs_certificates: true,
        path_len: None,
    };
    while let Some((tag, contents, after)) = der_any(rest) {
        rest = after;
        if tag != 0xA3 {
            continue;
        }
        let (_, mut extensions, _) = der(contents, 0x30)?;
        while !extensions.is_empty() {
            let (_, extension, after) = der(extensions, 0x30)?;
            extensions = after;
            let (_, oid, mut value) = der(extension, 0x06)?;
            if value.first() == Some(&0x01) {
                value = der(value, 0x01)?.2; // the `critical` flag
            }
            let (_, value, _) = der(value, 0x04)?;
            match oid {
                // basicConstraints (2.5.29.19): SEQUENCE { cA BOOLEAN DEFAULT FALSE, ... }
                [0x55, 0x1D, 0x13] => {
                    let (_, mut constraints, _) = der(value, 0x30)?;
                    if let Some((_, flag, rest)) = der(constraints, 0x01) {
                        facts.is_ca = flag != [0];
                        constraints = rest;
                    }
                    // pathLenConstraint INTEGER (0..MAX); one beyond 64 bits
                    // makes the certificate unreadable (so no anchor).
                    if let Some((_, n, _)) = der(constraints, 0x02) {
                        facts.path_len = Some(n.iter().try_fold(0u64, |acc, b| {
                            acc.checked_mul(256).map(|a| a + u64::from(*b))
                        })?);
                    }
                }
                // keyUsage (2.5.29.15): BIT STRING, keyCertSign is bit 5.
                [0x55, 0x1D, 0x0F] => {
                    let (_, bits, _) = der(value, 0x03)?;
                    facts.signs_certificates = bits.get(1).is_some_and(|b| b & 0x04 != 0);
                }
                _ => {}
            }
        }
    }
    Some(facts)
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
    fn only_a_ca_whose_key_signs_certificates_is_an_anchor_within_its_dates() {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
        let key = KeyPair::generate().unwrap();
        let read = |is_ca: IsCa, usages: Vec<KeyUsagePurpose>| {
            let mut params = CertificateParams::new(vec!["localhost".into()]).unwrap();
            params.is_ca = is_ca;
            params.key_usages = usages;
            params.not_before = rcgen::date_time_ymd(2001, 2, 3);
            params.not_after = rcgen::date_time_ymd(2060, 1, 1);
            facts(params.self_signed(&key).unwrap().der()).unwrap()
        };
        let ca = || IsCa::Ca(BasicConstraints::Unconstrained);
        let within = 1_000_000_000;
        assert!(read(ca(), vec![]).is_anchor_at(within));
        assert!(read(ca(), vec![KeyUsagePurpose::KeyCertSign]).is_anchor_at(within));
        assert!(!read(ca(), vec![KeyUsagePurpose::DigitalSignature]).is_anchor_at(within));
        assert!(!read(IsCa::ExplicitNoCa, vec![]).is_anchor_at(within));
        assert!(!read(IsCa::NoCa, vec![KeyUsagePurpose::KeyCertSign]).is_anchor_at(within));
        assert!(!read(ca(), vec![]).is_anchor_at(2_840_140_801), "expired");
        assert_eq!(read(ca(), vec![]).path_len, None);
        let bounded = read(IsCa::Ca(BasicConstraints::Constrained(0)), vec![]);
        assert!(bounded.is_ca && bounded.path_len == Some(0));
        let bounded = read(IsCa::Ca(BasicConstraints::Constrained(3)), vec![]);
        assert_eq!(bounded.path_len, Some(3));
        assert!(
            !read(ca(), vec![]).is_anchor_at(981_158_399),
            "not yet valid"
        );
    }

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
        let read = facts(der).unwrap();
        assert_eq!(
            (read.not_before, read.not_after),
            (981_158_400, 2_840_140_800)
        );
        assert!(!read.is_ca && read.signs_certificates);
        for cut in 0..der.len() - 1 {
            // Every truncation is refused (the outer length no longer fits); none panics.
            assert_eq!(facts(&der[..cut]), None);
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
