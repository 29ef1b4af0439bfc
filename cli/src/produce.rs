//! The masks and the outputs, tensor by tensor.
//!
//! - Pruned tensors, after the selection, on a few threads: a thread takes
//!   the next tensor (last first), writes its mask into a buffer it reuses
//!   (`Pruner::write_mask`, or `Pruner::lock`; one `Pruner` shared by every
//!   thread), then writes the mask and the pruned weights at the tensor's
//!   places in the outputs, in pieces of a few MiB. Memory: one mask buffer per thread (the largest pruned
//!   tensor's element count) and one piece buffer. Models of up to
//!   [`crate::select::MADE_ELEMENTS`] pruned elements have their masks
//!   made by the selection's own pass instead (one scoring pass); the
//!   threads then only measure and write them.
//! - Every mask is measured as it is made: the score mass it keeps
//!   (`Pruner::score_mass`), so masks are made even when nothing is written.
//! - Dense tensors, and a model directory's other files, are copied to
//!   `--output` as they are, on a thread of their own while the selection
//!   runs (they do not depend on it).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use prunemask::{
    Criterion, Layer, LayerPlan, LayerReport, Level, Options, Pattern, Pruner, ScoreMass,
};

use crate::checkpoint::Checkpoint;
use crate::progress::Progress;
use crate::write::Outputs;

/// Bytes written per call, and between progress updates.
const PIECE: usize = 4 << 20;

/// How masks come about.
pub enum Masking<'a> {
    /// From a plan over all layers (`Pruner::plan`).
    Planned {
        opts: &'a Options,
        plans: &'a [LayerPlan],
    },
    /// Made in the selection's own pass (`prunemask_threads::prune`): each
    /// layer's mask, with its plan.
    Made {
        plans: &'a [LayerPlan],
        masks: &'a crate::select::MaskArena,
    },
    /// Pattern lock, each layer on its own.
    Lock(&'a Pattern),
}

/// One layer's mask, as made: its report and the score mass it keeps.
#[derive(Clone, Copy, Debug, Default)]
pub struct Masked {
    pub report: LayerReport,
    pub mass: ScoreMass,
}

pub struct Work<'a> {
    ckpt: &'a Checkpoint,
    layers: &'a [Layer<'a>],
    /// For each tensor of the checkpoint, its index in `layers`.
    layer_of: &'a [Option<usize>],
    outputs: &'a Outputs,
    progress: &'a Progress,
    /// Writes the masks (`&self` methods: the threads share it).
    pruner: Pruner<'static>,
    /// Set by the first thread that fails: the others stop.
    failed: AtomicBool,
}

