//! The fd list `STREAM.fds`: one source path per line, line `i` naming external index `i`.
//!
//! Paths are raw bytes, because Unix file names need not be UTF-8. Only two sequences are
//! escaped: a backslash is written `\\` and a newline `\n`; every other byte stands for
//! itself. A relative path is relative to the directory that holds the list. A final
//! newline is optional; an empty line is an error (no file has an empty name).
//!
//! ```
//! use std::path::{Path, PathBuf};
//! use splitfdstream_adapters::bundle::fd_list;
//!
//! let text = fd_list::render([&b"objects/ab"[..], b"/abs/new\nline"]);
//! assert_eq!(text, b"objects/ab\n/abs/new\\nline\n");
//! let paths = fd_list::parse(&text, Path::new("/srv"))?;
//! assert_eq!(paths, [PathBuf::from("/srv/objects/ab"), PathBuf::from("/abs/new\nline")]);
//! # Ok::<(), splitfdstream_adapters::bundle::LineError>(())
//! ```

use ::std::ffi::OsString;
use ::std::fs::File;
use ::std::io::{self, Read, Write};
use ::std::os::unix::ffi::{OsStrExt, OsStringExt};
use ::std::path::{Path, PathBuf};

use super::error::{BundleError, LineError, LineProblem, Sidecar};
use super::output::Output;

/// `STREAM.fds`, where the fd list of `stream` is by default.
pub fn default_path(stream: &Path) -> PathBuf {
    super::with_suffix(stream, ".fds")
}

/// The directory that relative paths in the list at `list` are relative to: the list's
/// own (`.` for a bare file name).
pub fn base_dir(list: &Path) -> &Path {
    match list.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Appends the escaped form of `path` (without the line's newline) to `out`.
pub fn escape_into(path: &[u8], out: &mut Vec<u8>) {
    for &byte in path {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            other => out.push(other),
        }
    }
}

/// Appends the raw path that the escaped `line` (without its newline) stands for to `out`.
///
/// # Errors
///
/// A backslash followed by anything but `\` or `n`, or at the end of the line.
pub fn unescape_into(line: &[u8], out: &mut Vec<u8>) -> Result<(), LineProblem> {
    let mut rest = line;
    while let Some(at) = rest.iter().position(|&byte| byte == b'\\') {
        out.extend_from_slice(&rest[..at]);
        match rest.get(at + 1) {
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(&other) => return Err(LineProblem::UnknownEscape(other)),
            None => return Err(LineProblem::LoneBackslash),
        }
        rest = &rest[at + 2..];
    }
    out.extend_from_slice(rest);
    Ok(())
}

/// The position of the first newline in `bytes`, eight bytes at a time: the fd list of a
/// large layer is megabytes of short lines.
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut le = [0u8; 8];
        le.copy_from_slice(word);
        // A zero byte in `word ^ NEWLINES` is a newline; the lowest flagged byte is exact.
        let x = u64::from_le_bytes(le) ^ NEWLINES;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            let byte = usize::try_from(found.trailing_zeros() / 8).unwrap_or(0);
            return Some(at + byte);
        }
        at += 8;
    }
    let tail = words.remainder();
    tail.iter()
        .position(|&byte| byte == b'\n')
        .map(|byte| at + byte)
}

