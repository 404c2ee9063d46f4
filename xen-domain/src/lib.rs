//! A Xen guest as a typed description, [`Domain`], and its rendering as the file `xl create`
//! reads ([`xl::render`], xl.cfg(5)).
//!
//! The description says what the guest is (name, kernel, memory, vifs, disks, what to do when
//! it stops), not how one toolstack spells it, so that another renderer (libvirt's domain
//! XML) can be added beside [`xl`]. Values xl would refuse or misread are typed [`Error`]s:
//! the small types ([`DomainName`], [`Mac`], [`Vdev`], [`Bridge`]) check themselves when made;
//! what only makes sense as a whole (free text that cannot be quoted, a zero memory size) is
//! checked by [`Domain::check`], which every renderer calls first.
//!
//! ```
//! use xen_domain::{Action, Disk, Domain, Mac, Vif};
//!
//! let mut d = Domain::new("web".parse()?, "/srv/web.elf");
//! d.memory_mib = 64;
//! d.extra = "log=info".into();
//! d.on_crash = Action::Preserve;
//! d.vifs.push(Vif { mac: Some("00:16:3e:00:00:10".parse::<Mac>()?), ..Vif::bridged("xenbr0".parse()?) });
//! d.disks.push(Disk::new("/srv/web.img", "xvda".parse()?)?);
//! let text = xen_domain::xl::render(&d)?;
//! assert!(text.contains("vif = [ \"bridge=xenbr0,mac=00:16:3e:00:00:10\" ]"));
//! # Ok::<(), xen_domain::Error>(())
//! ```

#![deny(unsafe_code)]

mod disk;
mod domain;
mod error;
mod names;
mod vif;
pub mod xl;

pub use disk::{Access, Disk, Format, LegacyPrefix, Vdev};
pub use domain::{Action, Domain, DomainType, TscMode};
pub use error::Error;
pub use names::{Bridge, DomainName};
pub use vif::{Mac, Vif};
