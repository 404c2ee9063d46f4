//! `log` output to the console, one line per record: `[LEVEL target] message`. The level
//! comes from the command line (`log=debug`), default `info`.

use log::{LevelFilter, Log, Metadata, Record};

struct Logger;

static LOGGER: Logger = Logger;

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            crate::console::print(format_args!(
                "[{:<5} {}] {}\n",
                record.level(),
                record.target(),
                record.args()
            ));
        }
    }

    fn flush(&self) {}
}

/// Parses a `log=` value.
pub fn parse_level(s: &str) -> Option<LevelFilter> {
    s.parse().ok()
}

pub fn init(level: LevelFilter) {
    // Fails only if a logger is already set, which cannot happen: init runs once at boot.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
