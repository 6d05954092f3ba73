//! Issue 19 (trust): the caller's intent against what the network said:
//! redirects, and TLS that ends without close_notify.
