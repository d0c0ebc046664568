//! Rebuilds a tar-like layer on tokio from a splitfdstream and the files it refers to, and
//! checks the result against the blocking reconstruct.
//!
//! The program writes a few hundred member files into a temporary directory, writes the
//! stream (512-byte headers and padding inline, contents as references, one file referred
//! to twice), lists the chunks with the async reader, rebuilds the layer into a file with
//! the async reconstruct over lazily opened paths, and compares it with what the blocking
//! reconstruct produces.
//!
//! ```text
//! cargo run -p splitfdstream-adapters --example tokio_reconstruct --features tokio-1
//! ```

use std::io;
use std::sync::Arc;

use splitfdstream::Chunk;
use splitfdstream_adapters::std::PathSources;
use splitfdstream_adapters::tokio_1::{reconstruct, Reader, Writer};

const MEMBERS: usize = 300;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> io::Result<()> {
    let dir = tempfile::tempdir()?;

    // The members, and the stream that refers to them.
    let mut sources = PathSources::new();
    let mut writer = Writer::new(tokio::io::BufWriter::new(
        tokio::fs::File::create(dir.path().join("layer.sfd")).await?,
    ));
    for i in 0..MEMBERS {
        let path = dir.path().join(format!("member-{i}"));
        let content = format!("member {i}\n").repeat(1 + i * 37 % 500);
        tokio::fs::write(&path, &content).await?;
        let index = sources.push(path);
        let mut header = [0u8; 512];
        let name = format!("member-{i}");
        header[..name.len()].copy_from_slice(name.as_bytes());
        writer.write_inline(&header).await?;
        writer.write_external(index).await?;
        writer
            .write_inline(&vec![0; (512 - content.len() % 512) % 512])
            .await?;
    }
    writer.write_external(0).await?; // the first member again
    writer.write_inline(&[0; 1024]).await?; // end of archive
    let mut stream_file = writer.finish().await?;
    tokio::io::AsyncWriteExt::flush(&mut stream_file).await?;

    // The chunk-level view.
    let mut reader = Reader::new(tokio::fs::File::open(dir.path().join("layer.sfd")).await?);
    let (mut inline, mut externals) = (0u64, 0u64);
    while let Some(chunk) = reader.next_chunk().await? {
        match chunk {
            Chunk::Inline(fragment) => inline += u64::try_from(fragment.data.len()).unwrap_or(0),
            Chunk::External(_) => externals += 1,
        }
    }
    println!(
        "stream: {} bytes, {externals} external references, {inline} inline bytes",
        reader.position()
    );

    // Rebuild on tokio, files opened lazily through the bounded cache.
    let sources = Arc::new(sources);
    let stream = tokio::fs::File::open(dir.path().join("layer.sfd")).await?;
    let mut out = tokio::fs::File::create(dir.path().join("layer.tar")).await?;
    let written = reconstruct(stream, Arc::clone(&sources), &mut out).await?;
    out.sync_all().await?;
    println!(
        "rebuilt {written} bytes from {} sources; {} files left open by the cache (bound: {})",
        sources.len(),
        sources.open_files(),
        splitfdstream_adapters::std::DEFAULT_OPEN_FILES
    );

    // The same with the blocking reconstruct.
    let mut expected = Vec::new();
    let stream = std::fs::File::open(dir.path().join("layer.sfd"))?;
    splitfdstream_adapters::std::reconstruct(stream, &*sources, &mut expected)?;
    let rebuilt = tokio::fs::read(dir.path().join("layer.tar")).await?;
    if rebuilt != expected {
        return Err(io::Error::other(
            "tokio and blocking reconstructions differ",
        ));
    }
    println!("ok: identical to the blocking reconstruct");
    Ok(())
}
