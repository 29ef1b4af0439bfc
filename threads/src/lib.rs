//! prunemask on every core. The library is `no_std` and runs no threads;
//! its split selection (`Pruner::split_range`, `gather_part`,
//! `plan_split`) is what lets a global selection run on several. This
//! crate runs it on scoped threads, for the command-line tool and the
//! Python package alike:
//!
//! - [`plan`]: the plan `Pruner::plan` makes, bit for bit, with the
//!   scoring pass split over threads by layers.
//! - [`write_masks`]: every layer's mask from its plan, the layers shared
//!   out over threads.
//! - [`prune`]: both, with one scoring pass (the gathers write the masks,
//!   a pass over the masks settles them).
//!
//! ```
//! use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape};
//! let ws: Vec<Vec<f32>> = (0..6)
//!     .map(|l| (0..4096).map(|i| ((i * 37 + l * 11) % 997) as f32).collect())
//!     .collect();
//! let layers: Vec<Layer<'_>> = ws.iter().map(|w| Layer::new(&w[..], Shape::matrix(64, 64))).collect();
//! let opts = Options::new(Pattern::parse("4x1").unwrap(), 0.6);
//! let mut scratch = vec![0u64; Pruner::scratch_words(6 * 1024)];
//! let mut threaded = vec![LayerPlan::default(); 6];
//! let summary = prunemask_threads::plan(&mut Pruner::with_scratch(&mut scratch), &layers, &opts, 3, &mut threaded).unwrap();
//! let mut one = vec![LayerPlan::default(); 6];
//! assert_eq!(summary, Pruner::new().plan(&layers, &opts, &mut one).unwrap());
//! assert_eq!(threaded, one);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use prunemask::{
    Error, ErrorKind, Layer, LayerPlan, MaskValue, Options, Pruner, SplitRange, Summary,
};

