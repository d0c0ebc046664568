//! The sizes file `STREAM.sizes`, beside the fd list: line `i` is the size in bytes of
//! external source `i`, in decimal.
//!
//! An external reference carries no length, so without it a source that was truncated or
//! appended to would rebuild into a different tar without any error. `split` and
//! `from-tar-split` know every source's size and write it; `join` and `verify` check each
//! source against it when the file is there, and rebuild unchecked when it is not.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};

use crate::output::AtomicFile;

/// `STREAM.sizes`, where the sizes file is by default.
pub fn default_path(stream: &Path) -> PathBuf {
    let mut name = stream.as_os_str().to_os_string();
    name.push(".sizes");
    PathBuf::from(name)
}

/// The text of a sizes file.
pub fn render(sizes: &[u64]) -> Vec<u8> {
    let mut text = Vec::with_capacity(sizes.len() * 8);
    for size in sizes {
        // Writing to a Vec cannot fail.
        let _ = writeln!(text, "{size}");
    }
    text
}

/// Parses the text of a sizes file. A final newline is optional; line numbers in errors
/// count from 1.
///
/// # Errors
///
/// A line that is not a decimal number of bytes (digits only, fitting 64 bits).
pub fn parse(text: &[u8]) -> Result<Vec<u64>> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    if body.is_empty() {
        ensure!(text.is_empty(), "line 1: empty line");
        return Ok(Vec::new());
    }
    body.split(|&byte| byte == b'\n')
        .enumerate()
        .map(|(number, line)| {
            let line_number = number + 1;
            ensure!(
                !line.is_empty() && line.iter().all(u8::is_ascii_digit),
                "line {line_number}: {:?} is not a size in bytes",
                String::from_utf8_lossy(line)
            );
            std::str::from_utf8(line)
                .ok()
                .and_then(|digits| digits.parse::<u64>().ok())
                .with_context(|| format!("line {line_number}: size out of range"))
        })
        .collect()
}

/// Writes `sizes` to `path`, atomically; the caller commits.
///
/// # Errors
///
/// The directory is not writable, or writing fails.
pub fn write(path: &Path, sizes: &[u64]) -> Result<AtomicFile> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(&render(sizes))
        .with_context(|| format!("cannot write sizes file {}", path.display()))?;
    Ok(file)
}

/// Where `join` and `verify` look for sizes.
#[derive(Clone, Debug)]
pub enum Lookup {
    /// The default `STREAM.sizes`: used when it exists.
    Default(PathBuf),
    /// Named on the command line: must exist.
    Given(PathBuf),
}

impl Lookup {
    /// `--sizes FILE` when given, `STREAM.sizes` otherwise.
    pub fn new(stream: &Path, given: Option<PathBuf>) -> Lookup {
        match given {
            Some(path) => Lookup::Given(path),
            None => Lookup::Default(default_path(stream)),
        }
    }

    /// The sizes of the `sources` sources listed in `fds`, or `None` when the default file
    /// does not exist.
    ///
    /// # Errors
    ///
    /// The file cannot be read or parsed, or its line count differs from the fd list's.
    pub fn load(&self, sources: usize, fds: &Path) -> Result<Option<Vec<u64>>> {
        let (path, text) = match self {
            Lookup::Default(path) => match fs::read(path) {
                Ok(text) => (path, text),
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(error) => {
                    return Err(error)
                        .with_context(|| format!("cannot read sizes file {}", path.display()))
                }
            },
            Lookup::Given(path) => (
                path,
                fs::read(path)
                    .with_context(|| format!("cannot read sizes file {}", path.display()))?,
            ),
        };
        let sizes =
            parse(&text).with_context(|| format!("invalid sizes file {}", path.display()))?;
        if sizes.len() != sources {
            bail!(
                "the sizes file {} has {} {}, the fd list {} has {sources} {}",
                path.display(),
                sizes.len(),
                if sizes.len() == 1 { "line" } else { "lines" },
                fds.display(),
                if sources == 1 { "entry" } else { "entries" },
            );
        }
        Ok(Some(sizes))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let sizes = [0, 1, 4096, u64::MAX];
        let text = render(&sizes);
        assert_eq!(text, b"0\n1\n4096\n18446744073709551615\n");
        assert_eq!(parse(&text).unwrap(), sizes);
        assert_eq!(parse(b"7").unwrap(), [7]);
        assert!(parse(b"").unwrap().is_empty());
    }

    #[test]
    fn rejects_anything_but_digits() {
        for bad in [
            &b"\n"[..],
            b"1\n\n2\n",
            b"+1\n",
            b"-1\n",
            b" 1\n",
            b"1 \n",
            b"0x10\n",
            b"18446744073709551616\n",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let error = parse(b"1\nx\n").unwrap_err();
        assert!(format!("{error:#}").starts_with("line 2:"), "{error:#}");
    }

    #[test]
    fn a_missing_default_means_no_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let stream = dir.path().join("s.sfd");
        let fds = dir.path().join("s.sfd.fds");
        assert!(Lookup::new(&stream, None).load(2, &fds).unwrap().is_none());
        let given = Lookup::new(&stream, Some(dir.path().join("other")));
        assert!(given.load(2, &fds).is_err());
        fs::write(default_path(&stream), "1\n2\n").unwrap();
        assert_eq!(
            Lookup::new(&stream, None).load(2, &fds).unwrap(),
            Some(vec![1, 2])
        );
        let error = Lookup::new(&stream, None).load(3, &fds).unwrap_err();
        assert!(
            format!("{error:#}").contains("has 2 lines, the fd list"),
            "{error:#}"
        );
    }
}