/// The lines of a sidecar's text: a final newline is optional, and an empty text has none.
pub(crate) fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(text).filter(|text| !text.is_empty());
    ::std::iter::from_fn(move || {
        let text = rest?;
        match find_newline(text) {
            Some(at) => {
                rest = Some(&text[at + 1..]).filter(|after| !after.is_empty());
                Some(&text[..at])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

/// Turns lines into paths joined to a base, numbering them for errors.
struct Resolver<'a> {
    base: &'a [u8],
    separator: bool,
    paths: Vec<PathBuf>,
}

impl<'a> Resolver<'a> {
    fn new(base: &'a Path) -> Resolver<'a> {
        let base = base.as_os_str().as_bytes();
        Resolver {
            base,
            separator: !base.is_empty() && !base.ends_with(b"/"),
            paths: Vec::new(),
        }
    }

    fn line(&mut self, line: &[u8]) -> Result<(), LineError> {
        let index = self.paths.len();
        if line.is_empty() {
            return Err(LineError::new(index, LineProblem::EmptyPath));
        }
        let absolute = line.starts_with(b"/") || self.base.is_empty();
        let prefix = if absolute {
            0
        } else {
            self.base.len() + usize::from(self.separator)
        };
        let mut path = Vec::with_capacity(prefix + line.len());
        if !absolute {
            path.extend_from_slice(self.base);
            if self.separator {
                path.push(b'/');
            }
        }
        if line.contains(&b'\\') {
            unescape_into(line, &mut path).map_err(|problem| LineError::new(index, problem))?;
        } else {
            path.extend_from_slice(line);
        }
        self.paths.push(PathBuf::from(OsString::from_vec(path)));
        Ok(())
    }
}

/// Parses the text of a list, joining each relative path to `base` (pass an empty path to
/// keep paths as written).
///
/// One allocation per path, the path itself; lines without a backslash are copied as they
/// are.
///
/// # Errors
///
/// The first line that is empty or holds an unknown escape, with its number.
pub fn parse(text: &[u8], base: &Path) -> Result<Vec<PathBuf>, LineError> {
    let mut resolver = Resolver::new(base);
    for line in lines(text) {
        resolver.line(line)?;
    }
    Ok(resolver.paths)
}

/// How much of the list is read at a time: a large list is never held whole, so reading it
/// costs no more memory than its paths.
const READ_CHUNK: usize = 256 * 1024;

/// Reads the list at `list` (once, front to back, in pieces) and resolves every entry
/// against the list's directory. A list in the current directory keeps relative paths as
/// they are.
///
/// # Errors
///
/// [`BundleError::Read`] when the list cannot be read, [`BundleError::Line`] for a
/// malformed line.
pub fn read(list: &Path) -> Result<Vec<PathBuf>, BundleError> {
    read_as(list, Sidecar::FdList)
}

/// [`read`] for a list in the same syntax that is the sidecar `file`.
pub(super) fn read_as(list: &Path, file: Sidecar) -> Result<Vec<PathBuf>, BundleError> {
    let read_error = |error| BundleError::Read {
        file,
        path: list.to_path_buf(),
        error,
    };
    let line_error = |error| BundleError::Line {
        file,
        path: list.to_path_buf(),
        error,
    };
    let mut file = File::open(list).map_err(read_error)?;
    let base = match base_dir(list) {
        dot if dot == Path::new(".") => Path::new(""),
        base => base,
    };
    let mut resolver = Resolver::new(base);
    let mut buf = ::std::vec![0u8; READ_CHUNK];
    // Bytes at the front of `buf` that belong to a line not yet complete.
    let mut kept = 0;
    loop {
        if kept == buf.len() {
            // A line longer than the buffer.
            buf.resize(buf.len() * 2, 0);
        }
        let got = match file.read(&mut buf[kept..]) {
            Ok(got) => got,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(read_error(error)),
        };
        if got == 0 {
            break;
        }
        let end = kept + got;
        let mut start = 0;
        while let Some(at) = find_newline(&buf[start..end]) {
            resolver.line(&buf[start..start + at]).map_err(line_error)?;
            start += at + 1;
        }
        buf.copy_within(start..end, 0);
        kept = end - start;
    }
    if kept > 0 {
        // The last line, without a final newline.
        resolver.line(&buf[..kept]).map_err(line_error)?;
    }
    Ok(resolver.paths)
}

/// The text of a list of raw paths.
pub fn render<I>(paths: I) -> Vec<u8>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut text = Vec::new();
    for path in paths {
        escape_into(path.as_ref(), &mut text);
        text.push(b'\n');
    }
    text
}

/// How `target` is written in a list kept in `list_dir`: relative when it lies beneath
/// `list_dir`, as it is otherwise. Both should be absolute and canonical.
pub fn entry_for<'a>(list_dir: &Path, target: &'a Path) -> &'a [u8] {
    target
        .strip_prefix(list_dir)
        .unwrap_or(target)
        .as_os_str()
        .as_bytes()
}

/// Writes a list of raw paths to `list` as an [`Output`], for the caller to commit.
///
/// # Errors
///
/// The list cannot be created or written.
pub fn write<I>(list: &Path, paths: I) -> Result<Output, BundleError>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut file = Output::create(list)?;
    file.write_all(&render(paths))
        .map_err(|error| BundleError::Write {
            path: list.to_path_buf(),
            error,
        })?;
    Ok(file)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use ::std::fs;

    fn raw(text: &[u8]) -> Result<Vec<Vec<u8>>, LineError> {
        parse(text, Path::new("")).map(|paths| {
            paths
                .into_iter()
                .map(|path| path.into_os_string().into_vec())
                .collect()
        })
    }

    #[test]
    fn escapes_only_backslash_and_newline() {
        let mut out = Vec::new();
        escape_into(b"a\\b\nc\td\xff e", &mut out);
        assert_eq!(out, b"a\\\\b\\nc\td\xff e");
    }

    #[test]
    fn round_trips_raw_bytes() {
        let paths: Vec<Vec<u8>> = ::std::vec![
            b"objects/ab".to_vec(),
            b"/abs/with space".to_vec(),
            b"new\nline".to_vec(),
            b"back\\slash\\".to_vec(),
            b"\\n literally".to_vec(),
            ::std::vec![0xff, 0xfe, b'/', 0x80],
        ];
        let text = render(&paths);
        assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), paths.len());
        assert_eq!(raw(&text).unwrap(), paths);
    }

    #[test]
    fn final_newline_is_optional() {
        assert_eq!(raw(b"a\nb").unwrap(), [b"a", b"b"]);
        assert_eq!(raw(b"a\nb\n").unwrap(), [b"a", b"b"]);
        assert!(raw(b"").unwrap().is_empty());
    }

    #[test]
    fn rejects_empty_lines_and_bad_escapes_with_their_line() {
        let error = raw(b"\n").unwrap_err();
        assert_eq!((error.line(), error.problem()), (1, LineProblem::EmptyPath));
        let error = raw(b"a\n\nb\n").unwrap_err();
        assert_eq!(error.to_string(), "line 2: empty path");
        let error = raw(b"a\\tb\n").unwrap_err();
        assert_eq!(error.problem(), LineProblem::UnknownEscape(b't'));
        assert!(
            error.to_string().contains("unknown escape `\\t`"),
            "{error}"
        );
        let error = raw(b"ok\nab\\").unwrap_err();
        assert_eq!(
            (error.line(), error.problem()),
            (2, LineProblem::LoneBackslash)
        );
    }

    #[test]
    fn joins_relative_paths_to_the_base_once() {
        for base in ["/srv", "/srv/"] {
            let paths = parse(b"x\n/abs\nsub\\\\dir/y\n", Path::new(base)).unwrap();
            assert_eq!(
                paths,
                [
                    PathBuf::from("/srv/x"),
                    PathBuf::from("/abs"),
                    PathBuf::from("/srv/sub\\dir/y")
                ]
            );
        }
    }

    #[test]
    fn reads_relative_to_the_list_directory_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("s.fds");
        fs::write(&list, b"objects/x\n/etc/hostname\n").unwrap();
        assert_eq!(
            read(&list).unwrap(),
            [dir.path().join("objects/x"), PathBuf::from("/etc/hostname")]
        );
        fs::write(&list, b"a\nb\\q\n").unwrap();
        let error = read(&list).unwrap_err();
        let BundleError::Line { file, path, error } = &error else {
            panic!("{error:?}");
        };
        assert_eq!((*file, path, error.line()), (Sidecar::FdList, &list, 2));
        let missing = dir.path().join("none.fds");
        let error = read(&missing).unwrap_err();
        assert_eq!(
            error.to_string(),
            ::std::format!("cannot read fd list {}", missing.display())
        );
    }

    #[test]
    fn finds_newlines_at_every_position() {
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = ::std::vec![b'x'; len];
                bytes[at] = b'\n';
                if at + 3 < len {
                    bytes[at + 3] = b'\n';
                }
                assert_eq!(find_newline(&bytes), Some(at), "{len} {at}");
            }
            assert_eq!(find_newline(&::std::vec![0x8a; len]), None);
        }
    }

    #[test]
    fn reads_lines_that_cross_the_read_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("s.fds");
        // Lines of every length up to past one chunk, with escapes on some.
        let paths: Vec<Vec<u8>> = (1..300)
            .map(|i| {
                let mut path = ::std::vec![b'a' + u8::try_from(i % 26).unwrap(); i * 7];
                if i % 3 == 0 {
                    path.push(b'\n');
                }
                path
            })
            .chain([::std::vec![b'z'; READ_CHUNK + 5]])
            .collect();
        let mut text = render(&paths);
        text.pop(); // no final newline
        fs::write(&list, &text).unwrap();
        let read_back: Vec<Vec<u8>> = read(&list)
            .unwrap()
            .into_iter()
            .map(|path| {
                path.strip_prefix(dir.path())
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec()
            })
            .collect();
        assert_eq!(read_back, paths);
        fs::write(&list, [&text[..], b"\n\n"].concat()).unwrap();
        let error = read(&list).unwrap_err();
        assert!(
            matches!(&error, BundleError::Line { error, .. } if error.line() == 301),
            "{error:?}"
        );
    }

    #[test]
    fn base_dir_of_a_bare_name_is_the_current_directory() {
        assert_eq!(base_dir(Path::new("s.fds")), Path::new("."));
        assert_eq!(base_dir(Path::new("a/s.fds")), Path::new("a"));
    }

    #[test]
    fn entries_are_relative_beneath_the_list_directory() {
        assert_eq!(entry_for(Path::new("/w"), Path::new("/w/o/ab")), b"o/ab");
        assert_eq!(entry_for(Path::new("/w"), Path::new("/x/ab")), b"/x/ab");
    }
}
