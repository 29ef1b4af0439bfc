//! The stack every public entry point of prunemask uses on a Cortex-M4F,
//! measured by painting: below the caller's stack pointer a known word is
//! written, the call runs, and the lowest word no longer holding it is the
//! call's deepest point (its frames and everything it calls, the
//! measuring call's own few bytes included). Runs under `qemu-system-arm
//! -M mps2-an386` (`.ci/stack.sh`), prints one line per entry point over
//! semihosting and exits non-zero if any exceeds `LIMIT` bytes (set with
//! the `small` feature to the small build's bound) or a call fails.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::ptr::{addr_of_mut, read_volatile, write_volatile};

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use prunemask::compress::{compress, Layout};
use prunemask::{
    owl_targets, Criterion, Layer, LayerPlan, LayerReport, Options, Pattern, Pruner, Scope, Shape,
    SplitRange,
};

const ROWS: usize = 32;
const COLS: usize = 64;
const N: usize = ROWS * COLS;
/// Bytes painted below the measuring frame (the stack is the top of the
/// 4 MiB RAM; the data below it is far away).
const PAINT: usize = 192 * 1024;
const PATTERN: u32 = 0x5afe_c0de;
/// The bound the run checks.
#[cfg(feature = "small")]
const LIMIT: usize = 8 * 1024;
#[cfg(not(feature = "small"))]
const LIMIT: usize = 64 * 1024;

// Inputs and outputs live in statics, not on the measured stack.
static mut WEIGHTS: [f32; N] = [0.0; N];
static mut MASK: [u8; N] = [0; N];
static mut SCORES: [f32; N] = [0.0; N];
static mut SCRATCH: [u64; 65536 + 3 * 4096 + 64] = [0; 65536 + 3 * 4096 + 64];
static mut PART: [u64; 4096] = [0; 4096];
static mut HALVES: [half::bf16; N] = [half::bf16::ZERO; N];
static mut VALUES: [f32; N / 2] = [0.0; N / 2];
static mut INDICES: [u8; N / 2] = [0; N / 2];

/// Paints, runs `f`, returns the bytes below this frame's stack pointer
/// that `f` reached.
#[inline(never)]
fn measure(f: &mut dyn FnMut() -> bool) -> (usize, bool) {
    let sp: usize;
    // SAFETY: reads the stack pointer register, nothing else.
    unsafe { core::arch::asm!("mov {}, sp", out(reg) sp) };
    let top = sp - 64;
    let bottom = sp - PAINT;
    for addr in (bottom..top).step_by(4) {
        // SAFETY: the words below the stack pointer are free stack (no
        // interrupts run here); `bottom` is inside RAM.
        unsafe { write_volatile(addr as *mut u32, PATTERN) };
    }
    let ok = f();
    let mut lowest = top;
    for addr in (bottom..top).step_by(4) {
        // SAFETY: as above, read back.
        if unsafe { read_volatile(addr as *const u32) } != PATTERN {
            lowest = addr;
            break;
        }
    }
    (sp - lowest, ok)
}

