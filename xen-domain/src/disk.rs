//! Virtual disks: `disk = [ "format=raw, vdev=xvda, access=w, target=/srv/a.img" ]`
//! (xl-disk-configuration(5)).

use crate::Error;
use std::fmt;
use std::str::FromStr;

/// The disk's name in the guest: `xvd` and letters, as libxl decodes it (`a` is disk 0, `z`
/// 25, `aa` 26, ..., below 2^20 disks). Whole disks only: xl also takes a partition
/// (`xvda1`) and the emulated `hd`/`sd` names, which a PVH guest has no use for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vdev(String);

impl Vdev {
    /// The vdev of disk number `index` (0: `xvda`), or `None` past libxl's limit.
    pub fn nth(index: u32) -> Option<Vdev> {
        if index >= 1 << 20 {
            return None;
        }
        let mut letters = Vec::new();
        let mut n = index + 1; // bijective base 26
        while n > 0 {
            n -= 1;
            letters.push(b'a' + (n % 26) as u8);
            n /= 26;
        }
        letters.reverse();
        Some(Vdev(format!("xvd{}", String::from_utf8(letters).expect("ASCII"))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Vdev {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why| Err(Error::Vdev { text: s.into(), why });
        let Some(letters) = s.strip_prefix("xvd") else {
            return bad("not a Xen virtual disk name like xvda");
        };
        if letters.is_empty() || !letters.bytes().all(|b| b.is_ascii_lowercase()) {
            return bad("xvd must be followed by lower-case letters only (whole disks)");
        }
        let mut index: u64 = 0;
        for b in letters.bytes() {
            index = index * 26 + u64::from(b - b'a') + 1;
            if index > 1 << 20 {
                return bad("past libxl's 2^20 disks");
            }
        }
        Ok(Vdev(s.into()))
    }
}

impl fmt::Display for Vdev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether the guest may write the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    #[default]
    ReadWrite,
    ReadOnly,
}

impl Access {
    /// xl's short spelling, `w` or `r`.
    pub fn xl_name(self) -> &'static str {
        match self {
            Access::ReadWrite => "w",
            Access::ReadOnly => "r",
        }
    }
}

/// The image's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Raw,
    Qcow,
    Qcow2,
    Vhd,
    Qed,
}

impl Format {
    const NAMES: &'static [&'static str] = &["raw", "qcow", "qcow2", "vhd", "qed"];
    const ALL: [Format; 5] = [Format::Raw, Format::Qcow, Format::Qcow2, Format::Vhd, Format::Qed];

    pub fn xl_name(self) -> &'static str {
        Format::NAMES[self as usize]
    }
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let i = Format::NAMES.iter().position(|n| *n == s);
        i.map(|i| Format::ALL[i]).ok_or_else(|| Error::Unknown {
            what: "disk format",
            text: s.into(),
            known: Format::NAMES,
        })
    }
}

/// xl's deprecated `phy:` and `file:` target prefixes, which it strips and ignores. Kept
/// because configs written with them (this project's test plans) should render as they
/// always have: a disk with one is written in the deprecated positional syntax,
/// `phy:/dev/loop0,xvda,w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyPrefix {
    Phy,
    File,
}

/// One disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// The image file or block device, absolute (xl puts `/dev/` before a relative one).
    pub target: String,
    pub vdev: Vdev,
    pub access: Access,
    pub format: Format,
    pub legacy_prefix: Option<LegacyPrefix>,
}

impl Disk {
    /// A raw, writable disk.
    pub fn new(target: &str, vdev: Vdev) -> Result<Disk, Error> {
        let d = Disk {
            target: target.into(),
            vdev,
            access: Access::default(),
            format: Format::default(),
            legacy_prefix: None,
        };
        d.check()?;
        Ok(d)
    }

    /// What xl would read otherwise than meant.
    pub fn check(&self) -> Result<(), Error> {
        let bad = |why| Err(Error::Target { target: self.target.clone(), why });
        if !self.target.starts_with('/') {
            return bad("not an absolute path (xl would look for it under /dev)");
        }
        if self.legacy_prefix.is_some() {
            // Positional parameters end at a comma; only `target=` may hold one.
            if self.target.contains(',') {
                return bad("a comma cannot be written in the positional syntax");
            }
            if !matches!(self.format, Format::Raw | Format::Qcow2 | Format::Vhd) {
                return bad("the positional syntax has no prefix for this format");
            }
        }
        Ok(())
    }

