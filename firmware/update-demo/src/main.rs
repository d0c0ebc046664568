//! Applies an update file from one flash region to another on a Cortex-M4, as a device
//! does: the old image and the update in flash, the new slot in RAM, a 512-byte buffer.
//! The first apply stops at its second checkpoint, as a power loss would; the second
//! resumes from the checkpoint's bytes. Then the new slot's SHA-256 is checked against the
//! expected one, and the stack high-water mark of the applier is printed. Exit code 0 only
//! when the result is right (semihosting).
//!
//! ```text
//! cargo run --release   # in this directory, under qemu-system-arm -machine mps2-an386
//! ```

#![no_std]
#![no_main]

use core::ops::ControlFlow;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use sha2::{Digest, Sha256};
use splitfdstream::update::{Checkpoint, CHECKPOINT_LEN};
use splitfdstream_adapters::embedded_io::{apply, resume, Applied, SliceSlot, SliceSource};

/// The image on the device, in flash.
static OLD: &[u8] = include_bytes!("../data/old.bin");
/// The update, downloaded to a staging region of flash.
static UPDATE: &[u8] = include_bytes!("../data/update.sfdu");
/// The SHA-256 of the image the update must give, computed on the host.
static EXPECTED: &[u8; 32] = include_bytes!("../data/new.sha256");

/// The new slot.
static mut SLOT: [u8; 32 * 1024] = [0; 32 * 1024];

const PAINT: u32 = 0x5afe_c0de;
const PAINTED: usize = 8 * 1024;

/// The current stack pointer.
#[inline(always)]
fn stack_pointer() -> usize {
    cortex_m::register::msp::read() as usize
}

/// Fills the `PAINTED` bytes of stack below the caller's frame with `PAINT`.
#[inline(never)]
fn paint_stack(below: usize) {
    let bottom = below - PAINTED;
    let mut at = bottom;
    while at < below - 64 {
        // SAFETY: the words lie in RAM below every live frame (the caller's stack pointer
        // minus a margin for this function's own frame), which nothing else uses.
        unsafe { core::ptr::write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
}

/// The lowest painted word that was overwritten: how deep the stack went.
fn stack_low_water(below: usize) -> usize {
    let bottom = below - PAINTED;
    let mut at = bottom;
    // SAFETY: reads of the words `paint_stack` painted.
    while at < below && unsafe { core::ptr::read_volatile(at as *const u32) } == PAINT {
        at += 4;
    }
    at
}

fn run() -> Result<(usize, u64), &'static str> {
    // SAFETY: the only reference to SLOT, taken once, in the only thread.
    let slot: &mut [u8] = unsafe { &mut *core::ptr::addr_of_mut!(SLOT) };
    let mut buf = [0u8; 512];
    let mut persisted = [0u8; CHECKPOINT_LEN];
    let mut seen = 0;
    let top = stack_pointer();
    paint_stack(top);
    let first = apply(
        SliceSource::new(UPDATE),
        SliceSource::new(OLD),
        SliceSlot::new(slot),
        &mut buf,
        |checkpoint| {
            persisted = checkpoint.to_bytes();
            seen += 1;
            if seen == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    );
    let stack = top - stack_low_water(top);
    if !matches!(first, Ok(Applied::Stopped(_))) {
        return Err("the first apply did not stop at its checkpoint");
    }
    // Power loss: the slot after the checkpoint holds anything.
    // SAFETY: as above; the previous borrow ended with the apply.
    let slot: &mut [u8] = unsafe { &mut *core::ptr::addr_of_mut!(SLOT) };
    let checkpoint = Checkpoint::from_bytes(&persisted).map_err(|_| "bad checkpoint")?;
    let written = usize::try_from(checkpoint.target_offset).map_err(|_| "offset")?;
    for byte in slot.iter_mut().skip(written) {
        *byte = 0xff;
    }
    let done = resume(
        SliceSource::new(UPDATE),
        SliceSource::new(OLD),
        SliceSlot::new(&mut *slot),
        &mut buf,
        &checkpoint,
        |_| ControlFlow::Continue(()),
    );
    let Ok(Applied::Complete { len }) = done else {
        return Err("the resumed apply failed");
    };
    let len_usize = usize::try_from(len).map_err(|_| "length")?;
    let digest = Sha256::digest(slot.get(..len_usize).ok_or("slot too small")?);
    if digest.as_slice() != EXPECTED {
        return Err("the new slot does not have the expected SHA-256");
    }
    Ok((stack, len))
}

#[entry]
fn main() -> ! {
    match run() {
        Ok((stack, len)) => {
            hprintln!(
                "update-demo: applied {} bytes with one resume; SHA-256 matches",
                len
            );
            hprintln!("update-demo: applier stack high-water mark: {} bytes (besides the 512-byte buffer)", stack);
            debug::exit(debug::EXIT_SUCCESS);
        }
        Err(why) => {
            hprintln!("update-demo: FAIL: {}", why);
            debug::exit(debug::EXIT_FAILURE);
        }
    }
    loop {
        cortex_m::asm::bkpt();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::bkpt();
    }
}