#[entry]
fn main() -> ! {
    // SAFETY: one thread, and these statics are only reached from here.
    let (weights, halves, mask, scores, scratch, part, values, indices) = unsafe {
        (
            &mut *addr_of_mut!(WEIGHTS),
            &mut *addr_of_mut!(HALVES),
            &mut *addr_of_mut!(MASK),
            &mut *addr_of_mut!(SCORES),
            &mut *addr_of_mut!(SCRATCH),
            &mut *addr_of_mut!(PART),
            &mut *addr_of_mut!(VALUES),
            &mut *addr_of_mut!(INDICES),
        )
    };
    for (i, (w, h)) in weights.iter_mut().zip(halves.iter_mut()).enumerate() {
        *w = ((i * 7919) % 257) as f32 - 128.0;
        *h = half::bf16::from_f32(*w);
    }
    let halves: &[half::bf16] = black_box(&halves[..]);
    let weights: &[f32] = black_box(&weights[..]);
    let shape = Shape::matrix(ROWS, COLS);
    let layers = [Layer::new(weights, shape)];
    let nm = Options::new(Pattern::parse("2:4").unwrap(), 0.5).criterion(Criterion::Magnitude);
    let blocks = Options::new(Pattern::parse("4x1").unwrap(), 0.5);
    let local = blocks.clone().scope(Scope::Local);
    let row = Options::new(Pattern::parse("1x1").unwrap(), 0.5).scope(Scope::Row);
    let inc = nm.clone().inc_compat();
    let mut plans = [LayerPlan::default()];
    let mut reports = [LayerReport::default()];
    let mut worst = 0usize;
    let mut failed = false;
    let mut run = |what: &str, f: &mut dyn FnMut() -> bool| {
        let (bytes, ok) = measure(f);
        hprintln!(
            "stack {:>6} bytes  {}{}",
            bytes,
            what,
            if ok { "" } else { "  FAILED" }
        );
        worst = worst.max(bytes);
        failed |= !ok;
    };
    run("Pattern::parse(\"2:4\")", &mut || {
        Pattern::parse(black_box("2:4")).is_ok()
    });
    run("Options::validate", &mut || nm.validate().is_ok());
    for (name, opts) in [
        ("2:4 global", &nm),
        ("2:4 global, INC mode", &inc),
        ("4x1 global", &blocks),
        ("4x1 local", &local),
        ("1x1 row", &row),
    ] {
        run(&alloc_free_name("Pruner::plan", name), &mut || {
            Pruner::new().plan(&layers, opts, &mut plans).is_ok()
        });
        run(&alloc_free_name("Pruner::prune", name), &mut || {
            Pruner::new()
                .prune(&layers, opts, &mut plans, &mut [&mut mask[..]])
                .is_ok()
        });
        run(
            &alloc_free_name("Pruner::plan with scratch", name),
            &mut || {
                Pruner::with_scratch(&mut scratch[..])
                    .plan(&layers, opts, &mut plans)
                    .is_ok()
            },
        );
    }
    // Every kind of pattern, on f32 and on bf16 weights.
    let bf16_layers = [Layer::new(halves, shape)];
    for name in [
        "2:4",
        "4:8",
        "1:2",
        "1x4",
        "2x2",
        "16x1",
        "channelx1",
        "1xchannel",
    ] {
        let opts = Options::new(Pattern::parse(name).unwrap(), 0.5);
        for (dtype, layers) in [("f32", &layers), ("bf16", &bf16_layers)] {
            let case = alloc_free_name(name, dtype);
            run(&alloc_free_name("Pruner::prune", &case), &mut || {
                Pruner::new()
                    .prune(layers, &opts, &mut plans, &mut [&mut mask[..]])
                    .is_ok()
            });
        }
    }
    let _ = Pruner::new().plan(&layers, &nm, &mut plans);
    run("Pruner::write_mask (2:4)", &mut || {
        Pruner::new()
            .write_mask(&layers[0], &nm, &plans[0], &mut mask[..])
            .is_ok()
    });
    run("Pruner::unit_scores (4x1)", &mut || {
        Pruner::new()
            .unit_scores(&layers[0], &blocks, &mut scores[..N / 4])
            .is_ok()
    });
    run("Pruner::lock (2:4)", &mut || {
        Pruner::new()
            .lock(&layers, &nm.pattern, &mut reports, &mut [&mut mask[..]])
            .is_ok()
    });
    run("Pruner::mask_sparsity (2:4)", &mut || {
        Pruner::new()
            .mask_sparsity(&nm.pattern, &[shape], &[&mask[..]])
            .is_ok()
    });
    run("Pruner::score_mass", &mut || {
        Pruner::new()
            .score_mass(&layers[0], Criterion::Magnitude, &mask[..])
            .is_ok()
    });
    run("Pruner::outliers", &mut || {
        Pruner::new()
            .outliers(&layers, Criterion::Magnitude, 5.0)
            .is_ok()
    });
    run("owl_targets", &mut || {
        let mut out = [0.0f64; 4];
        owl_targets(black_box(&[0.01, 0.02, 0.015, 0.03]), 0.5, 0.08, &mut out).is_ok()
    });
    // A 2:4 mask to compress by.
    let _ = Pruner::new().prune(&layers, &nm, &mut plans, &mut [&mut mask[..]]);
    run("compress (2:4)", &mut || {
        let layout = Layout::new(ROWS, COLS, 2, 4);
        layout.is_ok_and(|l| {
            compress(&l, weights, &mask[..], &mut values[..], &mut indices[..]).is_ok()
        })
    });
    run("split_range + gather_part + plan_split (4x1)", &mut || {
        let mut pruner = Pruner::with_scratch(&mut scratch[..]);
        let Ok(Some(range)) = pruner.split_range(&layers, &blocks) else {
            return false;
        };
        let words = part.len().min(SplitRange::part_words(1, N as u64) + 64);
        let Ok(Some(used)) = pruner.gather_part(&layers, 0, &blocks, &range, &mut part[..words])
        else {
            return false;
        };
        pruner
            .plan_split(&layers, &blocks, &range, &[&part[..used]], &mut plans)
            .is_ok()
    });
    for (name, opts) in [("2:4, INC mode", &inc), ("4x1", &blocks)] {
        let what = alloc_free_name("gather_part_masked + plan_split + settle_part", name);
        run(&what, &mut || {
            let mut pruner = Pruner::with_scratch(&mut scratch[..]);
            let Ok(Some(range)) = pruner.split_range(&layers, opts) else {
                return false;
            };
            let words = part.len().min(SplitRange::part_words(1, N as u64) + 64);
            let part = &mut part[..words];
            let masks = &mut [&mut mask[..]];
            let Ok(Some(used)) = pruner.gather_part_masked(&layers, 0, opts, &range, part, masks)
            else {
                return false;
            };
            let part = &part[..used];
            pruner
                .plan_split(&layers, opts, &range, &[part], &mut plans)
                .is_ok()
                && pruner
                    .settle_part(&layers, 0, opts, &range, part, &plans, masks)
                    .is_ok()
        });
    }
    hprintln!("worst {} bytes (bound {} bytes)", worst, LIMIT);
    let pass = !failed && worst <= LIMIT;
    debug::exit(if pass {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        core::hint::spin_loop();
    }
}

/// `what (case)` in a fixed buffer: no allocator here.
fn alloc_free_name(what: &str, case: &str) -> Name {
    let mut name = Name {
        buf: [0; 96],
        len: 0,
    };
    for part in [what, " (", case, ")"] {
        for &b in part.as_bytes() {
            if name.len < name.buf.len() {
                name.buf[name.len] = b;
                name.len += 1;
            }
        }
    }
    name
}

struct Name {
    buf: [u8; 96],
    len: usize,
}

impl core::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        core::hint::spin_loop();
    }
}
