//! The one error type of the crate.
//!
//! Every public call validates all of its input before it writes anything, so
//! an `Err` always leaves the caller's mask buffers as they were.

use core::fmt;

use crate::vocab::ext::{Registry, SkipReason};
use crate::vocab::terms::Level;

/// A pattern (or option) name kept inside an [`Error`] or a
/// [`Pattern`](crate::Pattern) without allocating: at most
/// [`PatternName::CAPACITY`] bytes, cut on a char boundary.
///
/// ```
/// use prunemask::{ErrorKind, Pattern};
/// let err = Pattern::parse("nxm_topk").unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::UnknownPattern { name, .. } if name == "topk"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PatternName {
    bytes: [u8; PatternName::CAPACITY],
    len: u8,
}

impl PatternName {
    /// Longest name kept, in bytes.
    pub const CAPACITY: usize = 32;

    /// Keeps at most [`CAPACITY`](Self::CAPACITY) bytes of `s`, cut on a
    /// char boundary.
    pub(crate) fn truncated(s: &str) -> Self {
        let mut end = s.len().min(Self::CAPACITY);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; Self::CAPACITY];
        bytes[..end].copy_from_slice(&s.as_bytes()[..end]);
        PatternName {
            bytes,
            len: end as u8,
        }
    }

    /// The name.
    ///
    /// ```
    /// let err = prunemask::Pattern::parse("topk").unwrap_err();
    /// if let prunemask::ErrorKind::UnknownPattern { name, .. } = err.kind() {
    ///     assert_eq!(name.as_str(), "topk");
    /// }
    /// ```
    pub fn as_str(&self) -> &str {
        // Cut on a char boundary of a `str`: always valid UTF-8.
        core::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl core::ops::Deref for PatternName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for PatternName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for PatternName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for PatternName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PatternName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// What went wrong, and in which layer (index into the caller's layer list).
///
/// Every operation validates all of its input before it writes anything, so
/// an `Err` always leaves the caller's buffers as they were.
///
/// ```
/// use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape};
///
/// let scores = [1.0f32, f32::NAN, 3.0, 4.0];
/// let layers = [Layer::new(&scores[..], Shape::matrix(2, 2))];
/// let opts = Options::new(Pattern::parse("1x1").unwrap(), 0.5);
/// let mut plans = [LayerPlan::default()];
/// let err = Pruner::new().plan(&layers, &opts, &mut plans).unwrap_err();
/// assert_eq!(err.layer(), Some(0));
/// assert_eq!(err.to_string(), "layer 0: score at element 1 is NaN");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    layer: Option<usize>,
    kind: ErrorKind,
}

