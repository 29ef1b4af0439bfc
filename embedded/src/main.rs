//! prunemask on a microcontroller: no std, no allocator. Prunes a small
//! layer with 2:4 and 4x1 (patterns from `Pattern::parse`, which links
//! every kernel), re-locks its mask and measures sparsity. Built by
//! `.ci/run`, which prints its `.text`.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use panic_halt as _;
use prunemask::Pattern;

#[entry]
fn main() -> ! {
    let mut pruned = 0;
    for name in ["2:4", "4x1"] {
        if let Ok(pattern) = Pattern::parse(black_box(name)) {
            pruned += prunemask_bare_metal::exercise(pattern);
        }
    }
    black_box(pruned);
    loop {
        core::hint::spin_loop();
    }
}