    /// The disk spec, as it goes between the quotes. `target=` comes last: it takes the
    /// rest of the spec, commas and all.
    pub fn spec(&self) -> String {
        let (vdev, access) = (&self.vdev, self.access.xl_name());
        match self.legacy_prefix {
            None => format!(
                "format={}, vdev={vdev}, access={access}, target={}",
                self.format.xl_name(),
                self.target
            ),
            Some(p) => {
                let prefix = match p {
                    LegacyPrefix::Phy => "phy:",
                    LegacyPrefix::File => "file:",
                };
                // Raw is xl's default; the others have their own (deprecated) prefix.
                let format = match self.format {
                    Format::Raw => String::new(),
                    f => format!("{}:", f.xl_name()),
                };
                format!("{prefix}{format}{},{vdev},{access}", self.target)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vdev(s: &str) -> Vdev {
        s.parse().unwrap()
    }

    #[test]
    fn vdevs_as_libxl_counts_them() {
        assert_eq!(Vdev::nth(0).unwrap(), vdev("xvda"));
        assert_eq!(Vdev::nth(25).unwrap(), vdev("xvdz"));
        assert_eq!(Vdev::nth(26).unwrap(), vdev("xvdaa"));
        assert_eq!(Vdev::nth((1 << 20) - 1).unwrap().as_str(), "xvdbgqcv");
        assert_eq!(Vdev::nth(1 << 20), None);
        assert!("xvdbgqcv".parse::<Vdev>().is_ok());
        assert!("xvdbgqcw".parse::<Vdev>().is_err());
    }

    #[test]
    fn vdevs_xl_would_refuse_or_pvh_cannot_use() {
        for bad in ["", "xvd", "sda", "hda", "xvdA", "xvda1", "xvd-a", "d0p0", "51712"] {
            assert!(matches!(bad.parse::<Vdev>(), Err(Error::Vdev { .. })), "{bad:?}");
        }
    }

    #[test]
    fn keyword_spec_puts_the_target_last() {
        let mut d = Disk::new("/srv/a,b.img", vdev("xvdb")).unwrap();
        d.access = Access::ReadOnly;
        d.format = Format::Qcow2;
        assert_eq!(d.spec(), "format=qcow2, vdev=xvdb, access=r, target=/srv/a,b.img");
    }

    #[test]
    fn legacy_prefixed_spec() {
        let mut d = Disk::new("/dev/loop63", vdev("xvda")).unwrap();
        d.legacy_prefix = Some(LegacyPrefix::Phy);
        assert_eq!(d.spec(), "phy:/dev/loop63,xvda,w");
        d.legacy_prefix = Some(LegacyPrefix::File);
        d.format = Format::Vhd;
        d.access = Access::ReadOnly;
        assert_eq!(d.spec(), "file:vhd:/dev/loop63,xvda,r");
    }

    #[test]
    fn targets_xl_would_misread() {
        assert!(matches!(Disk::new("state.img", vdev("xvda")), Err(Error::Target { .. })));
        let mut d = Disk::new("/a,b", vdev("xvda")).unwrap();
        d.legacy_prefix = Some(LegacyPrefix::Phy);
        assert!(d.check().is_err());
        let mut d = Disk::new("/a", vdev("xvda")).unwrap();
        d.legacy_prefix = Some(LegacyPrefix::Phy);
        d.format = Format::Qed;
        assert!(d.check().is_err());
    }

    #[test]
    fn formats_by_name() {
        for (i, n) in Format::NAMES.iter().enumerate() {
            assert_eq!(n.parse::<Format>().unwrap(), Format::ALL[i]);
            assert_eq!(Format::ALL[i].xl_name(), *n);
        }
        assert!(matches!("iso".parse::<Format>(), Err(Error::Unknown { .. })));
    }
}
