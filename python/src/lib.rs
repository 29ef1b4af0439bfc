//! `prunemask._native`: the library's entry points on numpy arrays, for
//! the Python API in `python/prunemask/__init__.py` (which takes dicts,
//! torch tensors and INC's argument names and calls these).
//!
//! Every array is borrowed, never copied: scores are read through
//! `PyReadonlyArray` (C-contiguous float32, float16, or bfloat16 passed
//! as its int16/uint16 bits with `kind = "bf16"`), masks are written into
//! the caller's C-contiguous uint8 or float32 arrays. rust-numpy's borrow
//! checking refuses an array lent twice (a score that is also a mask, one
//! mask for two layers). The GIL is released while the library works:
//! like any function that releases it (numpy's own), the arrays must not
//! be written by another thread meanwhile (an optimizer step on the same
//! weights), which numpy and torch do not prevent. Errors are
//! `ValueError`/`TypeError` naming the layer; a panic (a bug) becomes
//! `pyo3_runtime.PanicException`, never an abort.

use half::slice::HalfBitsSliceExt;
use half::{bf16, f16};
use numpy::{PyReadonlyArrayDyn, PyReadwriteArrayDyn, PyUntypedArrayMethods};
use prunemask::{
    CapMode, Compat, Criterion, Layer, LayerPlan, LayerReport, Options, Pattern, Pruner, Reduce,
    Scope, Shape, SkipReason, Status, Ties,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A borrowed score array, registered with rust-numpy's borrow checker
/// while the library reads it (which catches an array lent twice to this
/// call; numpy itself does not consult it).
enum Held<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F16(PyReadonlyArrayDyn<'py, f16>),
    Bf16(PyReadonlyArrayDyn<'py, u16>),
    Bf16Signed(PyReadonlyArrayDyn<'py, i16>),
}

impl Held<'_> {
    fn dims(&self) -> Vec<usize> {
        match self {
            Held::F32(a) => a.shape().to_vec(),
            Held::F16(a) => a.shape().to_vec(),
            Held::Bf16(a) => a.shape().to_vec(),
            Held::Bf16Signed(a) => a.shape().to_vec(),
        }
    }

    /// The scores as the library reads them, or `None` when the array is
    /// not C-contiguous.
    fn layer(&self, shape: Shape) -> Option<Layer<'_>> {
        Some(match self {
            Held::F32(a) => Layer::new(a.as_slice().ok()?, shape),
            Held::F16(a) => Layer::new(a.as_slice().ok()?, shape),
            Held::Bf16(a) => Layer::new(a.as_slice().ok()?.reinterpret_cast::<bf16>(), shape),
            Held::Bf16Signed(a) => {
                let bits: &[i16] = a.as_slice().ok()?;
                // SAFETY: i16 and u16 have the same size and alignment and
                // every bit pattern is valid for both.
                let bits: &[u16] =
                    unsafe { std::slice::from_raw_parts(bits.as_ptr().cast(), bits.len()) };
                Layer::new(bits.reinterpret_cast::<bf16>(), shape)
            }
        })
    }
}

/// Borrows `array` as scores of `kind` (`f32`, `f16`, `bf16`).
fn hold<'py>(array: &Bound<'py, PyAny>, kind: &str, name: &str) -> PyResult<Held<'py>> {
    let wrong = |want: &str| {
        PyTypeError::new_err(format!(
            "{name}: expected a C-contiguous {want} array for dtype {kind}, not lent twice to \
             this call"
        ))
    };
    Ok(match kind {
        "f32" => Held::F32(array.extract().map_err(|_| wrong("float32"))?),
        "f16" => Held::F16(array.extract().map_err(|_| wrong("float16"))?),
        "bf16" => match array.extract() {
            Ok(a) => Held::Bf16(a),
            Err(_) => Held::Bf16Signed(array.extract().map_err(|_| wrong("uint16/int16"))?),
        },
        other => {
            return Err(PyTypeError::new_err(format!(
                "{name}: dtype {other} is not float32, float16 or bfloat16"
            )))
        }
    })
}

/// The layer's shape from its dims: `[out, in]`, `[in, out]` when
/// `in_out`, conv weights of rank 3 to 5.
fn shape_of(dims: &[usize], in_out: bool, name: &str) -> PyResult<Shape> {
    let shape = match dims {
        [i, o] if in_out => Some(Shape::in_out(*i, *o)),
        _ => Shape::from_dims(dims),
    };
    shape.ok_or_else(|| {
        PyValueError::new_err(format!(
            "{name}: shape {dims:?} is not a weight (rank 2 to 5)"
        ))
    })
}

