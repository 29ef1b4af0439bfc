//! A fixed-capacity, const-constructible table from names to kernel sets.

use super::{truncated, Extent, KernelSet, Pattern};
use crate::error::{Error, ErrorKind};

/// The built-in kernel sets, const-generic over their sizes.
const BUILTIN: [(&str, KernelSet); 17] = [
    ("1x1", KernelSet::block::<1, 1>()),
    ("4x1", KernelSet::block::<4, 1>()),
    ("1x4", KernelSet::block::<1, 4>()),
    ("8x1", KernelSet::block::<8, 1>()),
    ("1x8", KernelSet::block::<1, 8>()),
    ("16x1", KernelSet::block::<16, 1>()),
    ("1x16", KernelSet::block::<1, 16>()),
    ("2x2", KernelSet::block::<2, 2>()),
    ("4x4", KernelSet::block::<4, 4>()),
    (
        "channelx1",
        KernelSet::block_dyn(Extent::Channel, Extent::Fixed(1)),
    ),
    (
        "1xchannel",
        KernelSet::block_dyn(Extent::Fixed(1), Extent::Channel),
    ),
    ("1:2", KernelSet::n_in_m::<1, 2>()),
    ("2:4", KernelSet::n_in_m::<2, 4>()),
    ("1:4", KernelSet::n_in_m::<1, 4>()),
    ("4:8", KernelSet::n_in_m::<4, 8>()),
    ("2:8", KernelSet::n_in_m::<2, 8>()),
    ("8:16", KernelSet::n_in_m::<8, 16>()),
];

/// Names of the built-in patterns. Any other `NxM` (sizes or `channel`) and
/// `N:M` also parses, served by the runtime-sized kernels.
///
/// ```
/// assert!(prunemask::BUILTIN_NAMES.contains(&"2:4"));
/// ```
pub const BUILTIN_NAMES: [&str; BUILTIN.len()] = {
    let mut names = [""; BUILTIN.len()];
    let mut i = 0;
    while i < BUILTIN.len() {
        names[i] = BUILTIN[i].0;
        i += 1;
    }
    names
};

/// Names to kernel sets: the built-ins plus a `'static` table of your own.
/// No heap, `Copy`, and `const`-constructible, so a registry can live in a
/// `const` or `static`.
///
/// Lookup takes the part of a name after its last `_` (`"nxm_4x1"` is
/// `"4x1"`), tries your entries, then the built-ins, then parses `NxM` (with
/// `channel` for either side) or `N:M` into the runtime-sized kernels.
///
/// ```
/// use prunemask::{KernelSet, Registry, Tile};
///
/// // Score 2x2 blocks by their largest element, under a name of our own.
/// fn peak(t: &Tile<'_>, out: &mut [f32]) {
///     for (u, o) in out.iter_mut().enumerate() {
///         let (r0, c0) = (t.unit_row * 2, (t.first_unit + u) * 2);
///         let mut best = f32::NEG_INFINITY;
///         for r in r0..r0 + 2 {
///             for c in c0..c0 + 2 {
///                 best = best.max(t.value(r, c));
///             }
///         }
///         *o = best;
///     }
/// }
///
/// const REGISTRY: Registry = Registry::with(&[("peak2x2", KernelSet::custom_block(2, 2, peak))]);
/// assert!(REGISTRY.check().is_ok());
/// let pattern = REGISTRY.lookup("peak2x2").unwrap();
/// assert_eq!(pattern.name(), "peak2x2");
/// assert!(REGISTRY.lookup("2:4").is_ok()); // built-ins stay
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Registry {
    user: &'static [(&'static str, KernelSet)],
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

/// Registries are equal when they hold the same names.
impl PartialEq for Registry {
    fn eq(&self, other: &Self) -> bool {
        self.names().eq(other.names())
    }
}

impl Registry {
    /// The built-ins only.
    ///
    /// ```
    /// static REGISTRY: prunemask::Registry = prunemask::Registry::new();
    /// assert!(REGISTRY.lookup("4x1").is_ok());
    /// ```
    pub const fn new() -> Self {
        Registry { user: &[] }
    }

