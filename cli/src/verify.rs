//! `prunemask verify`: does a checkpoint hold a pattern, so that a sparse
//! kernel can run it?
//!
//! The targets are the tensors `prune` would prune (same defaults, same
//! `--include`/`--exclude`/`--transposed`, same layout from `config.json`),
//! each read through the same `[out, in]` view. Per target:
//!
//! - **pattern**: N:M, every group of M consecutive inputs of an output
//!   holds at least N zeros (`+0.0` or `-0.0`); NxM blocks, the share of
//!   blocks that are all zero (at least one per target, or `--sparsity`
//!   over all targets). A shape the pattern does not tile fails.
//! - **no `-0.0`**: serving stacks read zeros by their bits; `-0.0` zeros
//!   once produced garbage in vLLM's 2:4 compression.
//! - **kernel shapes**, for 2:4: NVIDIA ASP and TensorRT-Model-Optimizer
//!   skip 2:4 for weights whose out features do not divide by 8 or whose
//!   in features (input channels of a conv) do not divide by 16; such a
//!   weight would run dense.
//!
//! Elements are read as bits (zero: all bits but the sign clear), so f32,
//! f16 and bf16 need no conversion and misaligned tensors no copy.

use std::sync::atomic::{AtomicUsize, Ordering};

use prunemask::ext::{Extent, Geometry};
use prunemask::Pattern;
use serde::Serialize;

use crate::args::VerifyArgs;
use crate::checkpoint::{Checkpoint, Tensor};
use crate::filter::Filter;

/// What `verify` found.
#[derive(Debug, Serialize)]
pub struct Verdict {
    pub input: String,
    pub pattern: String,
    /// Every target passed (and, with `--sparsity`, the total reached it).
    pub passed: bool,
    pub tensors: Vec<Row>,
    pub totals: Totals,
    /// The kernel shape rule applied, and its source.
    pub kernel_rule: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub name: String,
    pub file: String,
    pub shape: Vec<usize>,
    pub dtype: String,
    /// `None` for a tensor that is not a target.
    pub layout: Option<&'static str>,
    /// `pass`, `fail` or `dense` (not a target).
    pub status: &'static str,
    /// N:M groups, or blocks.
    pub units: u64,
    /// N:M: groups with fewer than N zeros; blocks: blocks that are all zero.
    pub count: u64,
    /// Zero elements over all elements.
    pub zeros: f64,
    pub negative_zeros: u64,
    /// What failed, or why a tensor is not a target.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Totals {
    pub targets: usize,
    pub passed: usize,
    pub failed: usize,
    pub units: u64,
    /// N:M: failing groups; blocks: all-zero blocks.
    pub count: u64,
    /// Blocks: all-zero blocks over all blocks of the targets.
    pub block_sparsity: Option<f64>,
}

const ASP_RULE: &str =
    "2:4 needs out features % 8 == 0 and in features (input channels) % 16 == 0 \
                        (NVIDIA ASP, TensorRT-Model-Optimizer)";

