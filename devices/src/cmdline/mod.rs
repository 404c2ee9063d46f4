//! The guest command line: whitespace-separated `key=value` words and bare flags, as given
//! by `extra=` in the xl config (or `-append` under plain QEMU).
//!
//! Every key is declared with its type in [`crate::config`] (the runtime's) or the app's
//! manifest, and the guest checks the whole line against them at boot (`kernel::config()`,
//! which apps read their keys through, and the network configuration per vif,
//! [`crate::config::net`]). These helpers read single words of a line where that check has
//! not run: the kernel's log level before the heap is up, and the host tool's manifest.

/// Iterates over the `(key, value)` pairs of a command line; a bare word gives `(word, "")`.
pub fn pairs(cmdline: &str) -> impl Iterator<Item = (&str, &str)> {
    cmdline.split_ascii_whitespace().map(|w| w.split_once('=').unwrap_or((w, "")))
}

/// The value of the last occurrence of `key`, if any.
pub fn get<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    pairs(cmdline).filter(|(k, _)| *k == key).map(|(_, v)| v).last()
}

/// Whether `key` is present, with or without a value.
pub fn has(cmdline: &str, key: &str) -> bool {
    pairs(cmdline).any(|(k, _)| k == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_values_and_flags() {
        let c = "  log=debug ip=10.0.0.2/24 quiet  log=trace x=a=b ";
        assert_eq!(get(c, "log"), Some("trace"));
        assert_eq!(get(c, "ip"), Some("10.0.0.2/24"));
        assert_eq!(get(c, "x"), Some("a=b"));
        assert_eq!(get(c, "quiet"), Some(""));
        assert!(has(c, "quiet"));
        assert_eq!(get(c, "missing"), None);
        assert_eq!(get("", "log"), None);
    }
}
