//! A layer of many small sources, and a test body run in a child process whose open-file
//! limit `sh`'s `ulimit` lowered, so the limit is real and does not leak into other tests.

use std::fs::File;
use std::io::Write;
use std::process::Command;

use splitfdstream_adapters::std::PathSources;

use super::{encode, Item};

/// Sources in a layer.
pub const SOURCES: usize = 60_000;
/// The open-file limit of the child.
pub const LIMIT: usize = 256;

/// Runs the test `name` of this test binary again in a child under `ulimit -n` [`LIMIT`],
/// with `child_env` set, and checks that it succeeded and printed `child: rebuilt`. In the
/// child (`child_env` set), runs `child` instead.
pub fn in_child_under_limit(name: &str, child_env: &str, child: impl FnOnce()) {
    if std::env::var_os(child_env).is_some() {
        assert!(open_file_limit() <= LIMIT, "the limit was not lowered");
        child();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {LIMIT} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(child_env, "1")
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "child failed:\n{log}");
    assert!(
        log.contains("child: rebuilt"),
        "the child did not run the check:\n{log}"
    );
}

fn open_file_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|soft| soft.parse().ok())
        .unwrap_or(LIMIT)
}

/// A layer of [`SOURCES`] files in a temporary directory, each preceded by a header, and an
/// early source referenced again at the end (evicted by then, so it must reopen).
pub struct Layer {
    pub dir: tempfile::TempDir,
    pub sources: PathSources,
    pub stream: Vec<u8>,
    pub expected: Vec<u8>,
}

impl Layer {
    /// Writes the files, and checks that opening all of them at once hits the limit, as the
    /// format's first implementation would.
    pub fn new() -> Layer {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = PathSources::new();
        let mut items = Vec::new();
        let mut expected = Vec::new();
        for i in 0..SOURCES {
            let path = dir.path().join(i.to_string());
            let content = format!("content of {i}\n").repeat(1 + i % 3);
            File::create(&path)
                .unwrap()
                .write_all(content.as_bytes())
                .unwrap();
            sources.push(path);
            let header = format!("<{i}>");
            items.push(Item::Inline(header.clone().into_bytes()));
            items.push(Item::External(u64::try_from(i).unwrap()));
            expected.extend_from_slice(header.as_bytes());
            expected.extend_from_slice(content.as_bytes());
        }
        items.push(Item::External(0));
        expected.extend_from_slice(b"content of 0\n");
        let stream = encode(&items);

        let mut all_open = Vec::new();
        let error = (0..SOURCES)
            .map(|i| File::open(dir.path().join(i.to_string())))
            .find_map(|opened| opened.map(|file| all_open.push(file)).err())
            .expect("opening every source at once should hit the limit");
        assert_eq!(
            error.raw_os_error(),
            Some(24),
            "expected EMFILE, got {error}"
        );
        Layer {
            dir,
            sources,
            stream,
            expected,
        }
    }
}