/// Runs `verify`; `Err` is bad input (exit status 2).
pub fn run(args: &VerifyArgs) -> Result<Verdict, String> {
    let pattern = Pattern::parse(&args.pattern).map_err(|e| format!("--pattern: {e}"))?;
    if let Some(s) = args.sparsity {
        if !(0.0..=1.0).contains(&s) {
            return Err(format!("--sparsity: {s} is not in [0, 1]"));
        }
        if let Geometry::NInM { .. } = pattern.geometry() {
            return Err(format!(
                "--sparsity is for block patterns; an N:M pattern ({}) is checked group by group",
                pattern.name()
            ));
        }
    }
    let filter = Filter::from_args(&args.targets)?;
    let mut ckpt = Checkpoint::open(&args.path)?;
    let (roles, targets) = filter.apply(&mut ckpt)?;
    if targets.is_empty() {
        return Err(format!(
            "{}: no tensor to verify (f32/f16/bf16 weights of rank 2 to 5, passing \
             --include/--exclude)",
            ckpt.source.display()
        ));
    }
    let geometry = pattern.geometry();
    let asp = geometry == Geometry::NInM { n: 2, m: 4 };
    let checks: Vec<Check> = parallel(&targets, |t| check(&ckpt, t, geometry, asp));
    let mut rows = Vec::with_capacity(ckpt.tensors.len());
    let mut found = checks.into_iter();
    let mut totals = Totals {
        targets: targets.len(),
        passed: 0,
        failed: 0,
        units: 0,
        count: 0,
        block_sparsity: None,
    };
    for (t, tensor) in ckpt.tensors.iter().enumerate() {
        let mut row = Row {
            name: tensor.name.clone(),
            file: ckpt.shards[tensor.shard].name.clone(),
            shape: tensor.dims.clone(),
            dtype: tensor.dtype.to_string(),
            layout: None,
            status: "dense",
            units: 0,
            count: 0,
            zeros: 0.0,
            negative_zeros: 0,
            reason: roles[t].map(|d| d.reason(tensor)),
        };
        if roles[t].is_none() {
            let c = found.next().expect("one check per target");
            let pass = c.failures.is_empty();
            totals.passed += pass as usize;
            totals.failed += !pass as usize;
            totals.units += c.units;
            totals.count += c.count;
            row = Row {
                layout: Some(tensor.layout()),
                status: if pass { "pass" } else { "fail" },
                units: c.units,
                count: c.count,
                zeros: c.zeros as f64 / tensor.elements().max(1) as f64,
                negative_zeros: c.negative_zeros,
                reason: (!pass).then(|| c.failures.join("; ")),
                ..row
            };
        }
        rows.push(row);
    }
    let mut passed = totals.failed == 0;
    if let Geometry::Block { .. } = geometry {
        totals.block_sparsity = Some(totals.count as f64 / totals.units.max(1) as f64);
        if let Some(s) = args.sparsity {
            // The count `prune --sparsity s` prunes: floor(s * blocks), s
            // the decimal written.
            passed &= totals.count >= floor_share(s, totals.units);
        }
    }
    Ok(Verdict {
        input: ckpt.source.display().to_string(),
        pattern: pattern.name().to_string(),
        passed,
        tensors: rows,
        totals,
        kernel_rule: asp.then_some(ASP_RULE),
    })
}

