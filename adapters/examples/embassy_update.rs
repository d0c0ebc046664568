//! A firmware updater in the Embassy style: a new image arrives over a UART as a
//! splitfdstream whose external chunks name regions of the flash already on the device, and
//! is rebuilt into the spare flash bank with no allocation, through async I/O.
//!
//! In firmware, `update` is the body of an `#[embassy_executor::task]`, the UART is
//! `embassy_stm32::usart::Uart` (or any `embedded_io_async::Read`), the regions are reads of
//! internal flash (any `embedded_io_async::Read + Seek`) and the bank is a flash writer. Here
//! the same code runs over memory: on the host with `embassy_futures::block_on` and a check
//! of the result, and on bare metal as a `no_std`, `no_main` program that links:
//!
//! ```text
//! cargo run -p splitfdstream-adapters --example embassy_update --features async
//! cargo build -p splitfdstream-adapters --example embassy_update --features async \
//!     --target thumbv7em-none-eabihf
//! ```
#![cfg_attr(target_os = "none", no_std, no_main)]

use embedded_io_async_07::{ErrorKind, ErrorType, Read};
use splitfdstream_adapters::asynch::{reconstruct, Writer};
use splitfdstream_adapters::embedded_io::{ReconstructError, SliceSource, SourceTable};

/// What the device already has: a bootloader and two application sections.
static BOOTLOADER: [u8; 64] = [0xb0; 64];
static APP_TEXT: [u8; 1000] = [0x7e; 1000];
static APP_DATA: [u8; 300] = [0xda; 300];

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

/// Builds the update stream the server would send: a new header, the bootloader as is,
/// a patched application text made of the old one around new bytes, the old data.
async fn make_stream(stream: &mut [u8]) -> Option<usize> {
    let mut writer = Writer::new(&mut *stream);
    writer.write_inline(b"IMAGE v2").await.ok()?;
    writer.write_external(0).await.ok()?;
    writer.write_external(1).await.ok()?;
    writer.write_inline(&[0x42; 24]).await.ok()?;
    writer.write_external(2).await.ok()?;
    usize::try_from(writer.position()).ok()
}

/// Rebuilds the image from `uart` into `bank`; returns its length.
async fn update(uart: Uart<'_>, bank: &mut [u8]) -> Result<u64, ReconstructError> {
    let mut regions: SourceTable<SliceSource<'static>, 4> = SourceTable::new();
    for region in [&BOOTLOADER[..], &APP_TEXT[..], &APP_DATA[..]] {
        let len = u64::try_from(region.len()).unwrap_or(u64::MAX);
        // The table has room for four; a full table would be an error, not a panic.
        let _ = regions.push_with_len(SliceSource::new(region), len);
    }
    let mut buf = [0u8; 256]; // half for the UART, half for copying flash
                              // Flushes the bank at the end.
    reconstruct(uart, &mut regions, bank, &mut buf).await
}

/// The whole program: receive, rebuild, check; `true` when the new bank is right.
async fn run(stream: &mut [u8], bank: &mut [u8]) -> bool {
    let Some(len) = make_stream(stream).await else {
        return false;
    };
    let uart = Uart {
        pending: &stream[..len],
        ready: false,
    };
    let Ok(written) = update(uart, bank).await else {
        return false;
    };
    let expected_len = 8 + BOOTLOADER.len() + APP_TEXT.len() + 24 + APP_DATA.len();
    written == u64::try_from(expected_len).unwrap_or(0)
        && bank.starts_with(b"IMAGE v2")
        && bank[8..72] == BOOTLOADER
        && bank[72..1072] == APP_TEXT
        && bank[1072..1096] == [0x42; 24]
        && bank[1096..expected_len] == APP_DATA
}

#[cfg(not(target_os = "none"))]
fn main() {
    let mut stream = [0u8; 128];
    let mut bank = [0u8; 2048];
    let ok = embassy_futures::block_on(run(&mut stream, &mut bank));
    assert!(ok, "the rebuilt image is wrong");
    println!(
        "rebuilt the new image into the spare bank: {:02x?}…",
        &bank[..12]
    );
}

/// The bare-metal entry point: rebuild once, then park.
#[cfg(target_os = "none")]
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let mut stream = [0u8; 128];
    let mut bank = [0u8; 2048];
    let _ok = embassy_futures::block_on(run(&mut stream, &mut bank));
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
