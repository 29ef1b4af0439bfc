//! A program that names only 2:4, through a kernel set it builds itself
//! (`Pattern::new` over `KernelSet::n_in_m::<2, 4>()`) instead of
//! `Pattern::parse`, which resolves any name and so links every pattern's
//! kernels. The same calls as `main.rs`; `.ci/run` prints its `.text`
//! beside the other's.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use panic_halt as _;
use prunemask::ext::KernelSet;
use prunemask::Pattern;

/// The only kernels this program links.
const TWO_FOUR: KernelSet = KernelSet::n_in_m::<2, 4>();

#[entry]
fn main() -> ! {
    if let Ok(pattern) = Pattern::new("2:4", black_box(TWO_FOUR)) {
        black_box(prunemask_bare_metal::exercise(pattern));
    }
    loop {
        core::hint::spin_loop();
    }
}