/// A library error as a `ValueError` naming the layer.
fn error(e: prunemask::Error, names: &[String]) -> PyErr {
    match e.layer().and_then(|i| names.get(i)) {
        Some(name) => PyValueError::new_err(format!("{name}: {}", e.kind())),
        None => PyValueError::new_err(e.to_string()),
    }
}

fn word<T: std::str::FromStr>(value: &str, what: &str) -> PyResult<T>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

/// A pattern name, or a `ValueError` naming it.
fn parse_pattern(name: &str) -> PyResult<Pattern> {
    Pattern::parse(name).map_err(|e| PyValueError::new_err(format!("pattern {name:?}: {e}")))
}

/// The options, checked (named as INC 3.x names them).
#[allow(clippy::too_many_arguments)]
fn options(
    pattern: &str,
    sparsity: f64,
    scope: &str,
    max_ratio: f64,
    min_ratio: f64,
    ties: &str,
    cap: &str,
    reduce: &str,
    criterion: &str,
    compat: &str,
) -> PyResult<Options> {
    let pattern = parse_pattern(pattern)?;
    let opts = Options::new(pattern, sparsity)
        .scope(word::<Scope>(scope, "pruning_scope")?)
        .max_sparsity_ratio_per_op(max_ratio)
        .min_sparsity_ratio_per_op(min_ratio)
        .ties(word::<Ties>(ties, "ties")?)
        .cap(word::<CapMode>(cap, "cap")?)
        .reduce(word::<Reduce>(reduce, "criterion_reduce_type")?)
        .criterion(word::<Criterion>(criterion, "criterion")?);
    let opts = match word::<Compat>(compat, "compat")? {
        Compat::Inc20 => opts.inc_compat(),
        Compat::Native => opts,
    };
    opts.validate()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(opts)
}

/// A layer's report as a dict.
fn report<'py>(py: Python<'py>, r: &LayerReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let (status, reason) = match r.status {
        Status::Selected => ("selected", None),
        Status::Bounded(b) => (
            "bounded",
            Some(format!("held at the {b:?} ratio").to_lowercase()),
        ),
        Status::Skipped(SkipReason::Rows { rows, block }) => (
            "skipped",
            Some(format!("{rows} outputs do not divide by {block}")),
        ),
        Status::Skipped(SkipReason::Cols { cols, block }) => (
            "skipped",
            Some(format!("{cols} inputs do not divide by {block}")),
        ),
        Status::Unplanned => ("unplanned", None),
    };
    d.set_item("status", status)?;
    d.set_item("reason", reason)?;
    d.set_item("units", r.units)?;
    d.set_item("pruned_units", r.pruned_units)?;
    d.set_item("elements", r.elements)?;
    d.set_item("pruned_elements", r.pruned_elements)?;
    d.set_item("sparsity", r.sparsity_ratio())?;
    d.set_item("threshold", r.threshold)?;
    Ok(d)
}

/// A mask array the caller lends: uint8 (written as it is) or float32
/// (0.0/1.0, INC's masks, written as such by the library).
enum MaskArray<'py> {
    U8(PyReadwriteArrayDyn<'py, u8>),
    F32(PyReadwriteArrayDyn<'py, f32>),
}

/// A lent mask as a slice.
enum MaskOut<'a> {
    U8(&'a mut [u8]),
    F32(&'a mut [f32]),
}

impl MaskOut<'_> {
    /// Advises huge pages for the whole 2 MiB pages inside a fresh mask
    /// of at least 4 MiB (numpy advises them for its own large arrays;
    /// torch does not): its first touch then faults once a huge page
    /// instead of once every 4 KiB, which cost more than writing the
    /// floats. Advice only: a kernel without them faults as before.
    fn advise_huge_pages(&mut self) {
        let (at, len) = match self {
            MaskOut::U8(m) => (m.as_mut_ptr().cast::<u8>(), m.len()),
            MaskOut::F32(m) => (m.as_mut_ptr().cast::<u8>(), m.len() * 4),
        };
        advise_huge_pages(at, len);
    }

    /// The mask if it is uint8.
    fn bytes(&mut self) -> Option<&mut [u8]> {
        match self {
            MaskOut::U8(m) => Some(m),
            MaskOut::F32(_) => None,
        }
    }

    /// The mask if it is float32.
    fn floats(&mut self) -> Option<&mut [f32]> {
        match self {
            MaskOut::F32(m) => Some(m),
            MaskOut::U8(_) => None,
        }
    }
}

/// The layers and masks of a call, borrowed and checked.
struct Borrowed<'py> {
    names: Vec<String>,
    held: Vec<Held<'py>>,
    shapes: Vec<Shape>,
}

