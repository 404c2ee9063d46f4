//! What the backend says about the disk in xenstore (size, sector sizes, access, features),
//! parsed without trusting it, and the nodes the frontend writes.

use super::front::MAX_INDIRECT_SEGMENTS;
use super::wire::WIRE_SECTOR;
use alloc::string::String;

/// Bits of the backend's `info` node.
pub const VDISK_CDROM: u32 = 1;
pub const VDISK_REMOVABLE: u32 = 2;
pub const VDISK_READONLY: u32 = 4;

/// Nodes the frontend writes in its own directory along with `ring-ref` and
/// `event-channel`: we always reuse the same grants.
pub const FRONTEND_NODES: &[(&str, &str)] = &[("feature-persistent", "1")];

/// The disk as every backend describes it: size, sector size, access, cache control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// Capacity in 512-byte units (see *Units*).
    pub sectors: u64,
    /// Logical sector size: offsets and lengths are multiples of it.
    pub sector_size: u32,
    pub read_only: bool,
    /// `feature-flush-cache`: BLKIF_OP_FLUSH_DISKCACHE.
    pub flush: bool,
    /// `feature-barrier`: BLKIF_OP_WRITE_BARRIER.
    pub barrier: bool,
    /// `feature-discard`: BLKIF_OP_DISCARD.
    pub discard: bool,
}

impl Info {
    /// Like [`Geometry::parse`], keeping only the [`Info`] part.
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> Result<Info, GeometryError> {
        Geometry::parse(get).map(|g| g.info)
    }

    /// Size in bytes.
    pub fn capacity(&self) -> u64 {
        self.sectors.saturating_mul(WIRE_SECTOR as u64)
    }
}

/// Everything the backend tells us about the disk: [`Info`] plus the optional properties
/// and features. An [`Info`] converts into a `Geometry` with all of those absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub info: Info,
    /// `physical-sector-size`: writes of this size and alignment spare the backend a
    /// read-modify-write. A power of two, at least `sector_size`.
    pub physical_sector_size: u32,
    /// `discard-granularity` and `discard-alignment`, in bytes. They are only advice: a
    /// discard of a smaller or misaligned extent may leave the data as it was.
    pub discard_granularity: u32,
    pub discard_alignment: u32,
    /// `discard-secure`: the backend honours [`DISCARD_SECURE`](super::DISCARD_SECURE).
    pub discard_secure: bool,
    /// `feature-max-indirect-segments`, capped at [`MAX_INDIRECT_SEGMENTS`]. 0: direct requests
    /// only.
    pub max_indirect_segments: u32,
    /// `feature-persistent`: the backend keeps our grants mapped.
    pub persistent: bool,
}

impl From<Info> for Geometry {
    fn from(info: Info) -> Geometry {
        Geometry {
            info,
            physical_sector_size: info.sector_size,
            discard_granularity: info.sector_size,
            discard_alignment: 0,
            discard_secure: false,
            max_indirect_segments: 0,
            persistent: false,
        }
    }
}

/// A node of the backend's directory that [`Geometry::parse`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendNode {
    Sectors,
    SectorSize,
    PhysicalSectorSize,
    Info,
    Mode,
    FeatureFlushCache,
    FeatureBarrier,
    FeatureDiscard,
    DiscardGranularity,
    DiscardAlignment,
    DiscardSecure,
    FeatureMaxIndirectSegments,
    FeaturePersistent,
}

impl BackendNode {
    pub const ALL: [BackendNode; 13] = {
        use BackendNode::*;
        [
            Sectors,
            SectorSize,
            PhysicalSectorSize,
            Info,
            Mode,
            FeatureFlushCache,
            FeatureBarrier,
            FeatureDiscard,
            DiscardGranularity,
            DiscardAlignment,
            DiscardSecure,
            FeatureMaxIndirectSegments,
            FeaturePersistent,
        ]
    };

    /// The node's name in xenstore.
    pub const fn name(self) -> &'static str {
        match self {
            BackendNode::Sectors => "sectors",
            BackendNode::SectorSize => "sector-size",
            BackendNode::PhysicalSectorSize => "physical-sector-size",
            BackendNode::Info => "info",
            BackendNode::Mode => "mode",
            BackendNode::FeatureFlushCache => "feature-flush-cache",
            BackendNode::FeatureBarrier => "feature-barrier",
            BackendNode::FeatureDiscard => "feature-discard",
            BackendNode::DiscardGranularity => "discard-granularity",
            BackendNode::DiscardAlignment => "discard-alignment",
            BackendNode::DiscardSecure => "discard-secure",
            BackendNode::FeatureMaxIndirectSegments => "feature-max-indirect-segments",
            BackendNode::FeaturePersistent => "feature-persistent",
        }
    }
}

