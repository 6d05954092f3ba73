//! Issue 19 (trust), item 9 and the HTTPS-proxy part of item 8: whom qmgr
//! trusts in a TLS handshake. A server whose exact certificate is in the
//! job's CA file is accepted (a self-signed certificate made with `openssl
//! req -x509`, as curl, wget and Python accept it; a leaf pinned without its
//! CA), still only for the names it carries and within its dates. An HTTPS
//! proxy is verified against the system's trust store, never the job's CA
//! file, and is never offered the job's client certificate.

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qmgr::{FileSpec, Job, JobState, Manager};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::http_server::TestCa;
use support::wait;

const BODY: &[u8] = b"the bytes behind the handshake\n";

/// A TLS server on 127.0.0.1 with `config` that answers every request with
/// `BODY`; the request lines it saw.
fn tls_responder(config: Arc<rustls::ServerConfig>) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            let (config, record) = (Arc::clone(&config), Arc::clone(&record));
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(20)));
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut reader = BufReader::new(rustls::StreamOwned::new(conn, tcp));
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    record.lock().unwrap().push(line.trim_end().to_string());
                    while line != "\r\n" {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                    }
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", BODY.len());
                    let stream = reader.get_mut();
                    if stream.write_all(head.as_bytes()).is_err() || stream.write_all(BODY).is_err()
                    {
                        return;
                    }
                    let _ = stream.flush();
                }
            });
        }
    });
    (addr, seen)
}

/// A server configuration with the certificate chain and key of these PEM files.
fn config_from_pem(cert: &Path, key: &Path) -> Arc<rustls::ServerConfig> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap(),
    )
}

/// A self-signed certificate made the way a user makes one: `openssl req
/// -x509` (which marks it CA:TRUE), for `names` (`DNS:...`/`IP:...`).
fn openssl_self_signed(
    dir: &Path,
    names: &str,
) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    // `openssl version`, not `--version`: OpenSSL has no such option.
    let found = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        support::skipped("openssl is not installed: the `openssl req -x509` certificate tests");
        return None;
    }
    let (cert, key) = (dir.join("self.pem"), dir.join("self-key.pem"));
    support::sh(
        dir,
        &format!(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
             -keyout self-key.pem -out self.pem -days 30 -subj /CN=localhost \
             -addext subjectAltName={names} 2>&1"
        ),
        &[],
    );
    Some((cert, key))
}

/// A job fetching `url` into `dir` with `ca_file`, resumed; at most one
/// connection and no retries, so a refusal is its error at once.
fn fetch(manager: &Manager, url: &str, dir: &Path, ca_file: &Path, proxy: Option<&str>) -> Job {
    let job = manager.create_job("tls").unwrap();
    job.add_files(&[FileSpec::new(url, dir.join("out").to_str().unwrap())])
        .unwrap();
    job.set_ca_file(Some(ca_file.to_str().unwrap())).unwrap();
    job.set_no_progress_timeout(0).unwrap();
    if let Some(proxy) = proxy {
        job.set_proxy(Some(proxy)).unwrap();
    }
    job.resume().unwrap();
    job
}

/// Waits for `job` to end in ERROR and returns its error text.
fn refusal(job: &Job) -> String {
    let state = wait(job, Duration::from_secs(30));
    let error = job.error().unwrap();
    assert_eq!(state, JobState::Error, "{error:?}");
    error.description
}

