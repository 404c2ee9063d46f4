//! The Xen layer's one error type: a failed hypercall with Xen's errno, or something Xen
//! (or the loader) handed us that we cannot use.

use core::fmt;

/// Xen's errno values and names (`xen/errno.h`); hypercalls return them negated.
const ERRNO_NAMES: &[(i64, &str)] = &[
    (1, "EPERM"),
    (2, "ENOENT"),
    (3, "ESRCH"),
    (4, "EINTR"),
    (5, "EIO"),
    (6, "ENXIO"),
    (7, "E2BIG"),
    (8, "ENOEXEC"),
    (9, "EBADF"),
    (10, "ECHILD"),
    (11, "EAGAIN"),
    (12, "ENOMEM"),
    (13, "EACCES"),
    (14, "EFAULT"),
    (16, "EBUSY"),
    (17, "EEXIST"),
    (18, "EXDEV"),
    (19, "ENODEV"),
    (20, "ENOTDIR"),
    (21, "EISDIR"),
    (22, "EINVAL"),
    (23, "ENFILE"),
    (24, "EMFILE"),
    (28, "ENOSPC"),
    (30, "EROFS"),
    (31, "EMLINK"),
    (33, "EDOM"),
    (34, "ERANGE"),
    (35, "EDEADLK"),
    (36, "ENAMETOOLONG"),
    (37, "ENOLCK"),
    (38, "ENOSYS"),
    (39, "ENOTEMPTY"),
    (61, "ENODATA"),
    (62, "ETIME"),
    (74, "EBADMSG"),
    (75, "EOVERFLOW"),
    (84, "EILSEQ"),
    (85, "ERESTART"),
    (88, "ENOTSOCK"),
    (90, "EMSGSIZE"),
    (95, "EOPNOTSUPP"),
    (98, "EADDRINUSE"),
    (99, "EADDRNOTAVAIL"),
    (105, "ENOBUFS"),
    (106, "EISCONN"),
    (107, "ENOTCONN"),
    (110, "ETIMEDOUT"),
    (111, "ECONNREFUSED"),
];

/// Why an operation on Xen failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// A hypercall failed; Xen's errno (positive: 22 is EINVAL).
    Hypercall(i64),
    /// An HVM param that names a ring page or event channel holds a value out of range.
    BadParam { index: u32, value: u64 },
    /// The PVH start info's magic number is not Xen's.
    BadStartInfo { magic: u32 },
    /// The start info is older than version 1, which brought the memory map.
    NoMemoryMap { version: u32 },
    /// Xen bound an event channel beyond the ports the runtime tracks.
    PortOutOfRange(u32),
}

impl Error {
    /// From a hypercall's negative return value.
    pub(crate) fn from_rc(rc: i64) -> Error {
        Error::Hypercall(rc.saturating_neg())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Hypercall(errno) => match ERRNO_NAMES.iter().find(|(n, _)| *n == errno) {
                Some((_, name)) => write!(f, "Xen error {name} ({errno})"),
                None => write!(f, "Xen error {errno}"),
            },
            Error::BadParam { index, value } => {
                write!(f, "HVM param {index} holds {value:#x}, out of range")
            }
            Error::BadStartInfo { magic } => write!(
                f,
                "hvm_start_info magic {magic:#x}, expected {:#x}",
                super::abi::XEN_HVM_START_MAGIC_VALUE
            ),
            Error::NoMemoryMap { version } => {
                write!(f, "hvm_start_info version {version} has no memory map (need version 1)")
            }
            Error::PortOutOfRange(port) => {
                write!(f, "event channel {port} is beyond the ports the runtime tracks")
            }
        }
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn names_xen_errnos() {
        assert_eq!(Error::from_rc(-22).to_string(), "Xen error EINVAL (22)");
        assert_eq!(Error::from_rc(-1000).to_string(), "Xen error 1000");
        assert_eq!(Error::from_rc(i64::MIN), Error::Hypercall(i64::MAX));
    }
}
