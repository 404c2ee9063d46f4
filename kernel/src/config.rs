//! The image's configuration: the command line (xl's `extra=`) checked against every key the
//! image declares, the runtime's (`devices::config::runtime`) and the app's (its manifest,
//! which `kernel::main!` places in the image's schema note), before anything reads a key.
//!
//! The runtime parses it at boot, right after the heap is up and before the drivers or the
//! app run. A line that does not fit the schema (an unknown key, a bad value, a missing
//! required key, a configure-time key given at boot) or that holds `--help` never reaches
//! the app: the problems (or the key listing) go to the console and the domain powers off
//! with an exit code ([`EXIT_BAD_CONFIG`], [`EXIT_HELP`]), not a crash, so that
//! `on_crash = "restart"` cannot loop on a bad line.
//!
//! Apps read their keys through [`crate::config()`], typed: `config().int::<u16>("port")`,
//! `config().str("greeting")`. Asking for a key the schema does not have, or as another
//! type, panics: that is a typo in the program, not a bad line.

pub use devices::config::{Cidr, Config, Secret, Value};

use alloc::string::String;
use alloc::vec::Vec;
use devices::config::{self as cfg, CmdlineError, KeyError, Schema, SchemaError};

/// The exit code of a boot refused for its configuration (sysexits.h's `EX_CONFIG`). Under
/// Xen the console's last line is `config: exit 78 (bad configuration): powering off`, the
/// domain's xenstore node `data/exit-code` holds `78`, and it powers off (SHUTDOWN_poweroff:
/// Xen's shutdown reasons carry no code); under plain QEMU it is isa-debug-exit's value
/// (QEMU's status `(78 << 1) | 1` = 157).
pub const EXIT_BAD_CONFIG: u32 = 78;
/// The exit code after `--help` printed the listing: a power-off as when `main` returns
/// (`data/exit-code` holds `0`).
pub const EXIT_HELP: u32 = 0;

static CONFIG: spin::Once<Config> = spin::Once::new();

/// Which of the image's schema notes was unusable.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Note {
    Runtime,
    App,
}

/// Why the image does not run its app: the configuration layer's one error type.
#[derive(Debug)]
pub(crate) enum Refused {
    /// `--help` was on the command line: the listing of the image's keys.
    Help(String),
    /// The command line does not fit the keys: every problem found.
    Invalid(Vec<KeyError>),
    /// A schema note the image carries cannot be read (the host tool checked both when it
    /// wrote them, so this is a damaged image).
    Schema(Note, SchemaError),
}

impl core::fmt::Display for Refused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Refused::Help(_) => f.write_str("--help given: the listing of the keys"),
            Refused::Invalid(errors) => {
                write!(f, "the command line does not fit this image's keys ({})", errors.len())
            }
            Refused::Schema(Note::Runtime, e) => write!(f, "the runtime's schema note: {e}"),
            Refused::Schema(Note::App, e) => write!(f, "the app's schema note: {e}"),
        }
    }
}

impl core::error::Error for Refused {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Refused::Schema(_, e) => Some(e),
            Refused::Invalid(errors) if errors.len() == 1 => Some(&errors[0]),
            Refused::Help(_) | Refused::Invalid(_) => None,
        }
    }
}

impl Refused {
    pub(crate) fn exit_code(&self) -> u32 {
        match self {
            Refused::Help(_) => EXIT_HELP,
            Refused::Invalid(_) | Refused::Schema(..) => EXIT_BAD_CONFIG,
        }
    }

    /// Prints what the operator needs: the listing, or every problem and how to see the keys.
    pub(crate) fn report(&self) {
        match self {
            Refused::Help(listing) => {
                crate::println!(
                    "config: the keys of this image (KEY=VALUE words on the command line):"
                );
                crate::print!("{listing}");
                crate::println!("config: --help given: not starting the app; exit {EXIT_HELP}");
            }
            Refused::Invalid(_) | Refused::Schema(..) => {
                crate::println!("config: the command line does not fit this image's keys:");
                match self {
                    Refused::Invalid(errors) => {
                        for e in errors {
                            crate::println!("config:   {e}");
                        }
                    }
                    _ => crate::println!("config:   {self}"),
                }
                crate::println!("config: --help on the command line lists the keys");
                crate::println!("config: exit {EXIT_BAD_CONFIG} (bad configuration): powering off");
            }
        }
    }
}

/// Every key of the image: the runtime's schema note and the app's (`app_keys`, empty when
/// the app was built without `cargo xtask build`, which sets it).
fn schema(app_keys: &str) -> Result<Schema, Refused> {
    let runtime = crate::xen::elfnote::runtime_keys();
    // The host tool checked both when it wrote them (`Schema::decode` says why one is bad).
    let mut all = Schema::decode_trusted(runtime).map_err(|e| Refused::Schema(Note::Runtime, e))?;
    if !app_keys.is_empty() {
        let app = Schema::decode_trusted(app_keys).map_err(|e| Refused::Schema(Note::App, e))?;
        all.extend(app).map_err(|e| Refused::Schema(Note::App, e))?;
    }
    Ok(all)
}

/// Parses `cmdline` against the image's keys; on success [`crate::config()`] answers.
pub(crate) fn init(cmdline: &str, app_keys: &str) -> Result<&'static Config, Refused> {
    let schema = schema(app_keys)?;
    match cfg::parse_cmdline(&schema, cmdline) {
        Ok(c) => Ok(CONFIG.call_once(|| c)),
        Err(CmdlineError::Help) => Err(Refused::Help(cfg::help(&schema))),
        Err(CmdlineError::Invalid(errors)) => Err(Refused::Invalid(errors)),
    }
}

/// The configuration the command line gave, checked at boot: every key of the image, with
/// its value or its default. Apps read their manifest's keys here by name.
pub fn get() -> &'static Config {
    // Set at boot before any task runs: the app cannot run without it.
    CONFIG.get().expect("the configuration is parsed at boot, before any task runs")
}
