//! The library never allocates: every core call runs under a global
//! allocator that counts allocations while armed, and the run fails if any
//! happened. A plain `main` (harness = false) so no test-runner thread
//! allocates while the allocator is armed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use half::{bf16, f16};
use prunemask::compress;
use prunemask::ext::Registry;
use prunemask::{
    CapMode, Criterion, Layer, LayerPlan, LayerReport, Level, Options, Pattern, Pruner, Reduce,
    Scope, Shape, Ties,
};

struct Counting;

static ARMED: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; it only
// counts calls made while armed.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.load(Ordering::SeqCst) {
            ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` armed and returns how many allocations it made.
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    ALLOCATIONS.load(Ordering::SeqCst)
}

fn main() {
    // The counter itself works: a real allocation is seen.
    let seen = allocations(|| {
        std::hint::black_box(Vec::<u8>::with_capacity(8));
    });
    assert!(seen > 0, "the counting allocator missed an allocation");
    let a: Vec<f32> = (0..64 * 48)
        .map(|i| ((i * 7919) % 1000) as f32 - 300.0)
        .collect();
    let b: Vec<f16> = (0..32 * 64)
        .map(|i| f16::from_f32(((i * 31) % 97) as f32))
        .collect();
    let c: Vec<bf16> = (0..16 * 8 * 3 * 3)
        .map(|i| bf16::from_f32(((i * 13) % 50) as f32))
        .collect();
    let odd: Vec<f32> = (0..6 * 10).map(|i| i as f32).collect();
    let layers = [
        Layer::new(&a[..], Shape::matrix(64, 48)),
        Layer::new(&b[..], Shape::matrix(32, 64)),
        Layer::new(&c[..], Shape::conv(16, 8, 3, 3)),
        Layer::new(&odd[..], Shape::matrix(6, 10)),
    ];
    let mut nan = a.clone();
    nan[100] = f32::NAN;
    let bad = [Layer::new(&nan[..], Shape::matrix(64, 48))];
    let mut m0 = vec![0u8; a.len()];
    let mut m1 = vec![0u8; b.len()];
    let mut m2 = vec![0u8; c.len()];
    let mut m3 = vec![0u8; odd.len()];
    let shapes: Vec<Shape> = layers.iter().map(|l| l.shape).collect();
    let mut plans = vec![LayerPlan::default(); layers.len()];
    let mut reports = vec![LayerReport::default(); layers.len()];
    let mut scores = vec![0.0f32; a.len()];
    // Scratch is the caller's: allocated before the allocator is armed.
    let mut scratch = vec![0u64; Pruner::scratch_words((a.len() + b.len() + c.len()) as u64)];
    let mut passed = 0;
    let mut failed = 0;
    for name in [
        "2:4",
        "4:8",
        "7:16",
        "4x1",
        "1x4",
        "2x2",
        "3x2",
        "channelx1",
        "1xchannel",
        "1x1",
    ] {
        // Building options (parsing the name) is part of the core too.
        let mut opts = None;
        let mut n = allocations(|| {
            opts = Some(
                Options::new(Pattern::parse(name).unwrap(), 0.4)
                    .max_sparsity_ratio_per_op(0.6)
                    .min_sparsity_ratio_per_op(0.1),
            );
        });
        let opts = opts.unwrap();
        // Layer 0's unit count, planned unarmed.
        Pruner::new().plan(&layers, &opts, &mut plans).unwrap();
        let (units, fits) = (
            plans[0].report().units as usize,
            !matches!(plans[0].report().status, prunemask::Status::Skipped(_)),
        );
        for scope in [Scope::Global, Scope::Local] {
            for ties in [Ties::Exact, Ties::Inclusive] {
                for cap in [CapMode::Redistribute, CapMode::Seed] {
                    let o = opts.clone().scope(scope).ties(ties).cap(cap);
                    n += allocations(|| {
                        let mut pruner = Pruner::new();
                        let mut masks = [&mut m0[..], &mut m1[..], &mut m2[..], &mut m3[..]];
                        pruner.prune(&layers, &o, &mut plans, &mut masks).unwrap();
                        pruner.plan(&layers, &o, &mut plans).unwrap();
                        pruner
                            .write_mask(&layers[0], &o, &plans[0], &mut m0)
                            .unwrap();
                        let masks: [&[u8]; 4] = [&m0, &m1, &m2, &m3];
                        pruner.mask_sparsity(&o.pattern, &shapes, &masks).unwrap();
                        // Errors are built without allocating too.
                        let err = pruner.plan(&bad, &o, &mut plans[..1]).unwrap_err();
                        assert_eq!(err.layer(), Some(0));
                        // With scratch, and at a forced level.
                        let mut fast = Pruner::with_scratch(&mut scratch).level(Level::Scalar);
                        fast.plan(&layers, &o, &mut plans).unwrap();
                        let mut masks = [&mut m0[..], &mut m1[..], &mut m2[..], &mut m3[..]];
                        fast.prune(&layers, &o, &mut plans, &mut masks).unwrap();
                    });
                }
            }
        }
        n += allocations(|| {
            let pruner = Pruner::new();
            let mut masks = [&mut m0[..], &mut m1[..], &mut m2[..], &mut m3[..]];
            pruner
                .lock(&layers, &opts.pattern, &mut reports, &mut masks)
                .unwrap();
            let r = Registry::new();
            assert!(r.lookup("nope").is_err());
            // Unit scores of one layer (or, where the pattern does not fit,
            // the NotFitting error).
            let r = pruner.unit_scores(&layers[0], &opts, &mut scores[..units]);
            assert_eq!(r.is_ok(), fits, "{r:?}");
            // Option words parse without allocating, a bad one included.
            assert_eq!("inclusive".parse::<Ties>().unwrap(), Ties::Inclusive);
            assert!("median".parse::<Reduce>().is_err());
            assert!("topk".parse::<Criterion>().is_err());
        });
        if n == 0 {
            passed += 1;
            println!("no allocation: {name}");
        } else {
            failed += 1;
            println!("FAILED: {name}: {n} allocations");
        }
    }
    // Compressed N:M, every function, Ok and Err (error text included):
    // buffers allocated before the allocator is armed.
    let l = compress::Layout::new(32, 64, 2, 4).unwrap();
    let nm: Vec<u8> = (0..b.len()).map(|i| (i % 4 < 2) as u8).collect();
    let mut values = vec![f16::ZERO; l.values_len()];
    let mut indices = vec![0u8; l.values_len()];
    let mut bitmask = vec![0u8; l.bitmask_len()];
    let mut dense = vec![f16::ZERO; l.elements()];
    let dense_mask = vec![1u8; b.len()]; // no zeros: not 2:4
    let mut sink = String::with_capacity(256);
    let n = allocations(|| {
        compress::compress(&l, &b, &nm, &mut values, &mut indices).unwrap();
        compress::decompress(&l, &values, &indices, &mut dense).unwrap();
        compress::pack_bitmask(&l, &b, &nm, &mut values, &mut bitmask).unwrap();
        compress::unpack_bitmask(&l, &values, &bitmask, &mut dense).unwrap();
        let e = compress::compress(&l, &b, &dense_mask, &mut values, &mut indices).unwrap_err();
        use std::fmt::Write;
        write!(sink, "{e}").unwrap();
        assert!(compress::Layout::new(4, 6, 2, 4).is_err());
    });
    assert!(sink.contains("group"), "{sink}");
    if n == 0 {
        passed += 1;
        println!("no allocation: compress");
    } else {
        failed += 1;
        println!("FAILED: compress: {n} allocations");
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