    /// The built-ins plus your entries, looked up first. Check the table
    /// once with [`check`](Self::check); [`lookup`](Self::lookup) does too.
    ///
    /// ```
    /// use prunemask::{KernelSet, Registry};
    /// const R: Registry = Registry::with(&[("wide", KernelSet::block::<1, 32>())]);
    /// assert_eq!(R.names().next(), Some("wide"));
    /// ```
    pub const fn with(entries: &'static [(&'static str, KernelSet)]) -> Self {
        Registry { user: entries }
    }

    /// Checks your entries: names of 1 to 32 bytes without `_`, none twice
    /// or equal to a built-in, and kernel sets of valid sizes.
    ///
    /// ```
    /// use prunemask::{KernelSet, Registry};
    /// const TAKEN: Registry = Registry::with(&[("2:4", KernelSet::block::<1, 2>())]);
    /// assert!(TAKEN.check().is_err());
    /// const TWICE: Registry =
    ///     Registry::with(&[("a", KernelSet::block::<1, 2>()), ("a", KernelSet::block::<2, 1>())]);
    /// assert!(TWICE.check().is_err());
    /// ```
    pub fn check(&self) -> Result<(), Error> {
        let fail = |reason| Err(Error::new(ErrorKind::Registry { reason }));
        for (i, (name, kernels)) in self.user.iter().enumerate() {
            kernels.validate()?;
            if name.is_empty() || name.contains('_') || name.len() > crate::error::NAME_CAPACITY {
                return fail("a name is 1 to 32 bytes without `_`");
            }
            let earlier = self.user[..i].iter().map(|(n, _)| *n);
            if earlier.chain(BUILTIN_NAMES).any(|n| n == *name) {
                return fail("a name is registered twice");
            }
        }
        Ok(())
    }

    fn find(&self, name: &str) -> Option<KernelSet> {
        self.user
            .iter()
            .chain(BUILTIN.iter())
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
    }

    /// Every registered name: yours, then the built-ins.
    ///
    /// ```
    /// let r = prunemask::Registry::new();
    /// assert_eq!(r.names().count(), prunemask::BUILTIN_NAMES.len());
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.user
            .iter()
            .map(|(n, _)| *n)
            .chain(BUILTIN_NAMES.iter().copied())
    }

    /// Resolves a pattern name; see the type's docs for the rules.
    ///
    /// ```
    /// use prunemask::{Extent, Geometry, Registry};
    /// let r = Registry::new();
    /// let p = r.lookup("snip_3xchannel").unwrap();
    /// assert_eq!(p.geometry(), Geometry::Block { n: Extent::Fixed(3), m: Extent::Channel });
    /// let err = r.lookup("topk").unwrap_err();
    /// assert!(err.to_string().starts_with("unknown pattern `topk`; registered: 1x1, 4x1"));
    /// ```
    pub fn lookup(&self, name: &str) -> Result<Pattern, Error> {
        self.check()?;
        let key = name.rsplit('_').next().unwrap_or(name);
        if let Some(kernels) = self.find(key) {
            return Pattern::new(key, kernels);
        }
        let bad = |reason| Error::new(ErrorKind::BadPattern { reason });
        let kernels = if let Some((n, m)) = key.split_once('x') {
            let side = |s: &str| match s {
                "channel" => Ok(Extent::Channel),
                _ => number(s)
                    .map(Extent::Fixed)
                    .ok_or_else(|| bad("block sides are numbers or `channel`")),
            };
            KernelSet::block_dyn(side(n)?, side(m)?)
        } else if let Some((n, m)) = key.split_once(':') {
            let num = |s: &str| number(s).ok_or_else(|| bad("N and M are numbers"));
            KernelSet::n_in_m_dyn(num(n)?, num(m)?)
        } else {
            return Err(Error::new(ErrorKind::UnknownPattern {
                name: truncated(key),
                registry: *self,
            }));
        };
        Pattern::new(key, kernels)
    }
}

/// A decimal number of ASCII digits only (`usize::from_str` also takes `+`).
fn number(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
