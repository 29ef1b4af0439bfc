//! After the selection: each tensor's mask, and what the outputs need of it,
//! tensor by tensor on a few threads. A thread takes the next tensor in file
//! order, writes its mask into a buffer it reuses (`prunemask::write_mask`,
//! or `lock`), then writes the mask and the pruned weights at the tensor's
//! places in the outputs, in pieces of a few MiB. Dense tensors are copied
//! to `--output` as they are. Memory: one mask buffer per thread (the
//! largest pruned tensor's element count) and one piece buffer.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use prunemask::{Layer, LayerReport, Options, Pattern};

use super::checkpoint::Checkpoint;
use super::progress::Progress;
use super::write::Outputs;

/// Bytes written per call, and between progress updates.
const PIECE: usize = 4 << 20;

/// How masks come about.
pub enum Masking<'a> {
    /// From a plan over all layers (`prunemask::plan`).
    Planned {
        opts: &'a Options,
        reports: &'a [LayerReport],
    },
    /// Pattern lock, each layer on its own.
    Lock(&'a Pattern),
}

pub struct Work<'a> {
    pub ckpt: &'a Checkpoint,
    pub layers: &'a [Layer<'a>],
    /// For each tensor of the checkpoint, its index in `layers`.
    pub layer_of: &'a [Option<usize>],
    pub masking: Masking<'a>,
    pub outputs: &'a Outputs,
    pub progress: &'a Progress,
}

impl Work<'_> {
    /// The tensors with something to do, in file order, and their bytes.
    fn items(&self) -> Vec<usize> {
        (0..self.ckpt.tensors.len())
            .filter(|&t| self.layer_of[t].is_some() || self.outputs.weights.is_some())
            .collect()
    }

    /// Runs on `threads` threads; returns each layer's report as its mask
    /// was written.
    pub fn run(&self, threads: usize) -> Result<Vec<LayerReport>, String> {
        let items = self.items();
        let total = items
            .iter()
            .map(|&t| self.ckpt.tensors[t].range.len() as u64)
            .sum();
        self.progress.bytes(
            if self.outputs.is_empty() {
                "masks"
            } else {
                "writing"
            },
            total,
        );
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let results: Vec<_> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads.max(1))
                .map(|_| s.spawn(|| self.worker(&items, &next, &failed)))
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err("a worker thread panicked".into()))
                })
                .collect()
        });
        let mut reports = vec![LayerReport::default(); self.layers.len()];
        for result in results {
            for (l, report) in result? {
                reports[l] = report;
            }
        }
        Ok(reports)
    }

    /// Takes tensors until none is left or another thread failed.
    fn worker(
        &self,
        items: &[usize],
        next: &AtomicUsize,
        failed: &AtomicBool,
    ) -> Result<Vec<(usize, LayerReport)>, String> {
        let mut mask = Vec::new();
        let mut piece = vec![0u8; PIECE];
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let Some(&t) = items.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            let result = match self.layer_of[t] {
                Some(l) => self
                    .layer(t, l, &mut mask, &mut piece)
                    .map(|report| done.push((l, report))),
                None => self.dense(t),
            };
            if let Err(e) = result {
                failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(done)
    }

    /// Mask of layer `l` (tensor `t`), then its outputs.
    fn layer(
        &self,
        t: usize,
        l: usize,
        mask: &mut Vec<u8>,
        piece: &mut [u8],
    ) -> Result<LayerReport, String> {
        let layer = &self.layers[l];
        mask.resize(layer.scores.len(), 0);
        let report = match self.masking {
            Masking::Planned { opts, reports } => {
                prunemask::write_mask(layer, opts, &reports[l], mask).map(|()| reports[l])
            }
            Masking::Lock(pattern) => {
                let mut report = [LayerReport::default()];
                prunemask::lock(&[*layer], pattern, &mut report, &mut [&mut mask[..]])
                    .map(|_| report[0])
            }
        }
        .map_err(|e| format!("{}: {e}", self.ckpt.locate(t)))?;
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
        Ok(report)
    }

    /// A tensor kept as it is: copied to `--output`.
    fn dense(&self, t: usize) -> Result<(), String> {
        if let Some(weights) = &self.outputs.weights {
            let raw = self.ckpt.bytes(t);
            for range in pieces(raw.len()) {
                weights.write(t, range.start, &raw[range], &self.ckpt.tensors[t].name)?;
            }
            self.progress.inc(raw.len() as u64);
        }
        Ok(())
    }
}

/// `0..len` in pieces of [`PIECE`] bytes (a multiple of every element size,
/// so pieces of a tensor end on element boundaries).
fn pieces(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..len)
        .step_by(PIECE)
        .map(move |start| start..(start + PIECE).min(len))
}

/// `out = raw` where the mask keeps, zero (`+0.0`) where it prunes;
/// `size` bytes per element.
fn keep_masked(raw: &[u8], mask: &[u8], out: &mut [u8], size: usize) {
    fn each<const N: usize>(raw: &[u8], mask: &[u8], out: &mut [u8]) {
        let (src, _) = raw.as_chunks::<N>();
        let (dst, _) = out.as_chunks_mut::<N>();
        for ((d, s), &m) in dst.iter_mut().zip(src).zip(mask) {
            // m is 0 or 1: all-ones or all-zeros bytes, no branch.
            let keep = 0u8.wrapping_sub(m);
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