/// The masks as slices.
fn mask_slices<'a>(masks: &'a mut [MaskArray<'_>], names: &[String]) -> PyResult<Vec<MaskOut<'a>>> {
    let not = |name: &String| PyTypeError::new_err(format!("{name}: the mask is not C-contiguous"));
    (masks.iter_mut().zip(names))
        .map(|(m, name)| match m {
            MaskArray::U8(a) => a.as_slice_mut().map(MaskOut::U8).map_err(|_| not(name)),
            MaskArray::F32(a) => a.as_slice_mut().map(MaskOut::F32).map_err(|_| not(name)),
        })
        .collect()
}

fn borrow<'py>(
    scores: &[(Bound<'py, PyAny>, String, bool)],
    names: Vec<String>,
    masks: &[Bound<'py, PyAny>],
) -> PyResult<(Borrowed<'py>, Vec<MaskArray<'py>>)> {
    if names.len() != scores.len() || masks.len() != scores.len() {
        return Err(PyValueError::new_err(format!(
            "{} layers, {} names, {} masks",
            scores.len(),
            names.len(),
            masks.len()
        )));
    }
    let mut held = Vec::with_capacity(scores.len());
    let mut shapes = Vec::with_capacity(scores.len());
    let mut outs = Vec::with_capacity(scores.len());
    for (((array, kind, in_out), name), mask) in scores.iter().zip(&names).zip(masks) {
        let h = hold(array, kind, name)?;
        let dims = h.dims();
        shapes.push(shape_of(&dims, *in_out, name)?);
        held.push(h);
        let (m, shape) = match mask.extract::<PyReadwriteArrayDyn<'py, u8>>() {
            Ok(a) => {
                let shape = a.shape().to_vec();
                (MaskArray::U8(a), shape)
            }
            Err(_) => {
                let a: PyReadwriteArrayDyn<'py, f32> = mask.extract().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "{name}: the mask must be a writable C-contiguous uint8 or float32 array \
                         (not borrowed elsewhere)"
                    ))
                })?;
                let shape = a.shape().to_vec();
                (MaskArray::F32(a), shape)
            }
        };
        if shape != dims {
            return Err(PyValueError::new_err(format!(
                "{name}: mask shape {shape:?} is not the scores' {dims:?}"
            )));
        }
        outs.push(m);
    }
    Ok((
        Borrowed {
            names,
            held,
            shapes,
        },
        outs,
    ))
}

impl Borrowed<'_> {
    fn layers(&self) -> PyResult<Vec<Layer<'_>>> {
        (self.held.iter().zip(&self.shapes).zip(&self.names))
            .map(|((h, &s), name)| {
                h.layer(s).ok_or_else(|| {
                    PyTypeError::new_err(format!("{name}: the array is not C-contiguous"))
                })
            })
            .collect()
    }
}