impl<'a> Work<'a> {
    pub fn new(
        ckpt: &'a Checkpoint,
        layers: &'a [Layer<'a>],
        layer_of: &'a [Option<usize>],
        outputs: &'a Outputs,
        progress: &'a Progress,
        level: Level,
    ) -> Self {
        Work {
            ckpt,
            layers,
            layer_of,
            outputs,
            progress,
            pruner: Pruner::new().level(level),
            failed: AtomicBool::new(false),
        }
    }

    /// Stops the threads at their next tensor (after another part failed).
    pub fn stop(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    /// The tensors kept dense.
    fn dense(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.layer_of.len()).filter(|&t| self.layer_of[t].is_none())
    }

    /// Copies the dense tensors, and a model directory's other files, to
    /// `--output`, if it is asked for, on the calling thread. They do not
    /// depend on the masks, so this can run while the selection does.
    pub fn copy_dense(&self) -> Result<(), String> {
        let Some(weights) = &self.outputs.weights else {
            return Ok(());
        };
        let stop = || self.failed.load(Ordering::Relaxed);
        weights
            .copy_others(self.ckpt, &stop)
            .inspect_err(|_| self.stop())?;
        for t in self.dense() {
            if self.failed.load(Ordering::Relaxed) {
                break;
            }
            let raw = self.ckpt.bytes(t);
            for range in pieces(raw.len()) {
                weights
                    .write(t, range.start, &raw[range], &self.ckpt.tensors[t].name)
                    .inspect_err(|_| self.stop())?;
            }
            self.progress.inc(raw.len() as u64);
        }
        Ok(())
    }

    /// Every layer's mask and outputs, on `threads` threads; returns each
    /// layer's report as its mask was written, and the mass it keeps.
    pub fn masks(
        &self,
        threads: usize,
        masking: &Masking<'_>,
        criterion: Criterion,
    ) -> Result<Vec<Masked>, String> {
        let bytes = |t: usize| self.ckpt.tensors[t].range.len() as u64;
        // Last layer first: the selection's passes end on the last layers,
        // so they are the ones still in the page cache when the checkpoint
        // is larger than it (each tensor is written at its own place, so
        // the order is free).
        let ids: Vec<usize> = (0..self.layer_of.len())
            .rev()
            .filter(|&t| self.layer_of[t].is_some())
            .collect();
        // The bar also counts dense tensors copied meanwhile.
        let dense: u64 = match self.outputs.weights {
            Some(_) => self.dense().map(bytes).sum(),
            None => 0,
        };
        let message = if self.outputs.is_empty() {
            "masks"
        } else {
            "writing"
        };
        self.progress
            .bytes(message, dense + ids.iter().map(|&t| bytes(t)).sum::<u64>());
        let threads = threads.max(1);
        for &t in ids.iter().take(threads) {
            self.ckpt.prefetch(t);
        }
        let next = AtomicUsize::new(0);
        let results: Vec<_> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| s.spawn(|| self.worker(&ids, threads, &next, masking, criterion)))
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err("a worker thread panicked".into()))
                })
                .collect()
        });
        let mut reports = vec![Masked::default(); self.layers.len()];
        for result in results {
            for (l, report) in result? {
                reports[l] = report;
            }
        }
        Ok(reports)
    }

    /// Takes layers until none is left or another thread failed.
    fn worker(
        &self,
        ids: &[usize],
        threads: usize,
        next: &AtomicUsize,
        masking: &Masking<'_>,
        criterion: Criterion,
    ) -> Result<Vec<(usize, Masked)>, String> {
        let mut mask = Vec::new();
        let mut piece = vec![0u8; PIECE];
        let mut done = Vec::new();
        while !self.failed.load(Ordering::Relaxed) {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(&t) = ids.get(k) else {
                break;
            };
            // The tensor taken after the ones now running: read it meanwhile.
            if let Some(&ahead) = ids.get(k + threads) {
                self.ckpt.prefetch(ahead);
            }
            let l = self.layer_of[t].expect("a layer");
            match self.layer(t, l, masking, criterion, &mut mask, &mut piece) {
                Ok(report) => done.push((l, report)),
                Err(e) => {
                    self.stop();
                    return Err(e);
                }
            }
        }
        Ok(done)
    }

    /// Mask of layer `l` (tensor `t`), then its outputs.
    fn layer(
        &self,
        t: usize,
        l: usize,
        masking: &Masking<'_>,
        criterion: Criterion,
        mask: &mut Vec<u8>,
        piece: &mut [u8],
    ) -> Result<Masked, String> {
        let layer = &self.layers[l];
        let (report, mask) = match *masking {
            Masking::Made { plans, masks } => (*plans[l].report(), masks.mask(l)),
            Masking::Planned { opts, plans } => {
                mask.resize(layer.scores.len(), 0);
                (self.pruner.write_mask(layer, opts, &plans[l], mask))
                    .map_err(|e| format!("{}: {}", self.ckpt.locate(t), e.kind()))?;
                (*plans[l].report(), &mask[..])
            }
            Masking::Lock(pattern) => {
                mask.resize(layer.scores.len(), 0);
                let mut report = [LayerReport::default()];
                (self.pruner)
                    .lock(&[*layer], pattern, &mut report, &mut [&mut mask[..]])
                    .map_err(|e| format!("{}: {}", self.ckpt.locate(t), e.kind()))?;
                (report[0], &mask[..])
            }
        };
        let mass = (self.pruner)
            .score_mass(layer, criterion, mask)
            .map_err(|e| format!("{}: {}", self.ckpt.locate(t), e.kind()))?;
        let tensor = &self.ckpt.tensors[t];
        if let Some(masks) = &self.outputs.masks {
            for range in pieces(mask.len()) {
                masks.write(t, range.start, &mask[range], &tensor.name)?;
            }
        }
        if let Some(weights) = &self.outputs.weights {
            let raw = self.ckpt.bytes(t);
            let size = tensor.element_size();
            for range in pieces(raw.len()) {
                let out = &mut piece[..range.len()];
                let kept = &mask[range.start / size..range.end / size];
                keep_masked(&raw[range.clone()], kept, out, size);
                weights.write(t, range.start, out, &tensor.name)?;
            }
        }
        self.progress.inc(tensor.range.len() as u64);
        Ok(Masked { report, mass })
    }
}

/// `0..len` in pieces of [`PIECE`] bytes (a multiple of every element size,
/// so pieces of a tensor end on element boundaries).
fn pieces(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..len)
        .step_by(PIECE)
        .map(move |start| start..(start + PIECE).min(len))
}

/// `out = raw` where the mask keeps, `+0.0` where it prunes, and `+0.0`
/// for a kept `-0.0` too (the same value; `-0.0` zeros once broke vLLM's
/// 2:4 compression, and `verify` refuses them); `size` bytes per element,
/// little endian.
fn keep_masked(raw: &[u8], mask: &[u8], out: &mut [u8], size: usize) {
    fn each<const N: usize>(raw: &[u8], mask: &[u8], out: &mut [u8]) {
        let (src, _) = raw.as_chunks::<N>();
        let (dst, _) = out.as_chunks_mut::<N>();
        for ((d, s), &m) in dst.iter_mut().zip(src).zip(mask) {
            // -0.0 is the sign bit alone: every byte 0 but the last, 0x80.
            let negative_zero = s[..N - 1].iter().all(|&b| b == 0) && s[N - 1] == 0x80;
            // m is 0 or 1: all-ones or all-zeros bytes.
            let keep = 0u8.wrapping_sub(m & !(negative_zero as u8));
            for k in 0..N {
                d[k] = s[k] & keep;
            }
        }
    }
    match size {
        2 => each::<2>(raw, mask, out),
        _ => each::<4>(raw, mask, out),
    }
}

#[cfg(test)]
mod tests {
    use super::keep_masked;

    #[test]
    fn pruned_and_negative_zeros_are_positive_zeros() {
        let raw: Vec<u8> = [1.5f32, -2.0, -0.0, -0.0, 3.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let mut out = vec![0xAA; raw.len()];
        keep_masked(&raw, &[1, 0, 1, 0, 1], &mut out, 4);
        let got: Vec<u32> = out
            .chunks(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let want: Vec<u32> = [1.5f32, 0.0, 0.0, 0.0, 3.0]
            .iter()
            .map(|x| x.to_bits())
            .collect();
        assert_eq!(got, want);
        let raw: Vec<u8> = [0x8000u16, 0x3c00, 0xbc00]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let mut out = vec![0xAA; raw.len()];
        keep_masked(&raw, &[1, 1, 0], &mut out, 2);
        assert_eq!(out, [0, 0, 0x00, 0x3c, 0, 0]);
    }
}
