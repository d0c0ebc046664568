//! The sizes file `STREAM.sizes`: line `i` is the size in bytes of external source `i`, in
//! decimal digits.
//!
//! A stream's references carry no length, so without it a source that was truncated or
//! appended to would rebuild into different bytes without any error. A final newline is
//! optional; anything but digits on a line (signs, spaces, an empty line) is an error.
//!
//! ```
//! use splitfdstream_adapters::bundle::sizes;
//!
//! let text = sizes::render(&[0, 4096, u64::MAX]);
//! assert_eq!(text, b"0\n4096\n18446744073709551615\n");
//! assert_eq!(sizes::parse(&text)?, [0, 4096, u64::MAX]);
//! assert_eq!(sizes::parse(b"1\n+2\n").unwrap_err().line(), 2);
//! # Ok::<(), splitfdstream_adapters::bundle::LineError>(())
//! ```

use ::std::fs;
use ::std::io::{self, Write};
use ::std::path::{Path, PathBuf};

use super::error::{BundleError, LineError, LineProblem, Sidecar};
use super::fd_list::lines;
use super::output::Output;

/// `STREAM.sizes`, where the sizes file of `stream` is by default.
pub fn default_path(stream: &Path) -> PathBuf {
    super::with_suffix(stream, ".sizes")
}

/// The text of a sizes file.
pub fn render(sizes: &[u64]) -> Vec<u8> {
    let mut text = Vec::with_capacity(sizes.len().saturating_mul(8));
    for size in sizes {
        // Writing to a Vec cannot fail.
        let _ = writeln!(text, "{size}");
    }
    text
}

/// One line's size: decimal digits only, fitting 64 bits.
fn parse_line(line: &[u8]) -> Result<u64, LineProblem> {
    if line.is_empty() {
        return Err(LineProblem::EmptySize);
    }
    let mut size = 0u64;
    for &byte in line {
        let digit = match byte {
            b'0'..=b'9' => u64::from(byte - b'0'),
            _ => return Err(LineProblem::NotASize),
        };
        size = size
            .checked_mul(10)
            .and_then(|size| size.checked_add(digit))
            .ok_or(LineProblem::SizeTooLarge)?;
    }
    Ok(size)
}

/// Parses the text of a sizes file.
///
/// # Errors
///
/// The first line that is not a size in bytes, with its number.
pub fn parse(text: &[u8]) -> Result<Vec<u64>, LineError> {
    lines(text)
        .enumerate()
        .map(|(index, line)| parse_line(line).map_err(|problem| LineError::new(index, problem)))
        .collect()
}

/// Reads and parses the sizes file at `path` (in one read); `Ok(None)` when it does not
/// exist and `optional` is set.
///
/// # Errors
///
/// [`BundleError::Read`] when the file cannot be read (or is missing and not
/// `optional`), [`BundleError::Line`] for a malformed line.
pub fn read(path: &Path, optional: bool) -> Result<Option<Vec<u64>>, BundleError> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(error) if optional && error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(BundleError::Read {
                file: Sidecar::Sizes,
                path: path.to_path_buf(),
                error,
            })
        }
    };
    parse(&text).map(Some).map_err(|error| BundleError::Line {
        file: Sidecar::Sizes,
        path: path.to_path_buf(),
        error,
    })
}

/// Writes `sizes` to `path` as an [`Output`], for the caller to commit.
///
/// # Errors
///
/// The file cannot be created or written.
pub fn write(path: &Path, sizes: &[u64]) -> Result<Output, BundleError> {
    let mut file = Output::create(path)?;
    file.write_all(&render(sizes))
        .map_err(|error| BundleError::Write {
            path: path.to_path_buf(),
            error,
        })?;
    Ok(file)
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
        for (bad, problem) in [
            (&b"\n"[..], LineProblem::EmptySize),
            (b"1\n\n2\n", LineProblem::EmptySize),
            (b"+1\n", LineProblem::NotASize),
            (b"-1\n", LineProblem::NotASize),
            (b" 1\n", LineProblem::NotASize),
            (b"1 \n", LineProblem::NotASize),
            (b"0x10\n", LineProblem::NotASize),
            (b"1\r\n", LineProblem::NotASize),
            (b"18446744073709551616\n", LineProblem::SizeTooLarge),
            (b"99999999999999999999999\n", LineProblem::SizeTooLarge),
        ] {
            let error = parse(bad).unwrap_err();
            assert_eq!(
                error.problem(),
                problem,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(parse(b"1\nx\n").unwrap_err().line(), 2);
    }

    #[test]
    fn a_missing_file_is_none_only_when_optional() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sizes");
        assert!(read(&path, true).unwrap().is_none());
        assert!(matches!(
            read(&path, false),
            Err(BundleError::Read {
                file: Sidecar::Sizes,
                ..
            })
        ));
        fs::write(&path, "1\n2\n").unwrap();
        assert_eq!(read(&path, true).unwrap(), Some(::std::vec![1, 2]));
        fs::write(&path, "1\ntwo\n").unwrap();
        let error = read(&path, true).unwrap_err();
        assert!(
            matches!(&error, BundleError::Line { file: Sidecar::Sizes, error, .. } if error.line() == 2),
            "{error:?}"
        );
    }
}
