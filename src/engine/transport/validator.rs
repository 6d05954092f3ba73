//! Validators: what identifies one version of a source. If the validator
//! differs when a transfer resumes, the file restarts from zero; bytes of
//! two versions are never spliced.

/// What identifies one version of a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Validator {
    /// A local file's size and modification time.
    Local { len: u64, mtime_ns: i128 },
    /// A remote file's strong ETag / Last-Modified and size.
    Http(HttpValidator),
}

impl Validator {
    /// The HTTP validator, if this is one.
    pub(crate) fn http(&self) -> Option<&HttpValidator> {
        match self {
            Validator::Http(v) => Some(v),
            Validator::Local { .. } => None,
        }
    }

    /// The validator as JSON, for the state directory.
    #[cfg(feature = "state")]
    pub(crate) fn to_json(&self) -> String {
        match self {
            Validator::Local { len, mtime_ns } => {
                serde_json::json!({ "local": { "len": len, "mtime_ns": mtime_ns.to_string() } })
            }
            Validator::Http(v) => serde_json::json!({
                "http": { "etag": v.etag, "last_modified": v.last_modified, "total": v.total }
            }),
        }
        .to_string()
    }

    /// True when a transfer of this version can continue from an offset:
    /// a remote file needs something to send in `If-Range`.
    pub(crate) fn can_resume(&self) -> bool {
        match self {
            Validator::Local { .. } => true,
            Validator::Http(v) => v.if_range().is_some(),
        }
    }

    /// A validator from its JSON; `None` if unreadable (the file then restarts).
    #[cfg(feature = "state")]
    pub(crate) fn from_json(text: &str) -> Option<Validator> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        if let Some(local) = v.get("local") {
            return Some(Validator::Local {
                len: local["len"].as_u64()?,
                mtime_ns: local["mtime_ns"].as_str()?.parse().ok()?,
            });
        }
        let h = v.get("http")?;
        Some(Validator::Http(HttpValidator {
            etag: h["etag"].as_str().map(String::from),
            last_modified: h["last_modified"].as_str().map(String::from),
            total: h["total"].as_u64(),
        }))
    }
}

/// What identifies one version of a remote file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HttpValidator {
    /// A strong ETag (weak ones cannot be used with If-Range).
    pub etag: Option<String>,
    /// A valid HTTP date.
    pub last_modified: Option<String>,
    /// The size of the whole file, when the server told it.
    pub total: Option<u64>,
}

impl HttpValidator {
    /// The validator of a response with these `ETag` and `Last-Modified`
    /// values, for a file of `total` bytes: weak ETags and invalid dates do not count.
    pub(crate) fn from_fields(
        etag: Option<&str>,
        last_modified: Option<&str>,
        total: Option<u64>,
    ) -> HttpValidator {
        let text = |v: Option<&str>| v.map(|s| s.trim().to_string());
        HttpValidator {
            etag: text(etag).filter(|e| !e.starts_with("W/") && !e.is_empty()),
            last_modified: text(last_modified).filter(|l| httpdate::parse_http_date(l).is_ok()),
            total,
        }
    }

    /// The If-Range value: the strong ETag, else the Last-Modified date.
    pub(crate) fn if_range(&self) -> Option<&str> {
        self.etag.as_deref().or(self.last_modified.as_deref())
    }

    /// False when the response names a different version than `known`.
    pub(crate) fn same_version_as(&self, known: &HttpValidator) -> bool {
        let differs =
            |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(x), Some(y)) if x != y);
        !differs(&self.etag, &known.etag) && !differs(&self.last_modified, &known.last_modified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "state")]
    #[test]
    fn validators_survive_a_json_round_trip() {
        let local = Validator::Local {
            len: 5,
            mtime_ns: -12_345_678_901_234,
        };
        assert_eq!(Validator::from_json(&local.to_json()), Some(local));
        let remote = Validator::Http(HttpValidator {
            etag: Some("\"v1\"".into()),
            last_modified: None,
            total: Some(1 << 40),
        });
        assert_eq!(Validator::from_json(&remote.to_json()), Some(remote));
        assert_eq!(Validator::from_json("{}"), None);
    }

    #[test]
    fn only_strong_etags_and_valid_dates_validate() {
        let v = HttpValidator::from_fields(
            Some("W/\"weak\""),
            Some("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(3),
        );
        assert_eq!(v.etag, None);
        assert_eq!(v.if_range(), Some("Wed, 21 Oct 2015 07:28:00 GMT"));
        let v = HttpValidator::from_fields(Some("\"abc\""), Some("yesterday"), None);
        assert_eq!(v.if_range(), Some("\"abc\""));
        assert_eq!(v.last_modified, None);
        let other = HttpValidator {
            etag: Some("\"xyz\"".into()),
            last_modified: None,
            total: None,
        };
        assert!(!v.same_version_as(&other));
        assert!(v.same_version_as(&HttpValidator {
            etag: None,
            last_modified: None,
            total: None
        }));
    }
}
