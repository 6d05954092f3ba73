//! Issue 19 (trust): what error texts, proxies and notify programs may and
//! may not do.
