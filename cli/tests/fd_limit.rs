//! A layer of 60,000 files splits and joins under `ulimit -n 256`: sources are opened
//! lazily, a few at a time, never all at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::process::Command;

const FILES: usize = 60_000;

#[test]
fn sixty_thousand_files_under_ulimit_256() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut builder = tar::Builder::new(std::io::BufWriter::new(
        fs::File::create(dir.join("layer.tar")).unwrap(),
    ));
    for i in 0..FILES {
        // Distinct contents of 10 to 1,200 bytes, so every file becomes its own object.
        let mut content = format!("file {i}\n").into_bytes();
        content.resize(10 + (i * 37) % 1191, b'x');
        let mut header = tar::Header::new_gnu();
        header.set_size(u64::try_from(content.len()).unwrap());
        header.set_mode(0o644);
        header.set_cksum();
        let name = format!("usr/share/d{}/f{i}", i % 300);
        builder
            .append_data(&mut header, name, content.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap();

    let limited_to = |limit: u32, args: &str| {
        let script = format!("ulimit -n {limit} && exec {} {args}", common::bin());
        let output = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };
    let limited = |args: &str| limited_to(256, args);
    limited("-q split layer.tar -o layer.sfd");
    assert_eq!(
        fs::read_dir(dir.join("layer.sfd.objects")).unwrap().count(),
        FILES
    );
    limited("join layer.sfd -o joined.tar");
    assert!(fs::read(dir.join("joined.tar")).unwrap() == fs::read(dir.join("layer.tar")).unwrap());
    // Even a quarter of that is enough: few sources are ever open at once.
    let verify = limited_to(64, "verify layer.sfd");
    assert!(String::from_utf8(verify.stdout)
        .unwrap()
        .starts_with(&common::sha256sum(&dir.join("layer.tar"))));
}
