//! Xenstore for applications and drivers: read, write, mkdir, rm, directory, permissions,
//! transactions (retried on EAGAIN by [`transaction`]) and watches. Relative paths are
//! relative to the guest's own directory (`/local/domain/<domid>`).

pub(crate) mod conn;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use conn::{self as xs, Error};
pub(crate) use conn::{init, quiesce, resume, unpause};
use core::future::Future;
use core::sync::atomic::{AtomicU32, Ordering};
use devices::xenstore::{kind, nul_terminated, strings, XsError};

pub use conn::Error as XenstoreError;

fn utf8(v: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(v).map_err(|_| Error::NotUtf8)
}

/// A transaction, or none (`Tx::NONE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tx(u32);

impl Tx {
    pub const NONE: Tx = Tx(0);

    pub async fn read(self, path: &str) -> Result<String, Error> {
        utf8(xs::request(kind::READ, self.0, &nul_terminated(&[path.as_bytes()])).await?)
    }

    pub async fn write(self, path: &str, value: &str) -> Result<(), Error> {
        let mut p = nul_terminated(&[path.as_bytes()]);
        p.extend_from_slice(value.as_bytes());
        xs::request(kind::WRITE, self.0, &p).await.map(drop)
    }

    pub async fn mkdir(self, path: &str) -> Result<(), Error> {
        xs::request(kind::MKDIR, self.0, &nul_terminated(&[path.as_bytes()])).await.map(drop)
    }

    pub async fn rm(self, path: &str) -> Result<(), Error> {
        xs::request(kind::RM, self.0, &nul_terminated(&[path.as_bytes()])).await.map(drop)
    }

    pub async fn directory(self, path: &str) -> Result<Vec<String>, Error> {
        let body =
            xs::request(kind::DIRECTORY, self.0, &nul_terminated(&[path.as_bytes()])).await?;
        let names = strings(&body).ok_or(Error::NotUtf8)?;
        Ok(names.into_iter().map(str::to_string).collect())
    }

    /// Permissions as xenstored writes them: `n0`, `r1`, ... (`n`/`r`/`w`/`b` + domid).
    pub async fn get_perms(self, path: &str) -> Result<Vec<String>, Error> {
        let body =
            xs::request(kind::GET_PERMS, self.0, &nul_terminated(&[path.as_bytes()])).await?;
        Ok(strings(&body).ok_or(Error::NotUtf8)?.into_iter().map(str::to_string).collect())
    }

    pub async fn set_perms(self, path: &str, perms: &[&str]) -> Result<(), Error> {
        let mut parts: Vec<&[u8]> = alloc::vec![path.as_bytes()];
        parts.extend(perms.iter().map(|p| p.as_bytes()));
        xs::request(kind::SET_PERMS, self.0, &nul_terminated(&parts)).await.map(drop)
    }
}

pub async fn read(path: &str) -> Result<String, Error> {
    Tx::NONE.read(path).await
}
pub async fn write(path: &str, value: &str) -> Result<(), Error> {
    Tx::NONE.write(path, value).await
}
pub async fn mkdir(path: &str) -> Result<(), Error> {
    Tx::NONE.mkdir(path).await
}
pub async fn rm(path: &str) -> Result<(), Error> {
    Tx::NONE.rm(path).await
}
pub async fn directory(path: &str) -> Result<Vec<String>, Error> {
    Tx::NONE.directory(path).await
}
pub async fn get_perms(path: &str) -> Result<Vec<String>, Error> {
    Tx::NONE.get_perms(path).await
}
pub async fn set_perms(path: &str, perms: &[&str]) -> Result<(), Error> {
    Tx::NONE.set_perms(path, perms).await
}

/// Runs `body` in a transaction and commits it, starting over while xenstored answers
/// EAGAIN (another writer got in between).
pub async fn transaction<T, F, Fut>(mut body: F) -> Result<T, Error>
where
    F: FnMut(Tx) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    loop {
        let id = utf8(xs::request(kind::TRANSACTION_START, 0, b"\0").await?)?;
        let tx = Tx(id.trim_end_matches('\0').parse().map_err(|_| Error::NotUtf8)?);
        let result = body(tx).await;
        let commit = if result.is_ok() { b"T\0" } else { b"F\0" };
        match xs::request(kind::TRANSACTION_END, tx.0, commit).await {
            Err(Error::Xenstore(XsError::Again)) if result.is_ok() => continue,
            Err(e) if result.is_ok() => return Err(e),
            _ => return result,
        }
    }
}

static NEXT_TOKEN: AtomicU32 = AtomicU32::new(1);

/// A watch on a path (and everything under it).
#[derive(Debug)]
pub struct Watch {
    path: String,
    token: String,
}

/// Watches `path`. xenstored fires once at once (for the path itself), then on every change.
pub async fn watch(path: &str) -> Result<Watch, Error> {
    let token = format!("w{}", NEXT_TOKEN.fetch_add(1, Ordering::Relaxed));
    // Accept events before asking: xenstored fires the first one right after its reply.
    xs::set_watching(&token, true);
    if let Err(e) =
        xs::request(kind::WATCH, 0, &nul_terminated(&[path.as_bytes(), token.as_bytes()])).await
    {
        xs::set_watching(&token, false);
        return Err(e);
    }
    xs::registered(path, &token);
    Ok(Watch { path: path.to_string(), token })
}

/// After a resume in a new domain: registers `watches` ([`resume`]) with the new xenstored.
/// Each fires once on registration, so their owners look again at what they watch.
pub(crate) async fn rewatch(watches: Vec<(String, String)>) {
    for (path, token) in watches {
        if !xs::is_registered(&token) {
            continue; // unwatched meanwhile
        }
        let payload = nul_terminated(&[path.as_bytes(), token.as_bytes()]);
        if let Err(e) = xs::request(kind::WATCH, 0, &payload).await {
            log::warn!("watching {path} again after the resume: {e}");
        }
    }
}

impl Watch {
    /// The next path that changed.
    pub async fn next(&self) -> Result<String, Error> {
        xs::next_event(&self.token).await
    }

    pub async fn unwatch(self) -> Result<(), Error> {
        xs::unregistered(&self.token);
        let r = xs::request(
            kind::UNWATCH,
            0,
            &nul_terminated(&[self.path.as_bytes(), self.token.as_bytes()]),
        )
        .await;
        xs::set_watching(&self.token, false);
        r.map(drop)
    }
}
