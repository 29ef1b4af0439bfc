//! The option words every layer uses: how blocks reduce, how ties break,
//! how element scores are read, and the instruction-set level. Each has
//! `FromStr` and `Display` with the names the CLI takes.

use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::scores::Element;

/// `FromStr` and `Display` for an option enum from one table of names, so
/// the names a CLI parses and the names it prints cannot drift apart.
macro_rules! named {
    ($ty:ty, $what:literal, [$($variant:expr => $name:literal),+ $(,)?]) => {
        impl $ty {
            /// Every value's name, as [`Display`](core::fmt::Display) writes
            /// it and [`FromStr`](core::str::FromStr) reads it.
            pub const NAMES: &'static [&'static str] = &[$($name),+];
        }

        impl core::fmt::Display for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                $(if *self == $variant {
                    return f.write_str($name);
                })+
                Ok(())
            }
        }

        impl core::str::FromStr for $ty {
            type Err = $crate::vocab::error::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $(if s == $name {
                    return Ok($variant);
                })+
                Err($crate::vocab::error::Error::unknown_name($what, s, Self::NAMES))
            }
        }
    };
}
pub(crate) use named;

/// How a block's element scores reduce to the block's score.
///
/// All sums follow one canonical order, the same on every machine and SIMD
/// level: torch's CPU float32 order for INC's `x.mean(-1).mean(1)`
/// (`docs/semantics.md`, "Summation order"). `Mean` is the mean over rows
/// of each row's mean, the reference (INC 2.0 `PatternNxM`); INC 3.x adds
/// `sum` and `max` (`criterion_reduce_type`).
///
/// ```
/// use prunemask::Reduce;
/// assert_eq!("l2".parse::<Reduce>().unwrap(), Reduce::L2);
/// assert_eq!(Reduce::Max.to_string(), "max");
/// assert!("median".parse::<Reduce>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reduce {
    /// Mean of row means (the reference).
    #[default]
    Mean,
    /// Sum.
    Sum,
    /// Largest element.
    Max,
    /// Squared L2 norm: same ranking as the norm, without rounding a square root.
    L2,
}

named!(Reduce, "reduce", [Reduce::Mean => "mean", Reduce::Sum => "sum", Reduce::Max => "max", Reduce::L2 => "l2"]);

/// How ties with the k-th smallest score are broken.
///
/// ```
/// use prunemask::Ties;
/// assert_eq!("inclusive".parse::<Ties>().unwrap(), Ties::Inclusive);
/// assert_eq!(Ties::default().to_string(), "exact");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Ties {
    /// Exactly `k` units: all below the threshold, then those equal to it in
    /// pool order (layer order, then row-major unit index). N:M least-N marks
    /// exactly `N` per group, lower column first among equals.
    #[default]
    Exact,
    /// The reference (INC 2.0): every unit `<=` the threshold is pruned, so
    /// ties can prune more than `k`.
    Inclusive,
}

named!(Ties, "ties", [Ties::Exact => "exact", Ties::Inclusive => "inclusive"]);

/// How element scores are read from a layer's slice.
///
/// ```
/// use prunemask::Criterion;
/// assert_eq!("magnitude".parse::<Criterion>().unwrap(), Criterion::Magnitude);
/// assert_eq!(Criterion::Scores.to_string(), "scores");
/// assert_eq!("wanda".parse::<Criterion>().unwrap(), Criterion::Wanda);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Criterion {
    /// The slices hold scores, used as they are (INC's `scores` argument).
    #[default]
    Scores,
    /// `|w|`: the slices hold weights, ranked by magnitude (taken on the fly).
    Magnitude,
    /// Wanda (Sun et al., 2023, "A Simple and Effective Pruning Approach
    /// for Large Language Models"): `|w_ij| · s_j`, the slices hold
    /// weights and each layer lends `s`, the L2 norm `‖X_j‖₂` of input
    /// feature `j` over calibration tokens
    /// ([`Layer::input_scale`](crate::Layer::input_scale); for a conv
    /// weight, one per input channel). Taken on the fly, one `f32`
    /// multiply per element, nothing copied. Wanda compares within each
    /// output row: use it with [`Scope::Row`](crate::Scope::Row) (N:M
    /// groups lie within a row already).
    Wanda,
}

named!(Criterion, "criterion", [Criterion::Scores => "scores", Criterion::Magnitude => "magnitude", Criterion::Wanda => "wanda"]);

impl Criterion {
    /// One element's score before any scale: `|x|` for magnitude and
    /// Wanda, `x` for scores.
    #[inline(always)]
    pub(crate) fn read<E: Element>(self, x: E) -> f32 {
        if self.abs() {
            x.widen().abs()
        } else {
            x.widen()
        }
    }

    /// Whether the score takes the magnitude of the value.
    #[inline(always)]
    pub(crate) fn abs(self) -> bool {
        self != Criterion::Scores
    }

    /// Whether each layer must lend a per-input-feature scale.
    pub(crate) fn scaled(self) -> bool {
        self == Criterion::Wanda
    }
}

/// An instruction-set level the kernels can run at.
///
/// [`Level::best`] is what the CPU offers (detected at run time, also in
/// `no_std` on x86 through CPUID); [`Pruner::level`](crate::Pruner::level)
/// forces one, e.g. to compare levels. Every level gives the same masks,
/// bit for bit.
///
/// ```
/// use prunemask::Level;
/// assert!(Level::Scalar.is_available());
/// assert!(Level::best().is_available());
/// assert_eq!("v4".parse::<Level>().unwrap(), Level::V4);
/// let here: Vec<Level> = Level::ALL.into_iter().filter(|l| l.is_available()).collect();
/// assert!(here.contains(&Level::Scalar));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// Portable code, the reference.
    Scalar,
    /// x86-64-v3: AVX2 and FMA (8 lanes).
    V3,
    /// x86-64-v4: AVX-512 F/BW/CD/DQ/VL (16 lanes).
    V4,
    /// aarch64 NEON (4 lanes).
    Neon,
}

named!(Level, "level", [Level::Scalar => "scalar", Level::V3 => "v3", Level::V4 => "v4", Level::Neon => "neon"]);

impl Level {
    /// Every level, available here or not.
    pub const ALL: [Level; 4] = [Level::Scalar, Level::V3, Level::V4, Level::Neon];

    /// The widest level this CPU runs.
    ///
    /// ```
    /// println!("{}", prunemask::Level::best());
    /// ```
    pub fn best() -> Level {
        [Level::V4, Level::V3, Level::Neon]
            .into_iter()
            .find(|l| l.is_available())
            .unwrap_or(Level::Scalar)
    }

    /// Whether this CPU (and this build) runs the level.
    ///
    /// ```
    /// assert!(prunemask::Level::Scalar.is_available());
    /// ```
    pub fn is_available(self) -> bool {
        // Miri runs no CPUID and few intrinsics: the scalar level only.
        if cfg!(miri) {
            return self == Level::Scalar;
        }
        match self {
            Level::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Level::V3 => pulp::x86::V3::is_available(),
            #[cfg(target_arch = "x86_64")]
            Level::V4 => pulp::x86::V4::is_available(),
            #[cfg(target_arch = "aarch64")]
            Level::Neon => pulp::aarch64::Neon::is_available(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// `Ok` when this CPU runs the level, else
    /// [`ErrorKind::LevelUnavailable`].
    pub(crate) fn check(self) -> Result<(), Error> {
        if self.is_available() {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::LevelUnavailable { level: self }))
        }
    }
}
