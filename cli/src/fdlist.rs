//! The fd list: one source path per line, line `i` naming external index `i`.
//!
//! Paths are raw bytes, because Unix file names need not be UTF-8. Only two sequences are
//! escaped: a backslash is written `\\` and a newline `\n`; every other byte stands for
//! itself. A relative path is relative to the directory that holds the list.

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::output::AtomicFile;

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

/// Decodes one escaped line (without its newline) into raw path bytes.
///
/// # Errors
///
/// An empty line, a backslash followed by anything but `\` or `n`, or a trailing
/// backslash.
pub fn unescape(line: &[u8]) -> Result<Vec<u8>> {
    if line.is_empty() {
        bail!("empty path");
    }
    let mut path = Vec::with_capacity(line.len());
    let mut bytes = line.iter().copied();
    while let Some(byte) = bytes.next() {
        if byte != b'\\' {
            path.push(byte);
            continue;
        }
        match bytes.next() {
            Some(b'\\') => path.push(b'\\'),
            Some(b'n') => path.push(b'\n'),
            Some(other) => bail!(
                "unknown escape `\\{}` (only `\\\\` and `\\n` are allowed)",
                char::from(other).escape_default()
            ),
            None => bail!("path ends with a lone backslash"),
        }
    }
    Ok(path)
}

/// Parses the text of a list into raw paths, exactly as written (not yet resolved).
///
/// A final newline is optional. Line numbers in errors count from 1.
///
/// # Errors
///
/// The first line that does not decode.
pub fn parse(text: &[u8]) -> Result<Vec<Vec<u8>>> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    if body.is_empty() && !text.is_empty() {
        bail!("line 1: empty path");
    }
    if body.is_empty() {
        return Ok(Vec::new());
    }
    body.split(|&byte| byte == b'\n')
        .enumerate()
        .map(|(number, line)| unescape(line).with_context(|| format!("line {}", number + 1)))
        .collect()
}

/// Serializes raw paths into the text of a list.
pub fn render<'a>(paths: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut text = Vec::new();
    for path in paths {
        escape_into(path, &mut text);
        text.push(b'\n');
    }
    text
}

/// The directory that relative paths in the list at `list` are relative to.
pub fn base_dir(list: &Path) -> &Path {
    match list.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Reads the list at `list` and resolves every entry against the list's directory.
///
/// # Errors
///
/// The list cannot be read, or a line does not decode.
pub fn read(list: &Path) -> Result<Vec<PathBuf>> {
    let text = fs::read(list).with_context(|| format!("cannot read fd list {}", list.display()))?;
    let base = base_dir(list);
    let paths = parse(&text).with_context(|| format!("invalid fd list {}", list.display()))?;
    Ok(paths
        .into_iter()
        .map(|raw| {
            let path = Path::new(OsStr::from_bytes(&raw));
            if path.is_absolute() || base == Path::new(".") {
                path.to_path_buf()
            } else {
                base.join(path)
            }
        })
        .collect())
}

/// Writes a list of raw paths to `list`, atomically (the file appears only when complete).
///
/// # Errors
///
/// The list's directory is not writable, or writing fails.
pub fn write(list: &Path, paths: &[Vec<u8>]) -> Result<AtomicFile> {
    let mut file = AtomicFile::create(list)?;
    file.write_all(&render(paths.iter().map(Vec::as_slice)))
        .with_context(|| format!("cannot write fd list {}", list.display()))?;
    Ok(file)
}

/// How an entry for `target` is written in a list kept in `list_dir`: relative when
/// `target` lies beneath `list_dir`, absolute otherwise. Both must be absolute and
/// canonical for the result to be meaningful.
pub fn entry_for(list_dir: &Path, target: &Path) -> Vec<u8> {
    let path = target.strip_prefix(list_dir).unwrap_or(target);
    path.as_os_str().as_bytes().to_vec()
}

/// The absolute, canonical form of the directory that will hold `list` (which itself may
/// not exist yet).
///
/// # Errors
///
/// The directory does not exist.
pub fn canonical_base(list: &Path) -> Result<PathBuf> {
    let base = base_dir(list);
    fs::canonicalize(base).with_context(|| format!("cannot resolve directory {}", base.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn escapes_only_backslash_and_newline() {
        let mut out = Vec::new();
        escape_into(b"a\\b\nc\td\xff e", &mut out);
        assert_eq!(out, b"a\\\\b\\nc\td\xff e");
    }

    #[test]
    fn round_trips_raw_bytes() {
        let paths: Vec<Vec<u8>> = vec![
            b"objects/ab".to_vec(),
            b"/abs/with space".to_vec(),
            b"new\nline".to_vec(),
            b"back\\slash\\".to_vec(),
            b"\\n literally".to_vec(),
            vec![0xff, 0xfe, b'/', 0x80],
        ];
        let text = render(paths.iter().map(Vec::as_slice));
        assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), paths.len());
        assert_eq!(parse(&text).unwrap(), paths);
    }

    #[test]
    fn final_newline_is_optional() {
        assert_eq!(parse(b"a\nb").unwrap(), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(
            parse(b"a\nb\n").unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
    }

    #[test]
    fn empty_list_has_no_sources() {
        assert!(parse(b"").unwrap().is_empty());
    }

    #[test]
    fn rejects_empty_lines_and_unknown_escapes() {
        assert!(parse(b"\n").is_err());
        let error = parse(b"a\n\nb\n").unwrap_err();
        assert_eq!(format!("{error:#}"), "line 2: empty path");
        let error = parse(b"a\\tb\n").unwrap_err();
        assert!(
            format!("{error:#}").contains("unknown escape `\\t`"),
            "{error:#}"
        );
        assert!(parse(b"ab\\").is_err());
    }

    #[test]
    fn resolves_relative_to_the_list_directory() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("s.fds");
        fs::write(&list, b"objects/x\n/etc/hostname\nsub\\\\dir/y\n").unwrap();
        let paths = read(&list).unwrap();
        assert_eq!(
            paths,
            vec![
                dir.path().join("objects/x"),
                PathBuf::from("/etc/hostname"),
                dir.path().join("sub\\dir/y"),
            ]
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
