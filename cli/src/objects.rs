//! Content-addressed objects: files named by the SHA-256 of their bytes, each stored once.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use splitfdstream_adapters::bundle::{self, Durability, Output};
use splitfdstream_adapters::std::read_retrying;

/// Contents up to this size are hashed in memory before anything is written, so a
/// duplicate costs no write at all.
const IN_MEMORY: u64 = 4 << 20;
const COPY_CHUNK: usize = 256 * 1024;

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// A directory of objects being filled by one command, with the index each distinct
/// content was given in order of first appearance.
#[derive(Debug)]
pub struct ObjectStore {
    dir: PathBuf,
    created_dir: bool,
    by_digest: HashMap<[u8; 32], u64>,
    /// Object paths by index.
    paths: Vec<PathBuf>,
    /// Object sizes by index.
    sizes: Vec<u64>,
    /// Objects this store wrote (not ones that already existed), for [`discard`](Self::discard).
    written: Vec<PathBuf>,
    /// Bytes of distinct contents.
    distinct_bytes: u64,
}

impl ObjectStore {
    /// Opens `dir`, creating it (and its parents) if needed.
    ///
    /// # Errors
    ///
    /// The directory cannot be created.
    pub fn open(dir: &Path) -> Result<ObjectStore> {
        let created_dir = !dir.exists();
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create objects directory {}", dir.display()))?;
        let dir = fs::canonicalize(dir)
            .with_context(|| format!("cannot resolve objects directory {}", dir.display()))?;
        Ok(ObjectStore {
            dir,
            created_dir,
            by_digest: HashMap::new(),
            paths: Vec::new(),
            sizes: Vec::new(),
            written: Vec::new(),
            distinct_bytes: 0,
        })
    }

    /// The canonical directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file name (beneath [`dir`](Self::dir)) and size of object `index`.
    pub fn object(&self, index: u64) -> Option<(&str, u64)> {
        let at = usize::try_from(index).ok()?;
        let name = self.paths.get(at)?.file_name()?.to_str()?;
        Some((name, *self.sizes.get(at)?))
    }

    /// Object paths, by index.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Object sizes, by index.
    pub fn sizes(&self) -> &[u64] {
        &self.sizes
    }

    /// Total size of the distinct contents.
    pub fn distinct_bytes(&self) -> u64 {
        self.distinct_bytes
    }

