//! The xl.cfg(5) rendering: `KEY = VALUE` lines, every string double-quoted and escaped the
//! way libxlu's parser reads it back (`\"`, `\\`, and the C escapes for control characters).

use crate::{Domain, Error};
use std::fmt::Write;

/// The file's text, one setting a line, in a fixed order.
pub fn render(d: &Domain) -> Result<String, Error> {
    d.check()?;
    let mut s = String::new();
    let mut kv = |k: &'static str, v: &str| -> Result<(), Error> {
        writeln!(s, "{k} = {}", quote(k, v)?).expect("writing to a String");
        Ok(())
    };
    kv("name", d.name.as_str())?;
    kv("type", d.kind.xl_name())?;
    kv("kernel", &d.kernel)?;
    if let Some(r) = &d.ramdisk {
        kv("ramdisk", r)?;
    }
    kv("extra", &d.extra)?;
    kv("on_poweroff", d.on_poweroff.xl_name())?;
    kv("on_reboot", d.on_reboot.xl_name())?;
    kv("on_crash", d.on_crash.xl_name())?;
    if let Some(t) = d.tsc_mode {
        kv("tsc_mode", t.xl_name())?;
    }
    writeln!(s, "memory = {}", d.memory_mib).expect("writing to a String");
    writeln!(s, "vcpus = {}", d.vcpus).expect("writing to a String");
    let vifs: Vec<String> = d.vifs.iter().map(|v| v.to_string()).collect();
    let disks: Vec<String> = d.disks.iter().map(|d| d.spec()).collect();
    for (key, list) in [("vif", vifs), ("disk", disks)] {
        if !list.is_empty() {
            let items: Result<Vec<String>, Error> = list.iter().map(|v| quote(key, v)).collect();
            writeln!(s, "{key} = [ {} ]", items?.join(", ")).expect("writing to a String");
        }
    }
    Ok(s)
}

/// A double-quoted xl.cfg string. libxlu's lexer ends a string at a raw newline and its
/// numeric escapes (`\x..`, octal) are not decoded, so a control character without a C
/// letter escape (NUL, ESC, ...) cannot be written: an error naming `field`.
pub fn quote(field: &'static str, v: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        let escape = match c {
            '"' => '"',
            '\\' => '\\',
            '\x07' => 'a',
            '\x08' => 'b',
            '\x0c' => 'f',
            '\n' => 'n',
            '\r' => 'r',
            '\t' => 't',
            '\x0b' => 'v',
            c if c.is_control() => {
                return Err(Error::Text {
                    field,
                    text: v.into(),
                    why: "a control character xl.cfg cannot write",
                })
            }
            c => {
                out.push(c);
                continue;
            }
        };
        out.push('\\');
        out.push(escape);
    }
    out.push('"');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Access, Action, Disk, LegacyPrefix, TscMode, Vif};

    fn domain() -> Domain {
        Domain::new("web".parse().unwrap(), "/srv/web")
    }

    #[test]
    fn defaults() {
        assert_eq!(
            render(&domain()).unwrap(),
            "name = \"web\"\ntype = \"pvh\"\nkernel = \"/srv/web\"\nextra = \"\"\n\
             on_poweroff = \"destroy\"\non_reboot = \"restart\"\non_crash = \"destroy\"\n\
             memory = 32\nvcpus = 1\n"
        );
    }

    #[test]
    fn everything() {
        let mut d = domain();
        d.ramdisk = Some("/srv/initrd".into());
        d.extra = "log=info ip=10.0.0.2/24".into();
        d.memory_mib = 64;
        d.on_crash = Action::Preserve;
        d.on_reboot = Action::RenameRestart;
        d.tsc_mode = Some(TscMode::Native);
        d.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:10".parse().unwrap());
        d.vifs.push(Vif::default());
        let mut ro = Disk::new("/srv/ro.img", "xvdb".parse().unwrap()).unwrap();
        ro.access = Access::ReadOnly;
        let mut phy = Disk::new("/dev/loop0", "xvdc".parse().unwrap()).unwrap();
        phy.legacy_prefix = Some(LegacyPrefix::Phy);
        d.disks = vec![Disk::new("/srv/rw.img", "xvda".parse().unwrap()).unwrap(), ro, phy];
        let expected = r#"name = "web"
type = "pvh"
kernel = "/srv/web"
ramdisk = "/srv/initrd"
extra = "log=info ip=10.0.0.2/24"
on_poweroff = "destroy"
on_reboot = "rename-restart"
on_crash = "preserve"
tsc_mode = "native"
memory = 64
vcpus = 1
vif = [ "bridge=xenbr0,mac=00:16:3e:00:00:10", "" ]
disk = [ "format=raw, vdev=xvda, access=w, target=/srv/rw.img", "format=raw, vdev=xvdb, access=r, target=/srv/ro.img", "phy:/dev/loop0,xvdc,w" ]
"#;
        assert_eq!(render(&d).unwrap(), expected);
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(quote("extra", r#"say "hi" \o/"#).unwrap(), r#""say \"hi\" \\o/""#);
        assert_eq!(quote("extra", "a\nb\tc'd").unwrap(), r#""a\nb\tc'd""#);
        assert_eq!(quote("extra", "").unwrap(), r#""""#);
        let mut d = domain();
        d.disks.push(Disk::new("/srv/\"odd\".img", "xvda".parse().unwrap()).unwrap());
        assert!(render(&d).unwrap().contains(r#"target=/srv/\"odd\".img" ]"#));
    }

    #[test]
    fn unwritable_text_is_an_error() {
        let mut d = domain();
        d.extra = "a\0b".into();
        let e = render(&d).unwrap_err();
        assert!(matches!(e, Error::Text { field: "extra", .. }), "{e:?}");
        assert!(e.to_string().starts_with("extra \"a\\0b\": a control character"), "{e}");
        d.extra = "\x1b[0m".into();
        assert!(render(&d).is_err());
        let mut d = domain();
        d.disks.push(Disk::new("/srv/\x01", "xvda".parse().unwrap()).unwrap());
        assert!(matches!(render(&d), Err(Error::Text { field: "disk", .. })));
    }

    #[test]
    fn render_checks_the_domain() {
        let mut d = domain();
        d.memory_mib = 0;
        assert_eq!(render(&d), Err(Error::Zero { field: "memory" }));
    }
}
