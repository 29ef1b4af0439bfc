//! Patterns: what a pruning unit is and everything done with one.
//!
//! A [`Pattern`] is a name plus a [`KernelSet`]: the unit geometry, the
//! function that scores units, and the unit's *kind*, one implementation of
//! the internal [`Kind`] trait per folder that owns everything else the
//! kind does (mask rows, the pattern-lock rule, zero counting):
//!
//! - `blocks/`: NxM blocks (and `channel` sides, `1x1` unstructured);
//! - `groups/`: N:M groups;
//! - `registry.rs`: names to kernel sets, const.
//!
//! A new kind is a folder here (its `Kind` implementation and its
//! `KernelSet` constructors), a `Geometry` variant that describes its
//! units, and its names in the registry.

mod blocks;
mod groups;
mod registry;
mod zeros;

use core::fmt;
use core::str::FromStr;

use crate::vocab::error::{Error, PatternName};
use crate::vocab::ext::{Geometry, KernelSet, Registry};

/// A resolved pattern: its name and kernel set.
///
/// ```
/// use prunemask::Pattern;
/// let p = Pattern::parse("nxm_4x1").unwrap(); // the part after the last `_` counts
/// assert_eq!(p.name(), "4x1");
/// assert!(Pattern::parse("4:2").is_err()); // N:M prunes N < M
/// ```
#[derive(Clone, Debug)]
pub struct Pattern {
    name: PatternName,
    kernels: KernelSet,
}

impl Pattern {
    /// Looks a name up in the built-in registry ([`Registry::lookup`]):
    ///
    /// - the part after the last `_` counts (`"nxm_4x1"` is `4x1`, as INC
    ///   names patterns);
    /// - `NxM`: blocks of `N` rows by `M` columns of the layer's 2-D view
    ///   (`[out, in]`; a conv weight as `[O, H*W*I]`); `channel` stands for
    ///   a whole side (`channelx1`: one input column over all rows;
    ///   `1xchannel`: a whole output row);
    /// - `N:M`: `N` weights **pruned** of every `M` consecutive ones along
    ///   each row (so `2:4` keeps 2 of 4, `1:4` prunes 25%), as INC and
    ///   llm-compressor count. NVIDIA ASP counts the kept ones (`m4n2` keeps
    ///   2 of 4): the two agree only for `2:4`.
    ///
    /// `docs/semantics.md` gives the rules in full.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::UnknownPattern`](crate::ErrorKind::UnknownPattern) for a name that is none of these,
    /// [`ErrorKind::BadPattern`](crate::ErrorKind::BadPattern) for sizes no kernel serves (`N >= M`, a
    /// zero side, `M > 128`).
    ///
    /// ```
    /// let p = prunemask::Pattern::parse("2:4").unwrap();
    /// assert_eq!(p.name(), "2:4");
    /// let q: prunemask::Pattern = "1xchannel".parse().unwrap();
    /// assert_eq!(q.to_string(), "1xchannel");
    /// ```
    pub fn parse(name: &str) -> Result<Self, Error> {
        Registry::new().lookup(name)
    }

    /// A pattern from a kernel set, under a name of your choice (kept to
    /// [`PatternName::CAPACITY`] bytes).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::BadPattern`](crate::ErrorKind::BadPattern) for sizes no kernel serves.
    ///
    /// ```
    /// use prunemask::{ext::KernelSet, Pattern};
    /// let p = Pattern::new("4x1", KernelSet::block::<4, 1>()).unwrap();
    /// ```
    pub fn new(name: &str, kernels: KernelSet) -> Result<Self, Error> {
        kernels.validate()?;
        Ok(Pattern {
            name: PatternName::truncated(name),
            kernels,
        })
    }

    /// The pattern's name (the part after the last `_` of what was parsed).
    ///
    /// ```
    /// assert_eq!(prunemask::Pattern::parse("1xchannel").unwrap().name(), "1xchannel");
    /// ```
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The unit geometry.
    ///
    /// ```
    /// use prunemask::{ext::Geometry, Pattern};
    /// assert!(matches!(Pattern::parse("4x4").unwrap().geometry(), Geometry::Block { .. }));
    /// ```
    pub fn geometry(&self) -> Geometry {
        self.kernels.geometry
    }

    /// The kernel set.
    ///
    /// ```
    /// let p = prunemask::Pattern::parse("4:8").unwrap();
    /// assert_eq!(p.kernels().geometry(), p.geometry());
    /// ```
    pub fn kernels(&self) -> &KernelSet {
        &self.kernels
    }
}

impl FromStr for Pattern {
    type Err = Error;

    /// [`Pattern::parse`].
    fn from_str(name: &str) -> Result<Self, Error> {
        Pattern::parse(name)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