#[test]
fn a_self_signed_certificate_in_the_ca_file_is_trusted_for_its_names() {
    let dir = support::scratch("tls-pinned-self-signed");
    let Some((cert, key)) = openssl_self_signed(&dir, "DNS:localhost,IP:127.0.0.1") else {
        return;
    };
    let (addr, seen) = tls_responder(config_from_pem(&cert, &key));
    let manager = Manager::open(None).unwrap();

    // Failed before with `CaUsedAsEndEntity`: webpki refuses a CA:TRUE
    // certificate as a server's, even when it is the very one trusted.
    for (i, host) in ["localhost", "127.0.0.1"].iter().enumerate() {
        let sub = dir.join(format!("ok{i}"));
        std::fs::create_dir_all(&sub).unwrap();
        let url = format!("https://{host}:{}/image.bin", addr.port());
        let job = fetch(&manager, &url, &sub, &cert, None);
        assert_eq!(
            wait(&job, Duration::from_secs(30)),
            JobState::Transferred,
            "{host}: {:?}",
            job.error()
        );
        job.complete().unwrap();
        assert_eq!(std::fs::read(sub.join("out")).unwrap(), BODY);
    }
    assert_eq!(seen.lock().unwrap().len(), 2);

    // The same certificate for a name it does not carry: refused, and the
    // request never goes out.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let (other_cert, other_key) = (dir.join("other.pem"), dir.join("other-key.pem"));
    std::fs::rename(&cert, &other_cert).unwrap();
    std::fs::rename(&key, &other_key).unwrap();
    let Some((cert, key)) = openssl_self_signed(&dir, "DNS:updates.example") else {
        return;
    };
    let (addr, seen) = tls_responder(config_from_pem(&cert, &key));
    let url = format!("https://localhost:{}/image.bin", addr.port());
    let why = refusal(&fetch(&manager, &url, &other, &cert, None));
    assert!(why.contains("not valid for name \"localhost\""), "{why}");
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn a_pinned_certificate_must_be_within_its_dates_and_a_pinned_leaf_needs_no_ca() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let dir = support::scratch("tls-pinned-dates");
    let manager = Manager::open(None).unwrap();

    // Expired (and CA:TRUE, as openssl makes them): the pin does not
    // outlive the certificate.
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".into()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let expired = params.self_signed(&key).unwrap();
    let (cert, key_pem) = (dir.join("expired.pem"), dir.join("expired-key.pem"));
    std::fs::write(&cert, expired.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    let (addr, seen) = tls_responder(config_from_pem(&cert, &key_pem));
    let url = format!("https://localhost:{}/image.bin", addr.port());
    let why = refusal(&fetch(&manager, &url, &dir, &cert, None));
    assert!(why.contains("Expired"), "{why}");
    assert!(seen.lock().unwrap().is_empty());

    // A leaf whose CA the file does not hold, the leaf itself in the file
    // (curl's partial chain): trusted.
    let ca = TestCa::generate(&dir.join("ca"));
    let leaf = ca.dir.join("server.pem");
    let (addr, _) = tls_responder(config_from_pem(&leaf, &ca.dir.join("server-key.pem")));
    let url = format!("https://localhost:{}/image.bin", addr.port());
    let out = dir.join("leaf");
    std::fs::create_dir_all(&out).unwrap();
    let job = fetch(&manager, &url, &out, &leaf, None);
    assert_eq!(
        wait(&job, Duration::from_secs(30)),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
}

#[test]
fn an_https_proxy_is_verified_against_the_system_store_not_the_jobs_ca_file() {
    let dir = support::scratch("tls-proxy-roots");
    let ca = TestCa::generate(&dir.join("ca"));
    // The proxy's certificate comes from the job's CA: before, the job's CA
    // file vouched for the proxy too, and the request went through it.
    let (proxy, seen) = tls_responder(config_from_pem(
        &ca.dir.join("server.pem"),
        &ca.dir.join("server-key.pem"),
    ));
    let proxy_url = format!("https://localhost:{}", proxy.port());
    let manager = Manager::open(None).unwrap();
    let url = "http://updates.invalid/image.bin";
    let why = refusal(&fetch(&manager, url, &dir, &ca.ca_pem, Some(&proxy_url)));
    assert!(why.contains("UnknownIssuer"), "{why}");
    assert!(seen.lock().unwrap().is_empty());

    // A proxy the system trusts (here: through SSL_CERT_FILE, how a user
    // points the system store elsewhere) carries the request, with the
    // CLI the way a user runs it.
    let out = dir.join("through-proxy");
    let mut cmd = std::process::Command::new(support::qmgr_bin());
    cmd.args([
        "transfer",
        "-q",
        "--proxy",
        &proxy_url,
        "--no-progress-timeout",
        "0",
    ])
    .arg(url)
    .arg(&out)
    .env("SSL_CERT_FILE", &ca.ca_pem);
    let done = support::run_bounded(cmd, Duration::from_secs(60));
    assert!(
        done.status.is_some_and(|s| s.success()),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(std::fs::read(&out).unwrap(), BODY);
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        [format!("GET {url} HTTP/1.1")]
    );
}

#[test]
fn a_pinned_leaf_or_an_expired_ca_vouches_for_no_certificate_its_key_signs() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let dir = support::scratch("tls-pins-sign-nothing");
    let manager = Manager::open(None).unwrap();
    // (what the CA file holds, made with this key) for each case: a valid
    // leaf (CA:FALSE) for localhost; a self-signed CA:TRUE certificate, expired.
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".into()]).unwrap();
    leaf.is_ca = IsCa::ExplicitNoCa;
    let leaf = leaf.self_signed(&leaf_key).unwrap();
    let old_key = KeyPair::generate().unwrap();
    let mut old = CertificateParams::new(vec!["localhost".into()]).unwrap();
    old.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    old.not_before = rcgen::date_time_ymd(2000, 1, 1);
    old.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let old = old.self_signed(&old_key).unwrap();

    for (name, pinned, pinned_key) in [("leaf", &leaf, &leaf_key), ("expired", &old, &old_key)] {
        // Whoever holds the pinned key signs a certificate for 127.0.0.1,
        // valid now: the CA file must not vouch for it (before, webpki took
        // every certificate of the file as an anchor, name and key only).
        let child_key = KeyPair::generate().unwrap();
        let child = CertificateParams::new(vec!["127.0.0.1".into()])
            .unwrap()
            .signed_by(&child_key, pinned, pinned_key)
            .unwrap();
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let (ca_file, cert, key) = (
            sub.join("ca.pem"),
            sub.join("child.pem"),
            sub.join("child-key.pem"),
        );
        std::fs::write(&ca_file, pinned.pem()).unwrap();
        std::fs::write(&cert, child.pem()).unwrap();
        std::fs::write(&key, child_key.serialize_pem()).unwrap();
        let (addr, seen) = tls_responder(config_from_pem(&cert, &key));
        let url = format!("https://127.0.0.1:{}/image.bin", addr.port());
        let why = refusal(&fetch(&manager, &url, &sub, &ca_file, None));
        assert!(why.contains("UnknownIssuer"), "{name}: {why}");
        assert!(seen.lock().unwrap().is_empty(), "{name}");
    }
}

/// Found by the second attack: webpki keeps an anchor's name and key, not
/// its pathLen, so a CA of the file limited to no intermediates below it
/// vouched for a leaf under a sub-CA it had signed.
#[test]
fn a_ca_files_path_length_limit_is_kept() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let dir = support::scratch("tls-path-length");
    let manager = Manager::open(None).unwrap();
    let root_key = KeyPair::generate().unwrap();
    let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
    root.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let root = root.self_signed(&root_key).unwrap();
    let sub_key = KeyPair::generate().unwrap();
    let mut sub = CertificateParams::new(Vec::<String>::new()).unwrap();
    sub.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let sub = sub.signed_by(&sub_key, &root, &root_key).unwrap();
    let leaf = |issuer: &rcgen::Certificate, issuer_key: &KeyPair| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .signed_by(&key, issuer, issuer_key)
            .unwrap();
        (cert, key)
    };
    let ca_file = dir.join("root.pem");
    std::fs::write(&ca_file, root.pem()).unwrap();
    let serve = |name: &str, chain: String, key: &KeyPair| {
        let (cert, key_pem) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}-key.pem")),
        );
        std::fs::write(&cert, chain).unwrap();
        std::fs::write(&key_pem, key.serialize_pem()).unwrap();
        tls_responder(config_from_pem(&cert, &key_pem))
    };

    // Below the sub-CA: one intermediate more than the root allows.
    let (under_sub, under_sub_key) = leaf(&sub, &sub_key);
    let (addr, seen) = serve("under-sub", under_sub.pem() + &sub.pem(), &under_sub_key);
    let url = format!("https://localhost:{}/image.bin", addr.port());
    let out = dir.join("refused");
    std::fs::create_dir_all(&out).unwrap();
    let why = refusal(&fetch(&manager, &url, &out, &ca_file, None));
    assert!(why.contains("UnknownIssuer"), "{why}");
    assert!(seen.lock().unwrap().is_empty());

    // Signed by the root itself (the root sent along too, as servers do): allowed.
    let (direct, direct_key) = leaf(&root, &root_key);
    let (addr, _) = serve("direct", direct.pem() + &root.pem(), &direct_key);
    let url = format!("https://localhost:{}/image.bin", addr.port());
    let out = dir.join("allowed");
    std::fs::create_dir_all(&out).unwrap();
    let job = fetch(&manager, &url, &out, &ca_file, None);
    assert_eq!(
        wait(&job, Duration::from_secs(30)),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
}