    /// Stores the content read from `content` (expected to be `len` bytes, fewer if the
    /// input ends early) and returns its index. Identical contents get the same index.
    ///
    /// # Errors
    ///
    /// Reading the content or writing the object fails.
    pub fn add(&mut self, content: &mut dyn Read, len: u64) -> Result<u64> {
        if len <= IN_MEMORY {
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            content
                .read_to_end(&mut bytes)
                .context("cannot read the archive")?;
            let digest: [u8; 32] = Sha256::digest(&bytes).into();
            if let Some(&index) = self.by_digest.get(&digest) {
                return Ok(index);
            }
            let path = self.dir.join(hex(&digest));
            let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
            if !self.stored(&path, size) {
                let mut temp = self.temp(&path)?;
                temp.write_all(&bytes)
                    .with_context(|| format!("cannot write object {}", path.display()))?;
                self.persist(temp, &path)?;
            }
            Ok(self.record(digest, path, size))
        } else {
            // Named once its content is known.
            let mut temp = self.temp(&self.dir.join("object"))?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; COPY_CHUNK];
            let mut size: u64 = 0;
            loop {
                let got = match read_retrying(content, &mut buf) {
                    Ok(0) => break,
                    Ok(got) => got,
                    Err(error) => return Err(error).context("cannot read the archive"),
                };
                hasher.update(&buf[..got]);
                temp.write_all(&buf[..got])
                    .with_context(|| format!("cannot write an object in {}", self.dir.display()))?;
                size += u64::try_from(got).unwrap_or(0);
            }
            let digest: [u8; 32] = hasher.finalize().into();
            if let Some(&index) = self.by_digest.get(&digest) {
                return Ok(index);
            }
            let path = self.dir.join(hex(&digest));
            if !self.stored(&path, size) {
                self.persist(temp, &path)?;
            }
            Ok(self.record(digest, path, size))
        }
    }

    /// Whether an object is already stored under `path`. A directory this store created
    /// holds only what it wrote, which the digest map already knows, so it is not asked.
    fn stored(&self, path: &Path, size: u64) -> bool {
        !self.created_dir && exists_with_size(path, size)
    }

    /// A read-only object that appears under its name only once complete.
    fn temp(&self, path: &Path) -> Result<Output> {
        Output::create_with_mode(path, 0o444)
            .with_context(|| format!("cannot create an object in {}", self.dir.display()))
    }

    /// Names the object; it reaches the disk with the others, at [`sync`](Self::sync).
    fn persist(&mut self, mut temp: Output, path: &Path) -> Result<()> {
        temp.set_destination(path);
        temp.commit(Durability::Unsynced)
            .with_context(|| format!("cannot store object {}", path.display()))?;
        self.written.push(path.to_path_buf());
        Ok(())
    }

    fn record(&mut self, digest: [u8; 32], path: PathBuf, size: u64) -> u64 {
        let index = u64::try_from(self.paths.len()).unwrap_or(u64::MAX);
        self.by_digest.insert(digest, index);
        self.paths.push(path);
        self.sizes.push(size);
        self.distinct_bytes += size;
        index
    }

    /// Writes every object stored so far to disk, with their names: a stream and an fd
    /// list committed after this never refer to an object a crash could lose. One sync of
    /// the file system instead of one per object, which would cost a layer of 60,000 small
    /// files as many journal commits.
    ///
    /// # Errors
    ///
    /// The file system reports a failed write.
    pub fn sync(&self) -> Result<()> {
        if !self.written.is_empty() {
            let dir = fs::File::open(&self.dir)
                .with_context(|| format!("cannot open objects directory {}", self.dir.display()))?;
            rustix::fs::syncfs(&dir)
                .map_err(io::Error::from)
                .with_context(|| {
                    format!("cannot write the objects in {} to disk", self.dir.display())
                })?;
        }
        bundle::sync_directory(&self.dir);
        Ok(())
    }

    /// Removes what this store wrote, and its directory if this store created it, after a
    /// failure, so that a failed command leaves nothing behind. Best effort.
    pub fn discard(self) {
        for path in &self.written {
            let _ = fs::remove_file(path);
        }
        if self.created_dir {
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

/// An existing object of the right size is taken as is: it is named by its content.
fn exists_with_size(path: &Path, size: u64) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.len() == size)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn identical_contents_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ObjectStore::open(&dir.path().join("objects")).unwrap();
        let a = store.add(&mut &b"same"[..], 4).unwrap();
        let b = store.add(&mut &b"other"[..], 5).unwrap();
        let c = store.add(&mut &b"same"[..], 4).unwrap();
        assert_eq!((a, b, c), (0, 1, 0));
        assert_eq!(store.paths().len(), 2);
        let name = store.paths()[0]
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            name,
            "0967115f2813a3541eaef77de9d9d5773f1c0c04314b0bbfe4ff3b3b1c55b5d5"
        );
        assert_eq!(fs::read(&store.paths()[0]).unwrap(), b"same");
        assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 2);
    }

    #[test]
    fn large_contents_stream_to_disk() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ObjectStore::open(dir.path()).unwrap();
        let big = vec![3u8; usize::try_from(IN_MEMORY).unwrap() + 1];
        let len = u64::try_from(big.len()).unwrap();
        assert_eq!(store.add(&mut &big[..], len).unwrap(), 0);
        assert_eq!(store.add(&mut &big[..], len).unwrap(), 0);
        assert_eq!(fs::read(&store.paths()[0]).unwrap(), big);
        assert_eq!(
            hex(&Sha256::digest(&big)),
            store.paths()[0].file_name().unwrap().to_str().unwrap()
        );
        assert_eq!(
            fs::read_dir(store.dir()).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn discard_removes_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        let mut store = ObjectStore::open(&objects).unwrap();
        store.add(&mut &b"x"[..], 1).unwrap();
        store.discard();
        assert!(!objects.exists());
    }
}
