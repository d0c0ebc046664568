//! A firmware updater in the Embassy style: an update file arrives over a UART into a
//! staging region, then is applied from the old flash bank into the spare one with no
//! allocation, through async I/O: every range of the old bank it reuses is checked by
//! SHA-256 before use, the new image at the end, and a checkpoint is persisted at each
//! chunk boundary so that a reset in the middle loses nothing.
//!
//! In firmware, `update` is the body of an `#[embassy_executor::task]`, the UART is
//! `embassy_stm32::usart::Uart` (or any `embedded_io_async::Read`), the banks are regions
//! of internal flash (any `embedded_io_async::Read + Seek`, and `Write + Seek` for the
//! spare one) and the checkpoint goes to a flash page or backup registers. Here the same
//! code runs over memory: on the host with `embassy_futures::block_on` and a check of the
//! result, and on bare metal as a `no_std`, `no_main` program that links:
//!
//! ```text
//! cargo run -p splitfdstream-adapters --example embassy_update --features async
//! cargo build -p splitfdstream-adapters --example embassy_update --features async \
//!     --target thumbv7em-none-eabihf
//! ```
#![cfg_attr(target_os = "none", no_std, no_main)]

use core::ops::ControlFlow;

use embedded_io_async_07::{ErrorKind, ErrorType, Read};
use sha2::{Digest, Sha256};
use splitfdstream::update::{Checkpoint, Encoder, Header, SourceRange, CHECKPOINT_LEN};
use splitfdstream_adapters::asynch::{apply, resume};
use splitfdstream_adapters::embedded_io::{Applied, SliceSlot, SliceSource};

/// What the device runs now: a bootloader, an application's text and data.
const OLD_LEN: usize = 64 + 1000 + 300;

fn old_bank() -> [u8; OLD_LEN] {
    let mut bank = [0u8; OLD_LEN];
    bank[..64].fill(0xb0);
    bank[64..1064].fill(0x7e);
    bank[1064..].fill(0xda);
    bank
}

/// A UART that delivers a few bytes per read and makes the reader wait between reads, as
/// a DMA receive does.
struct Uart<'a> {
    pending: &'a [u8],
    ready: bool,
}

impl ErrorType for Uart<'_> {
    type Error = ErrorKind;
}

impl Read for Uart<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if !self.ready {
            self.ready = true;
            embassy_futures::yield_now().await;
        }
        self.ready = false;
        let n = buf.len().min(self.pending.len()).min(13);
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending = &self.pending[n..];
        Ok(n)
    }
}

/// The new image: a new header, the bootloader as is, the old text, 24 new bytes, the old
/// data.
const NEW_LEN: usize = 8 + 64 + 1000 + 24 + 300;

/// Builds the update file the server would send (the host tool `splitfdstream delta`
/// makes such files from two images).
fn make_update(old: &[u8], file: &mut [u8]) -> Option<usize> {
    let ranges = [(0u64, 64u64), (64, 1000), (1064, 300)];
    let mut target = Sha256::new();
    target.update(b"IMAGE v2");
    target.update(&old[..1064]);
    target.update([0x42; 24]);
    target.update(&old[1064..]);
    let header = Header {
        target_len: u64::try_from(NEW_LEN).ok()?,
        target_sha256: target.finalize().into(),
        range_count: 3,
    };
    let mut encoder = Encoder::new();
    let mut len = encoder.header(&header, file).ok()?;
    for (offset, range_len) in ranges {
        let start = usize::try_from(offset).ok()?;
        let end = start + usize::try_from(range_len).ok()?;
        let range = SourceRange {
            offset,
            len: range_len,
            sha256: Sha256::digest(&old[start..end]).into(),
        };
        len += encoder.range(&range, file.get_mut(len..)?).ok()?;
    }
    len += encoder.inline(b"IMAGE v2", file.get_mut(len..)?).ok()?;
    len += encoder.external(0, file.get_mut(len..)?).ok()?;
    len += encoder.external(1, file.get_mut(len..)?).ok()?;
    len += encoder.inline(&[0x42; 24], file.get_mut(len..)?).ok()?;
    len += encoder.external(2, file.get_mut(len..)?).ok()?;
    Some(len)
}

/// Receives the update from `uart` into `staging`; returns its length.
async fn download(mut uart: Uart<'_>, staging: &mut [u8]) -> Option<usize> {
    let mut len = 0;
    loop {
        let n = uart.read(staging.get_mut(len..)?).await.ok()?;
        if n == 0 {
            return Some(len);
        }
        len += n;
    }
}

/// The whole program: receive, apply until a (simulated) reset after the second chunk,
/// resume from the persisted checkpoint, check; `true` when the new bank is right.
async fn run(file: &mut [u8], staging: &mut [u8], bank: &mut [u8]) -> bool {
    let old = old_bank();
    let Some(len) = make_update(&old, file) else {
        return false;
    };
    let uart = Uart {
        pending: &file[..len],
        ready: false,
    };
    let Some(received) = download(uart, staging).await else {
        return false;
    };
    let update = &staging[..received];
    let mut persisted = [0u8; CHECKPOINT_LEN];
    let mut buf = [0u8; 256]; // half for the update, half for the old bank
    let mut chunks = 0;
    let first = apply(
        SliceSource::new(update),
        SliceSource::new(&old),
        SliceSlot::new(bank),
        &mut buf,
        |checkpoint| {
            persisted = checkpoint.to_bytes();
            chunks += 1;
            // The power fails after the second chunk.
            if chunks == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .await;
    if !matches!(first, Ok(Applied::Stopped(_))) {
        return false;
    }
    // After the reset: read the checkpoint back and continue.
    let Ok(checkpoint) = Checkpoint::from_bytes(&persisted) else {
        return false;
    };
    let done = resume(
        SliceSource::new(update),
        SliceSource::new(&old),
        SliceSlot::new(bank),
        &mut buf,
        &checkpoint,
        |checkpoint| {
            persisted = checkpoint.to_bytes();
            ControlFlow::Continue(())
        },
    )
    .await;
    matches!(done, Ok(Applied::Complete { len }) if usize::try_from(len) == Ok(NEW_LEN))
        && bank.starts_with(b"IMAGE v2")
        && bank[8..1072] == old[..1064]
        && bank[1072..1096] == [0x42; 24]
        && bank[1096..NEW_LEN] == old[1064..]
}

#[cfg(not(target_os = "none"))]
fn main() {
    let mut file = [0u8; 512];
    let mut staging = [0u8; 512];
    let mut bank = [0u8; NEW_LEN];
    let ok = embassy_futures::block_on(run(&mut file, &mut staging, &mut bank));
    assert!(ok, "the rebuilt image is wrong");
    println!(
        "applied the update into the spare bank, with one reset on the way: {:02x?}…",
        &bank[..12]
    );
}

/// The bare-metal entry point: update once, then park.
#[cfg(target_os = "none")]
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let mut file = [0u8; 512];
    let mut staging = [0u8; 512];
    let mut bank = [0u8; NEW_LEN];
    let _ok = embassy_futures::block_on(run(&mut file, &mut staging, &mut bank));
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
