//! The image's configuration schema as ELF notes (name `Unikernel`), beside the
//! `.note.Xen` entry note in the PT_NOTE segment: the host tool reads them back from a built
//! image (`cargo xtask describe --image`), as albatross reads a Solo5 image's manifest. Type
//! [`RUNTIME_KEYS`] holds the runtime's keys (`devices::config::runtime::KEYS`), type
//! [`APP_KEYS`] the app's, which `kernel::main!` places from the build's
//! `UNIKERNEL_APP_KEYS` (set by `cargo xtask build` from the manifest). Each desc is the
//! schema's text encoding (`devices::config::schema`).

/// The notes' name, NUL-terminated and padded to 4 bytes as ELF wants.
const NAME: [u8; 12] = *b"Unikernel\0\0\0";
pub const RUNTIME_KEYS: u32 = 1;
pub const APP_KEYS: u32 = 2;

/// One ELF note whose desc is `N` bytes (the text padded to a multiple of 4).
#[repr(C, align(4))]
pub struct Note<const N: usize> {
    namesz: u32,
    descsz: u32,
    kind: u32,
    name: [u8; 12],
    desc: [u8; N],
}

/// The desc size a note holding `text` needs.
pub const fn padded_len(text: &str) -> usize {
    text.len().next_multiple_of(4)
}

impl<const N: usize> Note<N> {
    /// A note of type `kind` holding `text`; `N` must be [`padded_len`]`(text)`.
    pub const fn new(kind: u32, text: &str) -> Self {
        assert!(N == padded_len(text), "note size is not padded_len(text)");
        let bytes = text.as_bytes();
        let mut desc = [0u8; N];
        let mut i = 0;
        while i < bytes.len() {
            desc[i] = bytes[i];
            i += 1;
        }
        Note { namesz: 10, descsz: bytes.len() as u32, kind, name: NAME, desc }
    }

    /// The text the note holds.
    pub fn text(&self) -> &str {
        core::str::from_utf8(&self.desc[..self.descsz as usize]).unwrap_or("")
    }
}

#[used]
#[link_section = ".note.unikernel"]
static RUNTIME: Note<{ padded_len(devices::config::runtime::KEYS) }> =
    Note::new(RUNTIME_KEYS, devices::config::runtime::KEYS);

/// The runtime's schema text, from its note.
pub fn runtime_keys() -> &'static str {
    RUNTIME.text()
}
