//! The device-side applier on host files: `device_apply UPDATE OLD NEW` applies UPDATE to
//! OLD as a device does (the `no_std` `embedded_io::apply` over memory slots, a 512-byte
//! buffer), stops at the middle checkpoint, resumes from its bytes, and writes the target
//! to NEW. CI compares NEW with what the host `apply` gives.
//!
//! ```text
//! cargo run -p splitfdstream-adapters --features update --example device_apply -- UPDATE OLD NEW
//! ```

use std::io::Read;
use std::ops::ControlFlow;
use std::process::ExitCode;

use splitfdstream::update::{Checkpoint, CHECKPOINT_LEN};
use splitfdstream_adapters::embedded_io::{apply, resume, Applied, SliceSlot, SliceSource};
use splitfdstream_adapters::std::update::{open_update, Image};

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let [_, update, old, new] = args else {
        return Err("usage: device_apply UPDATE OLD NEW".into());
    };
    let mut file = Vec::new();
    open_update(update.as_ref())?.read_to_end(&mut file)?;
    let mut old_bytes = Vec::new();
    Image::open(old.as_ref())?.read_to_end(&mut old_bytes)?;
    let header = splitfdstream::update::Header::from_bytes(
        file.get(..56).ok_or("update too short")?.try_into()?,
    )?;
    let mut slot = vec![0u8; usize::try_from(header.target_len)?];
    let mut buf = [0u8; 512];
    // First pass: count the checkpoints, to stop at the middle one.
    let mut count = 0u64;
    apply(
        SliceSource::new(&file),
        SliceSource::new(&old_bytes),
        SliceSlot::new(&mut slot),
        &mut buf,
        |_| {
            count += 1;
            ControlFlow::Continue(())
        },
    )?;
    slot.fill(0);
    let mut persisted = [0u8; CHECKPOINT_LEN];
    let mut seen = 0u64;
    let first = apply(
        SliceSource::new(&file),
        SliceSource::new(&old_bytes),
        SliceSlot::new(&mut slot),
        &mut buf,
        |checkpoint| {
            seen += 1;
            persisted = checkpoint.to_bytes();
            if seen == count / 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )?;
    if let Applied::Stopped(_) = first {
        let checkpoint = Checkpoint::from_bytes(&persisted)?;
        let done = resume(
            SliceSource::new(&file),
            SliceSource::new(&old_bytes),
            SliceSlot::new(&mut slot),
            &mut buf,
            &checkpoint,
            |_| ControlFlow::Continue(()),
        )?;
        if !matches!(done, Applied::Complete { .. }) {
            return Err("the resumed apply did not complete".into());
        }
        println!("device apply: stopped at checkpoint {seen} of {count}, resumed, target checked");
    }
    std::fs::write(new, &slot)?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
