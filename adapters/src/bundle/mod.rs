//! The bundle on disk: a stream and the files beside it, read, written and rebuilt.
//!
//! | file | what it holds | module |
//! |---|---|---|
//! | `STREAM` | the stream: inline bytes and references to external sources | |
//! | `STREAM.fds` | line `i`: the path of source `i`, relative to the list's directory; `\\` and `\n` the only escapes | [`fd_list`] |
//! | `STREAM.sizes` | line `i`: the size in bytes of source `i`, in decimal | [`sizes`] |
//! | `STREAM.dirs` | successor format: line `i` is the directory of index `i`, in the fd list's syntax | [`dir_list`] |
//! | `STREAM.objects/` | content-addressed sources, named by their SHA-256 | (written by the command's `split`) |
//!
//! [`Bundle`] reads a bundle and rebuilds the original bytes into a file path, a writer
//! or (with the `fd` feature) a descriptor, each source checked against its size when there
//! is a sizes file; [`BundleWriter`] writes one, [`DirBundleWriter`] one of the successor
//! format (the stream and `STREAM.dirs`). Every file either appears complete or not
//! at all ([`Output`]): a failed or killed writer leaves no partial file behind, and a
//! previous file at the same path stays as it was.
//!
//! ```
//! # use splitfdstream_adapters::bundle::BundleWriter;
//! # use splitfdstream_adapters::std::Writer;
//! # let dir = tempfile::tempdir()?;
//! # std::fs::write(dir.path().join("member"), b"content")?;
//! # let mut writer = BundleWriter::create(dir.path().join("layer.sfd"))?;
//! # let mut stream = Writer::new(&mut writer);
//! # stream.write_inline(b"<header>")?;
//! # stream.write_external(0)?;
//! # stream.finish()?;
//! # writer.commit(&[dir.path().canonicalize()?.join("member")], &[7], Durability::Synced)?;
//! # std::env::set_current_dir(dir.path())?;
//! use splitfdstream_adapters::bundle::{Bundle, Durability};
//!
//! let bundle = Bundle::open("layer.sfd")?; // reads layer.sfd.fds and layer.sfd.sizes
//! bundle.rebuild_to_path("layer.tar", Durability::Synced)?;
//! assert_eq!(std::fs::read("layer.tar")?, b"<header>content");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Errors are typed ([`BundleError`]) and name the file at fault and, for a sidecar, the
//! line.

mod convert;
pub mod dir_list;
mod error;
pub mod fd_list;
mod output;
mod rebuild;
pub mod sizes;
mod write;
mod write_dirs;

pub use error::{BundleError, LineError, LineProblem, OutputError, OutputStep, Sidecar};
pub use output::{sync_directory, Durability, Output};
pub use rebuild::Bundle;
pub use write::BundleWriter;
pub use write_dirs::DirBundleWriter;

use ::std::path::{Path, PathBuf};

/// `path` with `suffix` appended to its last component.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}