/// The kinds of [`Error`].
///
/// ```
/// use prunemask::{ErrorKind, Pattern};
/// let err = Pattern::parse("4:2").unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::BadPattern { .. }));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A shape has a zero dimension.
    ZeroDimension,
    /// The product of a shape's dimensions does not fit in `usize`.
    ShapeOverflow,
    /// A score slice's length does not match its shape.
    ScoreLength {
        /// Elements the shape has.
        expected: usize,
        /// Length of the slice given.
        got: usize,
    },
    /// A mask slice's length does not match its layer's shape.
    MaskLength {
        /// Elements the shape has.
        expected: usize,
        /// Length of the slice given.
        got: usize,
    },
    /// A per-layer list (plans, masks, reports) has the wrong number of entries.
    LayerCount {
        /// What the list is.
        what: &'static str,
        /// Number of layers.
        expected: usize,
        /// Entries given.
        got: usize,
    },
    /// A ratio is NaN or outside `[0, 1]`, or the bounds contradict each other.
    BadRatio {
        /// Which option.
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// `min_sparsity_ratio_per_op` above `max_sparsity_ratio_per_op`.
    BoundsCrossed {
        /// The minimum given.
        min: f64,
        /// The maximum given.
        max: f64,
    },
    /// An N:M target above `N/M`, the most the pattern can prune.
    RatioAbovePattern {
        /// The target given.
        sparsity: f64,
        /// `N / M`.
        max: f64,
    },
    /// A score is NaN.
    NanScore {
        /// Index of the element in the tensor's own (flat) layout.
        index: usize,
    },
    /// A unit's reduced score is NaN (it mixes `+inf` and `-inf`).
    NanUnit {
        /// Row-major index of the unit (block or N:M group) in the layer.
        unit: usize,
    },
    /// A mask holds a value other than 0 or 1.
    MaskValue {
        /// Index of the element.
        index: usize,
        /// The value found.
        value: u8,
    },
    /// A pattern name is not registered.
    UnknownPattern {
        /// The name asked for (truncated to [`PatternName::CAPACITY`] bytes).
        name: PatternName,
        /// The registry asked; its [`names`](crate::ext::Registry::names) are listed.
        registry: Registry,
    },
    /// An option value (a reduction, a tie rule, a level...) is not one of
    /// its names.
    UnknownName {
        /// Which option.
        what: &'static str,
        /// The name given (truncated to [`PatternName::CAPACITY`] bytes).
        name: PatternName,
        /// The names it takes.
        expected: &'static [&'static str],
    },
    /// A pattern is malformed: `N >= M` for `N:M`, a zero size, bad numbers.
    BadPattern {
        /// What is wrong.
        reason: &'static str,
    },
    /// A registry entry is malformed or registered twice.
    Registry {
        /// What is wrong.
        reason: &'static str,
    },
    /// A layer given to [`Pruner::write_mask`](crate::Pruner::write_mask) is
    /// not the one planned.
    PlanMismatch,
    /// The parts given to [`Pruner::plan_split`](crate::Pruner::plan_split)
    /// are not those of these layers and options: `part` (its index, if one
    /// is to blame) and what is wrong.
    SplitParts {
        /// The part at fault, if one is.
        part: Option<usize>,
        /// What is wrong.
        reason: &'static str,
    },
    /// The pattern does not fit the layer (for calls that need units).
    NotFitting {
        /// Why.
        reason: SkipReason,
    },
    /// An output buffer has the wrong length.
    OutputLength {
        /// Length needed.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// The SIMD level asked for does not run on this CPU.
    LevelUnavailable {
        /// The level.
        level: Level,
    },
    /// A buffer of a compressed N:M matrix (see [`compress`](crate::compress))
    /// has the wrong length.
    BufferLength {
        /// Which buffer: `weights`, `mask`, `values`, `indices` or `bitmask`.
        what: &'static str,
        /// Length needed.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// A matrix's columns do not divide into N:M groups of `m`.
    GroupCols {
        /// Columns of the matrix.
        cols: usize,
        /// Group length.
        m: usize,
    },
    /// An N:M group of a mask or bitmask does not prune exactly `n` of its
    /// elements.
    GroupZeros {
        /// Row of the matrix.
        row: usize,
        /// Group within the row (columns `group * m ..`).
        group: usize,
        /// Pruned positions found.
        zeros: usize,
        /// Pruned positions the N:M layout needs.
        n: usize,
    },
    /// An N:M group's index metadata is not strictly increasing positions
    /// below `m`.
    GroupIndices {
        /// Row of the matrix.
        row: usize,
        /// Group within the row.
        group: usize,
    },
    /// A bitmask row has a bit set past the matrix's last column.
    BitmaskPadding {
        /// Row of the matrix.
        row: usize,
    },
    /// [`Criterion::Wanda`](crate::Criterion::Wanda) needs the layer's
    /// input scale, and it has none.
    InputScaleMissing,
    /// The layer lends an input scale, but the criterion uses none.
    InputScaleUnused {
        /// The criterion of the options.
        criterion: crate::Criterion,
    },
    /// The input scale does not have one value per input feature.
    InputScaleLength {
        /// Input features of the layer's view (input channels of a conv).
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// An input scale value is NaN, infinite or negative.
    InputScaleValue {
        /// Input feature.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A layer has a target of its own under global scope, where one
    /// threshold serves every layer.
    LayerTargetInGlobalScope,
    /// Row scope with inclusive ties: each row prunes exactly its `k`.
    RowScopeTies,
    /// A numeric parameter outside its range.
    BadParameter {
        /// Which parameter.
        what: &'static str,
        /// The value.
        value: f64,
        /// Its range.
        expected: &'static str,
    },
}

impl Error {
    pub(crate) const fn new(kind: ErrorKind) -> Self {
        Error { layer: None, kind }
    }

    pub(crate) const fn in_layer(layer: usize, kind: ErrorKind) -> Self {
        Error {
            layer: Some(layer),
            kind,
        }
    }

    /// An [`ErrorKind::UnknownName`] error.
    pub(crate) fn unknown_name(
        what: &'static str,
        name: &str,
        expected: &'static [&'static str],
    ) -> Self {
        Error::new(ErrorKind::UnknownName {
            what,
            name: PatternName::truncated(name),
            expected,
        })
    }

    /// The same error about layer `layer` of a list: for code that runs a
    /// one-layer operation (such as `Pruner::write_mask`, whose errors
    /// name no layer) over a list.
    ///
    /// ```
    /// use prunemask::{Error, ErrorKind};
    /// let e = Error::from(ErrorKind::PlanMismatch).at_layer(3);
    /// assert_eq!(e.layer(), Some(3));
    /// ```
    pub fn at_layer(mut self, layer: usize) -> Self {
        self.layer = Some(layer);
        self
    }

    /// The index of the layer the error is about, if it is about one.
    ///
    /// ```
    /// use prunemask::{Pattern};
    /// assert_eq!(Pattern::parse("nope").unwrap_err().layer(), None);
    /// ```
    pub fn layer(&self) -> Option<usize> {
        self.layer
    }

    /// What went wrong.
    ///
    /// ```
    /// use prunemask::{ErrorKind, Pattern};
    /// let err = Pattern::parse("0x4").unwrap_err();
    /// assert_eq!(err.kind(), &ErrorKind::BadPattern { reason: "block sizes must be at least 1" });
    /// ```
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

/// An error about no layer in particular, for code built on the library
/// that reports its own checks the library's way.
///
/// ```
/// use prunemask::{Error, ErrorKind};
/// let e = Error::from(ErrorKind::LayerCount { what: "masks", expected: 3, got: 2 });
/// assert_eq!((e.layer(), e.to_string()), (None, "masks: 2 given for 3 layers".to_string()));
/// ```
impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl fmt::Display for Error {
    /// `layer N: ` (when the error is in a layer), then the kind.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(layer) = self.layer {
            write!(f, "layer {layer}: ")?;
        }
        fmt::Display::fmt(&self.kind, f)
    }
}

/// What is wrong, without the layer: for a caller that names the layer
/// itself (a tensor name, a file).
///
/// ```
/// use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape};
/// let (a, b) = ([1.0f32; 4], [1.0, f32::NAN, 2.0, 3.0]);
/// let layers = [&a[..], &b[..]].map(|w| Layer::new(w, Shape::matrix(1, 4)));
/// let opts = Options::new(Pattern::parse("1x1")?, 0.5);
/// let e = Pruner::new().plan(&layers, &opts, &mut [LayerPlan::default(); 2]).unwrap_err();
/// assert_eq!(e.layer(), Some(1));
/// assert_eq!(e.to_string(), format!("layer 1: {}", e.kind()));
/// assert_eq!(e.kind().to_string(), "score at element 1 is NaN");
/// # Ok::<(), prunemask::Error>(())
/// ```
impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::ZeroDimension => f.write_str("shape has a zero dimension"),
            ErrorKind::ShapeOverflow => f.write_str("shape has more elements than usize holds"),
            ErrorKind::ScoreLength { expected, got } => {
                write!(f, "score slice has {got} elements, shape needs {expected}")
            }
            ErrorKind::MaskLength { expected, got } => {
                write!(f, "mask slice has {got} elements, shape needs {expected}")
            }
            ErrorKind::LayerCount {
                what,
                expected,
                got,
            } => write!(f, "{what}: {got} given for {expected} layers"),
            ErrorKind::BadRatio { what, value } => {
                write!(f, "{what} must be in [0, 1], got {value}")
            }
            ErrorKind::BoundsCrossed { min, max } => write!(
                f,
                "min_sparsity_ratio_per_op {min} is above max_sparsity_ratio_per_op {max}"
            ),
            ErrorKind::RatioAbovePattern { sparsity, max } => write!(
                f,
                "sparsity {sparsity} is above what the N:M pattern can prune ({max})"
            ),
            ErrorKind::NanScore { index } => write!(f, "score at element {index} is NaN"),
            ErrorKind::NanUnit { unit } => write!(
                f,
                "unit {unit} has a NaN score (its block mixes +inf and -inf)"
            ),
            ErrorKind::MaskValue { index, value } => {
                write!(f, "mask value {value} at element {index} is not 0 or 1")
            }
            ErrorKind::UnknownPattern { name, registry } => {
                write!(f, "unknown pattern `{name}`; registered: ")?;
                for (i, n) in registry.names().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(n)?;
                }
                Ok(())
            }
            ErrorKind::UnknownName {
                what,
                name,
                expected,
            } => {
                write!(f, "unknown {what} `{name}`; expected one of: ")?;
                for (i, n) in expected.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(n)?;
                }
                Ok(())
            }
            ErrorKind::BadPattern { reason } => write!(f, "bad pattern: {reason}"),
            ErrorKind::Registry { reason } => write!(f, "registry: {reason}"),
            ErrorKind::PlanMismatch => f.write_str("layer does not match its plan"),
            ErrorKind::SplitParts { part: Some(i), reason } => {
                write!(f, "split selection, part {i}: {reason}")
            }
            ErrorKind::SplitParts { part: None, reason } => {
                write!(f, "split selection: {reason}")
            }
            ErrorKind::NotFitting { reason } => write!(f, "the pattern does not fit: {reason:?}"),
            ErrorKind::OutputLength { expected, got } => {
                write!(f, "output buffer has {got} elements, needs {expected}")
            }
            ErrorKind::LevelUnavailable { level } => {
                write!(f, "SIMD level {level:?} is not available on this CPU")
            }
            ErrorKind::BufferLength {
                what,
                expected,
                got,
            } => write!(f, "{what} buffer has {got} elements, needs {expected}"),
            ErrorKind::GroupCols { cols, m } => {
                write!(f, "{cols} columns do not divide into N:M groups of {m}")
            }
            ErrorKind::GroupZeros {
                row,
                group,
                zeros,
                n,
            } => write!(
                f,
                "row {row}, group {group}: {zeros} pruned positions, the N:M layout needs exactly {n}"
            ),
            ErrorKind::GroupIndices { row, group } => write!(
                f,
                "row {row}, group {group}: index metadata is not strictly increasing positions below M"
            ),
            ErrorKind::BitmaskPadding { row } => {
                write!(f, "row {row}: bitmask bit set past the last column")
            }
            ErrorKind::InputScaleMissing => f.write_str(
                "criterion wanda needs the layer's input scale (the L2 norm of each input feature over calibration tokens)",
            ),
            ErrorKind::InputScaleUnused { criterion } => write!(
                f,
                "the layer has an input scale, but criterion {criterion} uses none (criterion wanda does)"
            ),
            ErrorKind::InputScaleLength { expected, got } => write!(
                f,
                "input scale has {got} values, the layer has {expected} input features"
            ),
            ErrorKind::InputScaleValue { index, value } => write!(
                f,
                "input scale of input feature {index} is {value}; it must be finite and >= 0"
            ),
            ErrorKind::LayerTargetInGlobalScope => f.write_str(
                "the layer has a target_sparsity of its own, which needs local or row scope (global scope has one threshold for all)",
            ),
            ErrorKind::BadParameter {
                what,
                value,
                expected,
            } => write!(f, "{what} must be {expected}, got {value}"),
            ErrorKind::RowScopeTies => f.write_str(
                "row scope prunes exactly k units per row: it needs exact ties, not inclusive (INC has no row scope)",
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
