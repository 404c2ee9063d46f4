//! The frontend half of the xenbus handshake, shared by netfront and blkfront: finding our
//! devices in xenstore, reading the backend's nodes (untrusted: parsed and checked), and
//! switching and waiting for states.

use crate::xen;
use crate::xen::gnttab::GrantError;
use crate::xenstore::{self, XenstoreError};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
#[cfg(feature = "block")]
use devices::blkfront::GeometryError;
pub use devices::xenbus::State;

static RECONNECTS: AtomicU64 = AtomicU64::new(0);

/// A frontend connected to a backend again (after a resume, or after its backend closed and
/// came back): `lifecycle::stats` reports the count.
pub fn count_reconnect() {
    RECONNECTS.fetch_add(1, Ordering::Relaxed);
}

pub fn reconnects() -> u64 {
    RECONNECTS.load(Ordering::Relaxed)
}

/// Why a frontend could not connect to its backend: the device layer's one error type.
#[derive(Debug)]
pub enum Error {
    Xenstore(XenstoreError),
    /// An event channel to the backend could not be made.
    Xen(xen::Error),
    /// Granting the rings or buffers to the backend failed.
    Grant(GrantError),
    /// The backend went to this state instead of the one the handshake waited for.
    BackendState(State),
    /// A node the toolstack wrote holds something unusable: the node and its value.
    BadNode {
        path: String,
        value: String,
    },
    /// The backend's disk geometry nodes are unusable (at the backend's path).
    #[cfg(feature = "block")]
    Geometry {
        backend: String,
        error: GeometryError,
    },
}

impl From<XenstoreError> for Error {
    fn from(e: XenstoreError) -> Self {
        Error::Xenstore(e)
    }
}

impl From<xen::Error> for Error {
    fn from(e: xen::Error) -> Self {
        Error::Xen(e)
    }
}

impl From<GrantError> for Error {
    fn from(e: GrantError) -> Self {
        Error::Grant(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Xenstore(e) => write!(f, "xenstore: {e}"),
            Error::Xen(e) => write!(f, "no event channel for the backend: {e}"),
            Error::Grant(e) => write!(f, "granting pages to the backend failed: {e}"),
            Error::BackendState(s) => write!(f, "backend went to state {s:?} ({})", *s as u8),
            Error::BadNode { path, value } => write!(f, "{path} holds {value:?}"),
            #[cfg(feature = "block")]
            Error::Geometry { backend, error } => write!(f, "{backend}: {error}"),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Xenstore(e) => Some(e),
            Error::Xen(e) => Some(e),
            Error::Grant(e) => Some(e),
            #[cfg(feature = "block")]
            Error::Geometry { error, .. } => Some(error),
            Error::BackendState(_) | Error::BadNode { .. } => None,
        }
    }
}

/// Our devices of one class (`vif`, `vbd`), as `device/<class>/<id>` paths in id order.
pub async fn devices(class: &str) -> Vec<String> {
    let Ok(ids) = xenstore::directory(&format!("device/{class}")).await else {
        return Vec::new();
    };
    let mut ids: Vec<u32> = ids.iter().filter_map(|id| id.parse().ok()).collect();
    ids.sort_unstable();
    ids.into_iter().map(|id| format!("device/{class}/{id}")).collect()
}

/// One frontend device and the backend serving it.
#[derive(Debug, Clone)]
pub struct Frontend {
    /// `device/<class>/<id>`, relative to our domain's directory.
    pub path: String,
    /// The backend's directory, `/local/domain/<backend-id>/backend/...`.
    pub backend: String,
    pub backend_id: u16,
}

impl Frontend {
    pub async fn open(path: &str) -> Result<Frontend, Error> {
        let backend = xenstore::read(&format!("{path}/backend")).await?;
        let backend_id = xenstore::read(&format!("{path}/backend-id")).await?;
        let backend_id = backend_id.parse::<u16>().map_err(|_| Error::BadNode {
            path: format!("{path}/backend-id"),
            value: backend_id,
        })?;
        if !backend.starts_with("/local/domain/") || backend.contains("..") {
            return Err(Error::BadNode { path: format!("{path}/backend"), value: backend });
        }
        Ok(Frontend { path: path.into(), backend, backend_id })
    }

    #[cfg(feature = "net")]
    pub async fn read(&self, key: &str) -> Result<String, Error> {
        Ok(xenstore::read(&format!("{}/{key}", self.path)).await?)
    }

    /// A backend node, `None` if absent.
    pub async fn backend_read(&self, key: &str) -> Option<String> {
        xenstore::read(&format!("{}/{key}", self.backend)).await.ok()
    }

    pub async fn switch_state(&self, state: State) -> Result<(), Error> {
        Ok(xenstore::write(&format!("{}/state", self.path), state.as_str()).await?)
    }

    /// The backend's state; `Unknown` if missing or malformed.
    pub async fn backend_state(&self) -> State {
        match self.backend_read("state").await {
            Some(s) => State::parse(&s).unwrap_or(State::Unknown),
            None => State::Unknown,
        }
    }

    /// Writes our nodes (`KEY`, value), then our state: the backend reads the nodes when it
    /// sees the state change, so the order is all it needs (no transaction: two requests
    /// fewer). Stops at the first failed write.
    pub async fn publish(&self, nodes: &[(String, String)], state: State) -> Result<(), Error> {
        for (key, value) in nodes {
            xenstore::write(&format!("{}/{key}", self.path), value).await?;
        }
        self.switch_state(state).await
    }

    /// The backend's state once `until` holds: at once when it already does (a backend
    /// waits in InitWait before the guest runs: one read instead of a watch, a read and an
    /// unwatch), else as [`Frontend::wait_backend`].
    pub async fn backend_reached(&self, until: fn(State) -> bool) -> Result<State, Error> {
        let s = self.backend_state().await;
        if until(s) {
            return Ok(s);
        }
        self.wait_backend(until).await
    }

    /// Waits until the backend's state satisfies `until`, and returns it. A function pointer,
    /// not a generic: one copy of this state machine instead of one per caller's closure
    /// (ten of them, about 400 bytes each).
    pub async fn wait_backend(&self, until: fn(State) -> bool) -> Result<State, Error> {
        let watch = xenstore::watch(&format!("{}/state", self.backend)).await?;
        let result = loop {
            let s = self.backend_state().await;
            if until(s) {
                break Ok(s);
            }
            if let Err(e) = watch.next().await {
                break Err(e.into());
            }
        };
        let _ = watch.unwatch().await;
        result
    }
}