impl core::fmt::Display for BackendNode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A backend node that cannot be right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryError {
    /// A required node is absent.
    Missing(BackendNode),
    /// A node is not a decimal number of its type's range.
    NotANumber(BackendNode),
    /// `sectors` is 0.
    ZeroSectors,
    /// `sectors` × 512 does not fit in 64 bits.
    TooLarge(u64),
    /// `sector-size` is not a power of two from 512 to 4096.
    BadSectorSize(u64),
    /// `physical-sector-size` is not a power of two at least `sector-size`.
    BadPhysicalSectorSize(u64),
}

impl core::fmt::Display for GeometryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            GeometryError::Missing(k) => write!(f, "backend node {k} is missing"),
            GeometryError::NotANumber(k) => {
                write!(f, "backend node {k} is not a decimal number in range")
            }
            GeometryError::ZeroSectors => f.write_str("the disk has 0 sectors"),
            GeometryError::TooLarge(n) => write!(f, "{n} sectors is more than 2^64 bytes"),
            GeometryError::BadSectorSize(n) => {
                write!(f, "sector-size {n} is not a power of two from 512 to 4096")
            }
            GeometryError::BadPhysicalSectorSize(n) => {
                write!(f, "physical-sector-size {n} is not a power of two at least sector-size")
            }
        }
    }
}

impl core::error::Error for GeometryError {}

impl Geometry {
    /// The names of the backend nodes [`parse`](Self::parse) reads: [`BackendNode::ALL`].
    pub const BACKEND_NODES: &'static [&'static str] = &{
        let mut names = [""; BackendNode::ALL.len()];
        let mut i = 0;
        while i < names.len() {
            names[i] = BackendNode::ALL[i].name();
            i += 1;
        }
        names
    };

    /// Parses the backend's nodes. `get(key)` gives a node's text, or `None` if it is absent.
    /// Only `sectors` is required. `sector-size` defaults to 512. Absent features are off.
    /// A boolean is on if its number is not 0, as Linux reads it. Values that cannot be right
    /// are refused: text that is not a number, 0 sectors, a capacity of 2^64 bytes or more, a
    /// bad sector size.
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> Result<Geometry, GeometryError> {
        let num = |key: BackendNode, max: u64| match get(key.name()) {
            None => Ok(None),
            Some(text) => match text.trim_end_matches('\0').trim().parse::<u64>() {
                Ok(n) if n <= max => Ok(Some(n)),
                _ => Err(GeometryError::NotANumber(key)),
            },
        };
        let u32_node = |key| num(key, u64::from(u32::MAX)).map(|n| n.map(|n| n as u32));
        let flag = |key| num(key, u64::MAX).map(|n| n.is_some_and(|n| n != 0));

        let sectors = num(BackendNode::Sectors, u64::MAX)?
            .ok_or(GeometryError::Missing(BackendNode::Sectors))?;
        if sectors == 0 {
            return Err(GeometryError::ZeroSectors);
        }
        if sectors.checked_mul(WIRE_SECTOR as u64).is_none() {
            return Err(GeometryError::TooLarge(sectors));
        }
        let sector_size = u32_node(BackendNode::SectorSize)?.unwrap_or(512);
        if !(512..=4096).contains(&sector_size) || !sector_size.is_power_of_two() {
            return Err(GeometryError::BadSectorSize(sector_size.into()));
        }
        let physical = u32_node(BackendNode::PhysicalSectorSize)?.unwrap_or(sector_size);
        if !physical.is_power_of_two() || physical < sector_size {
            return Err(GeometryError::BadPhysicalSectorSize(physical.into()));
        }
        let vdisk = u32_node(BackendNode::Info)?.unwrap_or(0);
        let mode_ro =
            get(BackendNode::Mode.name()).is_some_and(|m| m.trim_end_matches('\0') == "r");
        let info = Info {
            sectors,
            sector_size,
            read_only: vdisk & VDISK_READONLY != 0 || mode_ro,
            flush: flag(BackendNode::FeatureFlushCache)?,
            barrier: flag(BackendNode::FeatureBarrier)?,
            discard: flag(BackendNode::FeatureDiscard)?,
        };
        Ok(Geometry {
            info,
            physical_sector_size: physical,
            discard_granularity: match u32_node(BackendNode::DiscardGranularity)? {
                None | Some(0) => sector_size,
                Some(g) => g,
            },
            discard_alignment: u32_node(BackendNode::DiscardAlignment)?.unwrap_or(0),
            discard_secure: flag(BackendNode::DiscardSecure)?,
            max_indirect_segments: u32_node(BackendNode::FeatureMaxIndirectSegments)?
                .unwrap_or(0)
                .min(MAX_INDIRECT_SEGMENTS),
            persistent: flag(BackendNode::FeaturePersistent)?,
        })
    }
}