/// See [`MaskOut::advise_huge_pages`]: `len` bytes from `at`, one buffer.
#[cfg(target_os = "linux")]
fn advise_huge_pages(at: *mut u8, len: usize) {
    const HUGE: usize = 2 << 20;
    if len < 2 * HUGE {
        return;
    }
    let start = (at as usize).next_multiple_of(HUGE);
    let end = (at as usize + len) / HUGE * HUGE;
    if end > start {
        // SAFETY: `start..end` lies inside the caller's buffer, and
        // MADV_HUGEPAGE only sets how its pages are backed: it changes no
        // byte and frees nothing (an error, such as a kernel without huge
        // pages, leaves everything as it was).
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_: *mut u8, _: usize) {}

/// Selects and writes masks for every layer in one call
/// (`prunemask_threads::prune`): `scores` is a list of `(array, kind,
/// in_out)`, `masks` fresh uint8 or float32 arrays of the same shapes (the
/// package's own: on a NaN score their contents are unspecified). Returns
/// each layer's report (a dict).
#[pyfunction]
#[pyo3(signature = (scores, names, masks, pattern, sparsity, scope, max_ratio, min_ratio, ties, cap, reduce, criterion, compat, scales=None, targets=None))]
#[allow(clippy::too_many_arguments)]
fn prune<'py>(
    py: Python<'py>,
    scores: Vec<(Bound<'py, PyAny>, String, bool)>,
    names: Vec<String>,
    masks: Vec<Bound<'py, PyAny>>,
    pattern: &str,
    sparsity: f64,
    scope: &str,
    max_ratio: f64,
    min_ratio: f64,
    ties: &str,
    cap: &str,
    reduce: &str,
    criterion: &str,
    compat: &str,
    scales: Option<Vec<Option<PyReadonlyArrayDyn<'py, f32>>>>,
    targets: Option<Vec<Option<f64>>>,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let opts = options(
        pattern, sparsity, scope, max_ratio, min_ratio, ties, cap, reduce, criterion, compat,
    )?;
    let (b, mut held_masks) = borrow(&scores, names, &masks)?;
    let mut layers = b.layers()?;
    let scales = scales.unwrap_or_default();
    let targets = targets.unwrap_or_default();
    for (what, len) in [("scales", scales.len()), ("targets", targets.len())] {
        if len != 0 && len != layers.len() {
            return Err(PyValueError::new_err(format!(
                "{} layers, {len} {what}",
                layers.len()
            )));
        }
    }
    for (i, scale) in scales.iter().enumerate() {
        let Some(scale) = scale else { continue };
        let name = &b.names[i];
        if scale.ndim() != 1 {
            return Err(PyValueError::new_err(format!(
                "{name}: the activation norms must be a vector (one per input feature), not shape {:?}",
                scale.shape()
            )));
        }
        let slice = scale.as_slice().map_err(|_| {
            PyTypeError::new_err(format!("{name}: the activation norms are not C-contiguous"))
        })?;
        layers[i] = layers[i].input_scale(slice);
    }
    for (layer, target) in layers.iter_mut().zip(&targets) {
        layer.target_sparsity = *target;
    }
    let mut outs = mask_slices(&mut held_masks, &b.names)?;
    outs.iter_mut().for_each(MaskOut::advise_huge_pages);
    let mut plans = vec![LayerPlan::default(); layers.len()];
    // Scratch for the one-pass selection (sized by elements, which bound
    // the units): without it the same plan takes four radix passes.
    let elements: u64 = layers.iter().map(|l| l.scores.len() as u64).sum();
    let mut scratch = vec![0u64; Pruner::scratch_words(elements)];
    let result = py.detach(|| {
        let mut pruner = Pruner::with_scratch(&mut scratch);
        // One scoring pass where the masks are of one type.
        let threads = cores();
        let one = |e: prunemask::Error| (None, e);
        let bytes: Option<Vec<_>> = outs.iter_mut().map(MaskOut::bytes).collect();
        if let Some(masks) = bytes {
            return prunemask_threads::prune(
                &mut pruner,
                &layers,
                &opts,
                threads,
                &mut plans,
                masks,
            )
            .map(drop)
            .map_err(one);
        }
        let floats: Option<Vec<_>> = outs.iter_mut().map(MaskOut::floats).collect();
        if let Some(masks) = floats {
            return prunemask_threads::prune(
                &mut pruner,
                &layers,
                &opts,
                threads,
                &mut plans,
                masks,
            )
            .map(drop)
            .map_err(one);
        }
        prunemask_threads::plan(&mut pruner, &layers, &opts, threads, &mut plans).map_err(one)?;
        write_masks(&layers, &opts, &plans, outs)
    });
    result.map_err(|(layer, e)| match layer {
        Some(i) => error_in(i, e, &b.names),
        None => error(e, &b.names),
    })?;
    plans.iter().map(|p| report(py, p.report())).collect()
}

/// A single-layer library error as a `ValueError` naming layer `i`.
fn error_in(i: usize, e: prunemask::Error, names: &[String]) -> PyErr {
    let name = names.get(i).map_or("?", String::as_str);
    PyValueError::new_err(format!("{name}: {}", e.kind()))
}

/// Every layer's mask from its plan (`Pruner::write_mask`) on every core
/// (`prunemask_threads::write_masks`): the uint8 masks, then the float32
/// ones. Errors name the first failing layer.
fn write_masks(
    layers: &[Layer<'_>],
    opts: &Options,
    plans: &[LayerPlan],
    outs: Vec<MaskOut<'_>>,
) -> Result<(), (Option<usize>, prunemask::Error)> {
    let threads = cores();
    let (mut bytes, mut floats) = (Vec::new(), Vec::new());
    for (i, out) in outs.into_iter().enumerate() {
        match out {
            MaskOut::U8(m) => bytes.push((i, m)),
            MaskOut::F32(m) => floats.push((i, m)),
        }
    }
    /// One type's masks, errors in whole-list indices.
    fn run<M: prunemask::MaskValue + Send>(
        layers: &[Layer<'_>],
        opts: &Options,
        plans: &[LayerPlan],
        masks: Vec<(usize, &mut [M])>,
        threads: usize,
    ) -> Result<(), (Option<usize>, prunemask::Error)> {
        let index: Vec<usize> = masks.iter().map(|(i, _)| *i).collect();
        let sub: Vec<Layer<'_>> = index.iter().map(|&i| layers[i]).collect();
        let sub_plans: Vec<LayerPlan> = index.iter().map(|&i| plans[i]).collect();
        let masks = masks.into_iter().map(|(_, m)| m).collect();
        let pruner = Pruner::new();
        prunemask_threads::write_masks(&pruner, &sub, opts, &sub_plans, masks, threads)
            .map_err(|(l, e)| (l.map(|l| index[l]), e))
    }
    let a = run(layers, opts, plans, bytes, threads);
    let b = run(layers, opts, plans, floats, threads);
    match (a, b) {
        (Err(x), Err(y)) => Err(if y.0 < x.0 { y } else { x }),
        (Err(x), _) | (_, Err(x)) => Err(x),
        _ => Ok(()),
    }
}

/// Threads for the library's work: every core, at most 8.
fn cores() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
}

/// Pattern-lock masks from the weights (`Pruner::lock`): same arguments
/// as [`prune`] without the options.
#[pyfunction]
fn lock<'py>(
    py: Python<'py>,
    scores: Vec<(Bound<'py, PyAny>, String, bool)>,
    names: Vec<String>,
    masks: Vec<Bound<'py, PyAny>>,
    pattern: &str,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let pattern = parse_pattern(pattern)?;
    let (b, mut held_masks) = borrow(&scores, names, &masks)?;
    let layers = b.layers()?;
    let mut outs = Vec::with_capacity(held_masks.len());
    for (out, name) in mask_slices(&mut held_masks, &b.names)?
        .into_iter()
        .zip(&b.names)
    {
        match out {
            MaskOut::U8(m) => outs.push(m),
            MaskOut::F32(_) => {
                return Err(PyTypeError::new_err(format!(
                    "{name}: pattern-lock masks are written as uint8"
                )))
            }
        }
    }
    let mut reports = vec![LayerReport::default(); layers.len()];
    let result = py.detach(|| Pruner::new().lock(&layers, &pattern, &mut reports, &mut outs));
    result.map_err(|e| error(e, &b.names))?;
    reports.iter().map(|r| report(py, r)).collect()
}

/// The sparsity of uint8 0/1 masks under a pattern (`Pruner::mask_sparsity`):
/// `(zero, total)` units, block-wise for NxM, element-wise for N:M.
#[pyfunction]
fn mask_sparsity(
    py: Python<'_>,
    pattern: &str,
    names: Vec<String>,
    masks: Vec<PyReadonlyArrayDyn<'_, u8>>,
) -> PyResult<(u64, u64)> {
    let pattern = parse_pattern(pattern)?;
    if names.len() != masks.len() {
        return Err(PyValueError::new_err(format!(
            "{} masks, {} names",
            masks.len(),
            names.len()
        )));
    }
    let mut shapes = Vec::with_capacity(masks.len());
    let mut slices = Vec::with_capacity(masks.len());
    for (m, name) in masks.iter().zip(&names) {
        shapes.push(shape_of(m.shape(), false, name)?);
        slices.push(
            m.as_slice().map_err(|_| {
                PyTypeError::new_err(format!("{name}: the mask is not C-contiguous"))
            })?,
        );
    }
    let result = py.detach(|| Pruner::new().mask_sparsity(&pattern, &shapes, &slices));
    let s = result.map_err(|e| error(e, &names))?;
    Ok((s.zero, s.total))
}

/// The names `Pattern::parse` knows, for messages.
#[pyfunction]
fn builtin_patterns() -> Vec<&'static str> {
    prunemask::ext::BUILTIN_NAMES.to_vec()
}

/// Panics, for the test that a panic reaches Python as an exception.
#[pyfunction]
fn _panic_for_tests() {
    panic!("prunemask._native._panic_for_tests: a deliberate panic");
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(prune, m)?)?;
    m.add_function(wrap_pyfunction!(lock, m)?)?;
    m.add_function(wrap_pyfunction!(mask_sparsity, m)?)?;
    m.add_function(wrap_pyfunction!(builtin_patterns, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
