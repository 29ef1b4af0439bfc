//! A fixed-capacity, const-constructible table from names to kernel sets.

use super::Pattern;
use crate::vocab::error::{Error, ErrorKind, PatternName};
use crate::vocab::ext::{Extent, KernelSet, Registry, BUILTIN_NAMES};

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

// The table's names are `ext::BUILTIN_NAMES`, in order.
const _: () = {
    let mut i = 0;
    while i < BUILTIN.len() {
        let (a, b) = (BUILTIN[i].0.as_bytes(), BUILTIN_NAMES[i].as_bytes());
        assert!(a.len() == b.len());
        let mut j = 0;
        while j < a.len() {
            assert!(a[j] == b[j]);
            j += 1;
        }
        i += 1;
    }
};

impl Registry {
    /// Checks your entries: names of 1 to 32 bytes without `_`, none twice
    /// or equal to a built-in, and kernel sets of valid sizes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Registry`] for a bad or repeated name,
    /// [`ErrorKind::BadPattern`] for a kernel set of sizes no kernel serves.
    ///
    /// ```
    /// use prunemask::ext::{KernelSet, Registry};
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
            if name.is_empty() || name.contains('_') || name.len() > PatternName::CAPACITY {
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

    /// Resolves a pattern name; see the type's docs and
    /// [`Pattern::parse`] for the rules.
    ///
    /// # Errors
    ///
    /// Those of [`check`](Registry::check);
    /// [`ErrorKind::UnknownPattern`] for a name that is neither registered
    /// nor `NxM` / `N:M`, listing the registered names;
    /// [`ErrorKind::BadPattern`] for malformed sizes.
    ///
    /// ```
    /// use prunemask::ext::{Extent, Geometry, Registry};
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
                name: PatternName::truncated(key),
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
