//! The job options of `create`, `add` and `transfer` (retries, HTTPS,
//! HTTP): checked, and the password read, before any job is touched; then
//! set on the job.

use std::io::IsTerminal;

use qmgr::Job;

use crate::cli::JobOptions;
use crate::fail::Failure;
use crate::paths;

/// Where `--user USER` takes its password from.
pub const PASSWORD_VARIABLE: &str = "QMGR_PASSWORD";

/// [`JobOptions`] ready to set: paths absolute, headers joined, the
/// password read.
#[derive(Debug, Default)]
pub struct Prepared {
    retry_delay: Option<u32>,
    no_progress_timeout: Option<u32>,
    /// The job's connections (`--connections`).
    pub connections: Option<u32>,
    max_download_time: Option<u32>,
    dynamic: bool,
    no_yield: bool,
    ca_file: Option<String>,
    client_certificate: Option<(String, String)>,
    headers: Option<String>,
    proxy: Option<String>,
    credentials: Option<(String, String)>,
}

impl Prepared {
    /// Checks `options` and reads the password of `--user USER` from
    /// `$QMGR_PASSWORD` or, on a terminal, a prompt.
    pub fn new(options: &JobOptions) -> Result<Prepared, Failure> {
        let client_certificate = match (&options.cert, &options.key) {
            (Some(cert), Some(key)) => Some((paths::option_file(cert)?, paths::option_file(key)?)),
            _ => None,
        };
        let headers = headers(&options.headers)?;
        Ok(Prepared {
            retry_delay: options.min_retry_delay,
            no_progress_timeout: options.no_progress_timeout,
            connections: options.connections,
            max_download_time: options.max_download_time,
            dynamic: options.dynamic,
            no_yield: options.no_yield,
            ca_file: options
                .ca_file
                .as_deref()
                .map(paths::option_file)
                .transpose()?,
            client_certificate,
            headers,
            proxy: options.proxy.clone(),
            credentials: options.user.as_deref().map(credentials).transpose()?,
        })
    }

    /// Fills in the retry delay and no-progress timeout that were not given.
    pub fn with_defaults(mut self, retry_delay: u32, no_progress_timeout: u32) -> Prepared {
        self.retry_delay.get_or_insert(retry_delay);
        self.no_progress_timeout.get_or_insert(no_progress_timeout);
        self
    }

    /// Sets the options on `job`. The library refuses what it cannot use
    /// (a header without ':', an unreadable PEM file, a bad proxy URL): that
    /// is bad usage (exit 2), named by its code.
    pub fn apply(&self, job: &Job) -> Result<(), Failure> {
        let arg = Failure::argument;
        if let Some(seconds) = self.retry_delay {
            job.set_min_retry_delay(seconds).map_err(arg)?;
        }
        if let Some(seconds) = self.no_progress_timeout {
            job.set_no_progress_timeout(seconds).map_err(arg)?;
        }
        if let Some(n) = self.connections {
            job.set_max_connections(n).map_err(arg)?;
        }
        if let Some(seconds) = self.max_download_time {
            job.set_max_download_time(seconds).map_err(arg)?;
        }
        if self.dynamic {
            job.set_dynamic_content(true).map_err(arg)?;
        }
        if self.no_yield {
            job.set_yielding(false).map_err(arg)?;
        }
        if let Some(path) = &self.ca_file {
            job.set_ca_file(Some(path)).map_err(arg)?;
        }
        if let Some((cert, key)) = &self.client_certificate {
            job.set_client_certificate(Some((cert, key))).map_err(arg)?;
        }
        if let Some(headers) = &self.headers {
            job.set_custom_headers(Some(headers)).map_err(arg)?;
        }
        if let Some(proxy) = &self.proxy {
            job.set_proxy(Some(proxy)).map_err(arg)?;
        }
        if let Some((user, password)) = &self.credentials {
            job.set_credentials(Some((user, password))).map_err(arg)?;
        }
        Ok(())
    }
}

/// The `-H` values as the library's header block (`Name: value` lines
/// joined by CRLF), or `None` without any. A value holding a CR or an LF
/// is refused (exit 2): joined into the block, its line break would start
/// another header the user did not give as one (`-H $'X-A: 1\r\nX-B: 2'`
/// would send two). Only the header's name is shown, never its value (an
/// API key).
fn headers(given: &[String]) -> Result<Option<String>, Failure> {
    if let Some(bad) = given.iter().find(|h| h.contains(['\r', '\n'])) {
        let name = bad.split([':', '\r', '\n']).next().unwrap_or_default();
        return Err(Failure::usage(format!(
            "the -H/--header value for '{}' holds a line break (CR or LF): \
             each -H gives one header on one line; repeat -H for more",
            name.escape_debug()
        )));
    }
    Ok((!given.is_empty()).then(|| given.iter().map(|h| format!("{h}\r\n")).collect()))
}

/// `USER:PASSWORD` as given; `USER` with the password of
/// `$QMGR_PASSWORD`, else of a prompt on the terminal.
fn credentials(text: &str) -> Result<(String, String), Failure> {
    if let Some((user, password)) = text.split_once(':') {
        return Ok((user.to_string(), password.to_string()));
    }
    if let Some(password) = std::env::var_os(PASSWORD_VARIABLE) {
        let password = password
            .into_string()
            .map_err(|_| Failure::usage(format!("${PASSWORD_VARIABLE} is not UTF-8")))?;
        return Ok((text.to_string(), password));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(format!(
            "--user {text} needs a password: set {PASSWORD_VARIABLE}, or run qmgr on a terminal to be asked"
        )));
    }
    let password = rpassword::prompt_password(format!("qmgr: password for {text}: "))
        .map_err(|e| Failure::usage(format!("cannot read the password of --user {text}: {e}")))?;
    Ok((text.to_string(), password))
}
