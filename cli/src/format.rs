//! Numbers for people: sizes, rates, durations, percentages, and the
//! parsing of `--max-bandwidth` rates.

use std::time::Duration;

use qmgr::{ErrorContext, JobProgress, Priority};

const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// `900 B`, `12.0 KiB`, `512.0 MiB`.
pub fn bytes(n: u64) -> String {
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `512.0 MiB/s`.
pub fn rate(bytes_per_second: u64) -> String {
    format!("{}/s", bytes(bytes_per_second))
}

/// `42s`, `3m05s`, `2h07m`, or `?` when unknown.
pub fn eta(seconds: Option<u64>) -> String {
    match seconds {
        None => "?".to_string(),
        Some(s) => duration_secs(s),
    }
}

fn duration_secs(s: u64) -> String {
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    }
}

/// A wall time: `0.4s`, `12.3s`, `3m05s`.
pub fn elapsed(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        duration_secs(d.as_secs())
    }
}

/// `12.5%`, rounded down to a tenth so that `100.0%` means every byte;
/// `?%` while the total is unknown.
pub fn percent(done: u64, total: Option<u64>) -> String {
    match total {
        None => "?%".to_string(),
        Some(0) => "100.0%".to_string(),
        Some(total) => {
            let mut tenths = (u128::from(done) * 1000 / u128::from(total)).min(1000) as u64;
            if tenths == 1000 && done < total {
                tenths = 999;
            }
            format!("{}.{}%", tenths / 10, tenths % 10)
        }
    }
}

/// `134217728/1073741824 bytes` (`?` for an unknown total).
pub fn byte_counts(done: u64, total: Option<u64>) -> String {
    match total {
        Some(t) => format!("{done}/{t} bytes"),
        None => format!("{done}/? bytes"),
    }
}

/// The progress line printed when stderr is not a terminal:
/// `12.5% 134217728/1073741824 bytes 512.0 MiB/s ETA 2s`.
pub fn progress_line(p: &JobProgress) -> String {
    format!(
        "{} {} {} ETA {}",
        percent(p.bytes_transferred, p.bytes_total),
        byte_counts(p.bytes_transferred, p.bytes_total),
        rate(p.bytes_per_second),
        eta(p.eta_seconds)
    )
}

/// `FOREGROUND`, `HIGH`, `NORMAL`, `LOW`.
pub fn priority(p: Priority) -> &'static str {
    match p {
        Priority::Foreground => "FOREGROUND",
        Priority::High => "HIGH",
        Priority::Normal => "NORMAL",
        Priority::Low => "LOW",
    }
}

/// The `BG_ERROR_CONTEXT` name: `LOCAL_FILE`, `REMOTE_FILE`, ...
pub fn context(c: ErrorContext) -> &'static str {
    match c {
        ErrorContext::None => "NONE",
        ErrorContext::Unknown => "UNKNOWN",
        ErrorContext::GeneralQueueManager => "GENERAL_QUEUE_MANAGER",
        ErrorContext::QueueManagerNotification => "QUEUE_MANAGER_NOTIFICATION",
        ErrorContext::LocalFile => "LOCAL_FILE",
        ErrorContext::RemoteFile => "REMOTE_FILE",
        ErrorContext::GeneralTransport => "GENERAL_TRANSPORT",
        ErrorContext::RemoteApplication => "REMOTE_APPLICATION",
    }
}

/// Parses a rate in bytes per second: `1048576`, `500K`, `20M`, `1.5G`
/// (binary multiples; an optional `i`, `B` and `/s` are accepted, so
/// `20MiB/s` is 20M too). `0` means no limit.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let bad = || format!("'{text}' is not a rate (bytes per second, e.g. 1048576, 500K, 20M, 1G)");
    let mut s = text.trim();
    for suffix in ["/s", "/S"] {
        if let Some(rest) = s.strip_suffix(suffix) {
            s = rest;
        }
    }
    if let Some(rest) = s.strip_suffix(['B', 'b']) {
        s = rest;
    }
    if let Some(rest) = s.strip_suffix(['i', 'I']) {
        s = rest;
    }
    let (number, multiplier) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&s[..s.len() - 1], 1 << 20),
        Some('g' | 'G') => (&s[..s.len() - 1], 1 << 30),
        Some('t' | 'T') => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    if multiplier == 1 {
        return number.parse::<u64>().map_err(|_| bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let rate = value * multiplier as f64;
    if !rate.is_finite() || rate >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(rate.round() as u64)
}

/// Checks `--sha256` before any job is touched: 64 hex digits, as
/// `qmgr::Job::set_file_sha256` takes them (which checks again), so that a
/// typo is bad usage (exit 2) and never leaves a file added without its
/// checksum.
pub fn parse_sha256(text: &str) -> Result<String, String> {
    if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(text.to_string())
    } else {
        Err(format!("'{text}' is not a SHA-256 (64 hex digits)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("1048576"), Ok(1_048_576));
        assert_eq!(parse_rate("500K"), Ok(500 * 1024));
        assert_eq!(parse_rate("20M"), Ok(20 << 20));
        assert_eq!(parse_rate("20MiB/s"), Ok(20 << 20));
        assert_eq!(parse_rate("1g"), Ok(1 << 30));
        assert_eq!(parse_rate("1.5M"), Ok(3 << 19));
        assert_eq!(parse_rate("0"), Ok(0));
        for bad in ["", "M", "20X", "-1", "1.5", "fast", "1e3K", "1..2M"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_print() {
        assert_eq!(bytes(900), "900 B");
        assert_eq!(bytes(512 << 20), "512.0 MiB");
        assert_eq!(percent(1, Some(3)), "33.3%");
        assert_eq!(percent(999_999, Some(1_000_000)), "99.9%");
        assert_eq!(percent(5, Some(5)), "100.0%");
        assert_eq!(percent(5, None), "?%");
        assert_eq!(eta(Some(125)), "2m05s");
        assert_eq!(eta(None), "?");
    }
}
