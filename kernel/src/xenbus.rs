//! The frontend half of the xenbus handshake, shared by netfront and blkfront: finding our
//! devices in xenstore, reading the backend's nodes (untrusted: parsed and checked), and
//! switching and waiting for states.

use crate::xenstore::{self, XenstoreError};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
pub use devices::xenbus::State;

#[derive(Debug)]
pub enum Error {
    Xenstore(XenstoreError),
    /// A node the backend or toolstack wrote is missing or malformed.
    BadNode(String),
}

impl From<XenstoreError> for Error {
    fn from(e: XenstoreError) -> Self {
        Error::Xenstore(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Xenstore(e) => write!(f, "xenstore: {e}"),
            Error::BadNode(what) => write!(f, "{what}"),
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
        let backend_id = backend_id
            .parse::<u16>()
            .map_err(|_| Error::BadNode(format!("{path}/backend-id is {backend_id:?}")))?;
        if !backend.starts_with("/local/domain/") || backend.contains("..") {
            return Err(Error::BadNode(format!("{path}/backend is {backend:?}")));
        }
        Ok(Frontend { path: path.into(), backend, backend_id })
    }

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

    /// Waits until the backend's state satisfies `until`, and returns it.
    pub async fn wait_backend(&self, until: impl Fn(State) -> bool) -> Result<State, Error> {
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