/// `floor(s * units)` for the decimal `s` stands for (its shortest
/// representation), exactly: 0.7 of 10 is 7, not the f64 product's 6.
fn floor_share(s: f64, units: u64) -> u64 {
    let text = format!("{s}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let digits: u128 = format!("{int}{frac}").parse().unwrap_or(0);
    let scale = 10u128.checked_pow(frac.len() as u32).unwrap_or(u128::MAX);
    digits
        .checked_mul(u128::from(units))
        .map_or((s * units as f64).floor() as u64, |p| (p / scale) as u64)
}

/// One target's findings.
#[derive(Default)]
struct Check {
    units: u64,
    count: u64,
    zeros: u64,
    negative_zeros: u64,
    failures: Vec<String>,
}

/// `f(t)` for every target, on the machine's cores, in order.
fn parallel<T: Send>(ids: &[usize], f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let next = AtomicUsize::new(0);
    let mut out: Vec<(usize, T)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    while let Some(&t) = ids.get(next.fetch_add(1, Ordering::Relaxed)) {
                        mine.push((t, f(t)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    out.sort_by_key(|(t, _)| *t);
    out.into_iter().map(|(_, x)| x).collect()
}

/// Element `i`'s bits, widened to u32, and the sign bit of its type.
struct Bits<'a> {
    raw: &'a [u8],
    size: usize,
}

impl Bits<'_> {
    fn sign(&self) -> u32 {
        1 << (self.size * 8 - 1)
    }

    fn get(&self, i: usize) -> u32 {
        let b = &self.raw[i * self.size..(i + 1) * self.size];
        match *b {
            [a, b] => u32::from(u16::from_le_bytes([a, b])),
            [a, b, c, d] => u32::from_le_bytes([a, b, c, d]),
            _ => unreachable!("f32, f16 or bf16"),
        }
    }
}

fn check(ckpt: &Checkpoint, t: usize, geometry: Geometry, asp: bool) -> Check {
    let tensor = &ckpt.tensors[t];
    let bits = Bits {
        raw: ckpt.bytes(t),
        size: tensor.element_size(),
    };
    let mut c = Check::default();
    let sign = bits.sign();
    for i in 0..tensor.elements() {
        let x = bits.get(i);
        c.zeros += (x & !sign == 0) as u64;
        c.negative_zeros += (x == sign) as u64;
    }
    if c.negative_zeros > 0 {
        c.failures.push(format!(
            "{} zeros are -0.0 (must be +0.0)",
            c.negative_zeros
        ));
    }
    if asp {
        if let Some(broken) = kernel_shape(tensor) {
            c.failures.push(broken);
        }
    }
    let Some(view) = tensor.shape().and_then(|s| s.view().ok()) else {
        c.failures.push("no [out, in] view of this shape".into());
        return c;
    };
    let (rows, cols) = (view.rows(), view.cols());
    let zero = |r: usize, col: usize| bits.get(view.index(r, col)) & !sign == 0;
    match geometry {
        Geometry::NInM { n, m } => {
            // As prune: groups must not straddle a conv's kernel positions.
            if cols % m != 0 || view.inner() % m != 0 {
                c.failures.push(format!(
                    "{} input channels do not divide into groups of {m}",
                    view.inner()
                ));
                return c;
            }
            let mut first = None;
            for r in 0..rows {
                for g in (0..cols).step_by(m) {
                    let zeros = (g..g + m).filter(|&col| zero(r, col)).count();
                    if zeros < n {
                        c.count += 1;
                        first.get_or_insert((r, g));
                    }
                }
            }
            c.units = (rows * (cols / m)) as u64;
            if let Some((r, g)) = first {
                c.failures.push(format!(
                    "{} of {} groups have fewer than {n} zeros of {m} (first: output {r}, inputs {g}..{})",
                    c.count,
                    c.units,
                    g + m
                ));
            }
        }
        Geometry::Block { n, m } => {
            let side = |e: Extent, dim: usize| match e {
                Extent::Fixed(k) => k,
                Extent::Channel => dim,
            };
            let (bn, bm) = (side(n, rows), side(m, cols));
            if rows % bn != 0 || cols % bm != 0 {
                c.failures.push(format!(
                    "the [{rows}, {cols}] view does not divide into {bn}x{bm} blocks"
                ));
                return c;
            }
            for r in (0..rows).step_by(bn) {
                for col in (0..cols).step_by(bm) {
                    let all = (r..r + bn).all(|rr| (col..col + bm).all(|cc| zero(rr, cc)));
                    c.count += all as u64;
                }
            }
            c.units = ((rows / bn) * (cols / bm)) as u64;
            if c.count == 0 {
                c.failures.push(format!("no {bn}x{bm} block is all zero"));
            }
        }
    }
    c
}

/// The 2:4 kernel shape rule ([`ASP_RULE`]) broken by a tensor, if any.
pub fn kernel_shape(tensor: &Tensor) -> Option<String> {
    let (out, inputs) = match (tensor.dims.as_slice(), tensor.in_out) {
        ([i, o], true) => (*o, *i),
        ([o, i, ..], _) => (*o, *i),
        _ => return None,
    };
    let mut broken = Vec::new();
    if out % 8 != 0 {
        broken.push(format!("out features {out} % 8 != 0"));
    }
    if inputs % 16 != 0 {
        broken.push(format!("in features {inputs} % 16 != 0"));
    }
    (!broken.is_empty()).then(|| {
        format!(
            "{}: 2:4 kernels skip it (NVIDIA ASP, TensorRT-Model-Optimizer)",
            broken.join(", ")
        )
    })
}

impl Verdict {
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a verdict is plain data")
    }

    pub fn print_table(&self) {
        let width = (self.tensors.iter())
            .map(|r| r.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let counted = match self.totals.block_sparsity {
            Some(_) => "zero blocks",
            None => "bad groups",
        };
        println!(
            "{:<width$}  {:>16}  {:>9}  {:>5}  {:>6}  {:>10}  {:>11}  {:>6}  note",
            "name", "shape", "layout", "dtype", "status", "units", counted, "zeros"
        );
        for r in &self.tensors {
            let dims: Vec<String> = r.shape.iter().map(|d| d.to_string()).collect();
            println!(
                "{:<width$}  {:>16}  {:>9}  {:>5}  {:>6}  {:>10}  {:>11}  {:>6.4}  {}",
                r.name,
                dims.join("x"),
                r.layout.unwrap_or("-"),
                r.dtype,
                r.status,
                r.units,
                r.count,
                r.zeros,
                r.reason.as_deref().unwrap_or(""),
            );
        }
        let t = &self.totals;
        let share = t
            .block_sparsity
            .map(|s| format!(", {s:.4} of blocks all zero"))
            .unwrap_or_default();
        println!(
            "{}: pattern {}: {} of {} targets pass{share}{}",
            self.input,
            self.pattern,
            t.passed,
            t.targets,
            if self.passed { "" } else { " -- FAILED" }
        );
        if let Some(rule) = self.kernel_rule {
            println!("kernel shapes: {rule}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::floor_share;

    #[test]
    fn floor_share_is_exact_for_the_decimal() {
        assert_eq!(floor_share(0.29, 100), 29);
        assert_eq!(floor_share(0.7, 2_691_072), 1_883_750);
        assert_eq!(floor_share(0.7, 10), 7);
        assert_eq!(floor_share(1.0, 5), 5);
        assert_eq!(floor_share(0.0, 5), 0);
    }
}