/// [`Pruner::plan`] with its scoring pass on up to `threads` threads: the
/// layers cut into runs of about equal elements, each gathered on its own
/// thread ([`Pruner::gather_part`]), the parts merged in order
/// ([`Pruner::plan_split`]): the same plans and summary as `plan`, bit for
/// bit. In one call (on this thread) where the selection does not split
/// (local or row scope, a scratch without room, nothing to prune), on one
/// thread, or when a part's candidates outgrow its words.
///
/// Each thread holds its part's words (about 1/64 of its units' count).
///
/// # Errors
///
/// Those of [`Pruner::plan`], the first layer's first, as one pass
/// reports them.
pub fn plan(
    pruner: &mut Pruner<'_>,
    layers: &[Layer<'_>],
    opts: &Options,
    threads: usize,
    plans: &mut [LayerPlan],
) -> Result<Summary, Error> {
    // One call where it does not split, or the plans are not one per
    // layer (plan's own error, in its own order).
    if threads <= 1 || layers.len() <= 1 || plans.len() != layers.len() {
        return pruner.plan(layers, opts, plans);
    }
    let Some(range) = pruner.split_range(layers, opts)? else {
        return pruner.plan(layers, opts, plans);
    };
    let runs = runs_of(layers.iter().map(|l| l.scores.len() as u64), threads);
    let shared = &*pruner;
    let parts = on_threads(runs.windows(2), |w| {
        let (first, part) = (w[0], &layers[w[0]..w[1]]);
        part_words(part, |out| {
            shared.gather_part(part, first, opts, &range, out)
        })
    });
    // The first part's error is the first layer's, as one pass reports it.
    let mut words = Vec::with_capacity(parts.len());
    for part in parts {
        match part? {
            Some(w) => words.push(w),
            None => return pruner.plan(layers, opts, plans),
        }
    }
    let words: Vec<&[u64]> = words.iter().map(|w| &w[..]).collect();
    pruner.plan_split(layers, opts, &range, &words, plans)
}

/// Every layer's mask from its plan ([`Pruner::write_mask`], `u8` or
/// `f32`), the layers shared out over up to `threads` threads, largest
/// first (masks are independent: the result does not depend on the
/// split).
///
/// # Errors
///
/// The first failing layer's (by index: every layer is tried, so it does
/// not depend on `threads`), as `(Some(layer), error)`; `(None,
/// LayerCount)` for `plans` or `masks` not one per layer. A failing
/// layer's mask is untouched ([`Pruner::write_mask`] checks before it
/// writes); the other layers' masks are written.
pub fn write_masks<M: MaskValue + Send>(
    pruner: &Pruner<'_>,
    layers: &[Layer<'_>],
    opts: &Options,
    plans: &[LayerPlan],
    masks: Vec<&mut [M]>,
    threads: usize,
) -> Result<(), (Option<usize>, Error)> {
    for (what, got) in [("plans", plans.len()), ("masks", masks.len())] {
        if got != layers.len() {
            let expected = layers.len();
            return Err((
                None,
                ErrorKind::LayerCount {
                    what,
                    expected,
                    got,
                }
                .into(),
            ));
        }
    }
    let threads = threads.clamp(1, masks.len().max(1));
    let mut jobs: Vec<(usize, &mut [M])> = masks.into_iter().enumerate().collect();
    jobs.sort_by_key(|(i, m)| (std::cmp::Reverse(m.len()), *i));
    let mut buckets: Vec<Vec<(usize, &mut [M])>> = (0..threads).map(|_| Vec::new()).collect();
    let mut load = vec![0usize; threads];
    for job in jobs {
        let t = (0..threads).min_by_key(|&t| load[t]).unwrap_or(0);
        load[t] += job.1.len();
        buckets[t].push(job);
    }
    let level = pruner.current_level();
    let results = on_threads(buckets, |bucket| {
        // Every layer is tried, so the first failing one is the same
        // whatever the split.
        let pruner = Pruner::new().level(level);
        let mut first: Result<(), (usize, Error)> = Ok(());
        for (i, mask) in bucket {
            if let Err(e) = pruner.write_mask(&layers[i], opts, &plans[i], mask) {
                if first.as_ref().err().is_none_or(|(j, _)| i < *j) {
                    first = Err((i, e));
                }
            }
        }
        first
    });
    match results
        .into_iter()
        .filter_map(Result::err)
        .min_by_key(|(i, _)| *i)
    {
        Some((i, e)) => Err((Some(i), e)),
        None => Ok(()),
    }
}

/// [`plan`] then [`write_masks`] on up to `threads` threads, with one
/// scoring pass:
/// the layers cut into runs of about equal elements, each run's part
/// gathered with its masks on its own thread
/// ([`Pruner::gather_part_masked`]), the parts merged
/// ([`Pruner::plan_split`]), then each run's masks settled on its thread
/// ([`Pruner::settle_part`]). The plans, summary and masks of
/// [`plan`] and [`write_masks`], bit for bit (`u8` or `f32` masks), which
/// it falls back to where the selection does not split or a part's
/// candidates outgrow its words.
///
/// # Errors
///
/// Those of [`plan`], then those of [`write_masks`] (lists and mask
/// lengths are checked first, so the error does not depend on `threads`),
/// naming the layer. **The masks are outputs only**: on an error found
/// while the gathers write (a NaN score), they hold unspecified marks.
/// Pass fresh buffers; [`plan`] and [`write_masks`] leave them untouched.
pub fn prune<M: MaskValue + Send>(
    pruner: &mut Pruner<'_>,
    layers: &[Layer<'_>],
    opts: &Options,
    threads: usize,
    plans: &mut [LayerPlan],
    mut masks: Vec<&mut [M]>,
) -> Result<Summary, Error> {
    let two_pass = |pruner: &mut Pruner<'_>, plans: &mut [LayerPlan], masks: Vec<&mut [M]>| {
        let summary = plan(pruner, layers, opts, threads, plans)?;
        write_masks(pruner, layers, opts, plans, masks, threads).map_err(
            |(layer, e)| match layer {
                Some(i) => e.at_layer(i),
                None => e,
            },
        )?;
        Ok(summary)
    };
    // Lists and lengths checked before any mask is written, as
    // `write_masks` checks them: its errors, whatever `threads`.
    let lengths = (layers.iter().zip(&masks)).any(|(l, m)| m.len() != l.scores.len());
    if plans.len() != layers.len() || masks.len() != layers.len() || lengths {
        return two_pass(pruner, plans, masks);
    }
    let Some(range) = pruner.split_range(layers, opts)? else {
        return two_pass(pruner, plans, masks);
    };
    let runs = runs_of(layers.iter().map(|l| l.scores.len() as u64), threads);
    // Each run's masks, in order.
    let mut runs_masks: Vec<Vec<&mut [M]>> = Vec::new();
    for w in runs.windows(2).rev() {
        runs_masks.push(masks.split_off(w[0]));
    }
    runs_masks.reverse();
    let shared = &*pruner;
    let parts = on_threads(runs.windows(2).zip(runs_masks.iter_mut()), |(w, masks)| {
        let (first, part) = (w[0], &layers[w[0]..w[1]]);
        part_words(part, |out| {
            shared.gather_part_masked(part, first, opts, &range, out, masks)
        })
    });
    let mut words = Vec::with_capacity(parts.len());
    for part in parts {
        match part? {
            Some(w) => words.push(w),
            None => return two_pass(pruner, plans, runs_masks.into_iter().flatten().collect()),
        }
    }
    let parts: Vec<&[u64]> = words.iter().map(|w| &w[..]).collect();
    let summary = pruner.plan_split(layers, opts, &range, &parts, plans)?;
    let (shared, plans) = (&*pruner, &*plans);
    let jobs = runs.windows(2).zip(runs_masks.iter_mut()).zip(&parts);
    let settled = on_threads(jobs, |((w, masks), part)| {
        let (a, b) = (w[0], w[1]);
        shared.settle_part(&layers[a..b], a, opts, &range, part, &plans[a..b], masks)
    });
    settled.into_iter().collect::<Result<(), Error>>()?;
    Ok(summary)
}

/// `f` of every job, each on its own scoped thread, the results in the
/// jobs' order; a thread's panic goes on on this one.
fn on_threads<J: Send, T: Send>(
    jobs: impl IntoIterator<Item = J>,
    f: impl Fn(J) -> T + Sync,
) -> Vec<T> {
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|job| s.spawn(move || f(job)))
            .collect();
        (handles.into_iter())
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// A part's words, as `gather` (`gather_part` or `gather_part_masked`)
/// leaves them in a buffer sized for `part`: `None` if they outgrow it.
fn part_words(
    part: &[Layer<'_>],
    gather: impl FnOnce(&mut [u64]) -> Result<Option<usize>, Error>,
) -> Result<Option<Vec<u64>>, Error> {
    let elements: u64 = part.iter().map(|l| l.scores.len() as u64).sum();
    let mut out = vec![0u64; SplitRange::part_words(part.len(), elements)];
    let used = gather(&mut out)?;
    Ok(used.map(|n| {
        out.truncate(n);
        out
    }))
}

/// Cuts a list of layers of these element counts into at most `threads`
/// contiguous runs of about equal elements: the run boundaries, from 0 to
/// the end.
pub fn runs_of(elements: impl ExactSizeIterator<Item = u64> + Clone, threads: usize) -> Vec<usize> {
    let len = elements.len();
    // More threads than layers cut nothing more (and keep the products
    // below in range).
    let threads = threads.clamp(1, len.max(1)) as u64;
    let total: u64 = elements.clone().sum();
    let mut cuts = vec![0];
    let mut seen = 0u64;
    for (i, e) in elements.enumerate() {
        seen += e;
        let k = cuts.len() as u64;
        if k < threads
            && u128::from(seen) * u128::from(threads) >= u128::from(total) * u128::from(k)
            && i + 1 < len
        {
            cuts.push(i + 1);
        }
    }
    cuts.push(len);
    cuts.dedup();
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_the_layers_in_order() {
        assert_eq!(runs_of([4u64, 4, 4, 4].into_iter(), 2), [0, 2, 4]);
        assert_eq!(runs_of([10u64, 1, 1].into_iter(), 3), [0, 1, 2, 3]);
        assert_eq!(runs_of([1u64].into_iter(), 4), [0, 1]);
        assert_eq!(runs_of([0u64; 0].into_iter(), 4), [0]);
        assert_eq!(runs_of([1u64, 1, 1, 1, 1, 1].into_iter(), 3), [0, 2, 4, 6]);
        assert_eq!(
            runs_of([u64::MAX / 2, u64::MAX / 2].into_iter(), usize::MAX),
            [0, 1, 2]
        );
    }
}
