//! Pattern names: `Pattern::parse`, `Registry::with(..).lookup`, and
//! `Pattern::new` with runtime-sized kernel sets.
//!
//! Invariants:
//! - no panic;
//! - every `Ok` pattern has a valid geometry (block sides >= 1, not both
//!   `channel`; `1 <= N < M <= 128` for N:M), its name is the part of the
//!   input after the last `_` (at most 32 bytes), and it matches an
//!   independent reading of the grammar in SEMANTICS section 2;
//! - the built-in registry, a valid user registry (for names it does not
//!   define), `Pattern::parse` and `FromStr` agree; a pattern displays as
//!   its name;
//! - the name parses as an option word (`Scope`, `Ties`, `Reduce`,
//!   `Criterion`, `CapMode`, `Compat`, `Level`) exactly when it is one of
//!   its `NAMES`, and then displays as itself; else `UnknownName`;
//! - an invalid user registry fails every lookup with a registry error;
//! - every error has non-empty `Display` text, and no layer;
//! - an `Ok` pattern can be used: a small `Pruner::prune`, `Pruner::lock`
//!   and `Pruner::mask_sparsity` run without panicking and give 0/1 masks.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use prunemask::ext::{Extent, Geometry, KernelSet, Registry, Tile, BUILTIN_NAMES};
use prunemask::{
    CapMode, Compat, Criterion, ErrorKind, Layer, LayerPlan, LayerReport, Level, Options, Pattern,
    PatternName, Pruner, Reduce, Scope, Shape, Ties,
};

/// A user kernel: scores a block by its first element.
fn first(t: &Tile<'_>, out: &mut [f32]) {
    for (u, o) in out.iter_mut().enumerate() {
        *o = t.value(t.unit_row * t.unit_rows, (t.first_unit + u) * t.unit_cols);
    }
}

const VALID: Registry = Registry::with(&[
    ("first2x2", KernelSet::custom_block(2, 2, first)),
    ("wide", KernelSet::block::<1, 32>()),
    ("nm316", KernelSet::n_in_m_dyn(3, 16)),
    (
        "chan3",
        KernelSet::block_dyn(Extent::Fixed(3), Extent::Channel),
    ),
]);
const VALID_NAMES: [&str; 4] = ["first2x2", "wide", "nm316", "chan3"];

/// Registries `check` must reject.
const INVALID: [Registry; 6] = [
    Registry::with(&[
        ("a", KernelSet::block::<1, 2>()),
        ("a", KernelSet::block::<2, 1>()),
    ]),
    Registry::with(&[("2:4", KernelSet::block::<1, 2>())]),
    Registry::with(&[("my_name", KernelSet::block::<1, 2>())]),
    Registry::with(&[("", KernelSet::block::<1, 2>())]),
    Registry::with(&[("bad", KernelSet::n_in_m_dyn(4, 2))]),
    Registry::with(&[(
        "thisnameislongerthanthirtytwobytes",
        KernelSet::block::<1, 2>(),
    )]),
];

#[derive(Debug, Arbitrary)]
enum Token {
    Num(u8),
    Big(u64),
    Channel,
    X,
    Colon,
    Underscore,
    Plus,
    Zero,
    Builtin(u8),
    User(u8),
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum Name {
    Raw(String),
    Tokens(Vec<Token>),
}

#[derive(Debug, Arbitrary)]
struct Input {
    name: Name,
    registry: u8,
    /// `Pattern::new` with runtime kernel sets: (kind, n, m).
    direct: (u8, u16, u16),
    /// Small layers for a trial run: (rows, cols, values).
    trial: (u8, u8, Vec<i8>),
}

fn name_of(name: &Name) -> String {
    match name {
        Name::Raw(s) => s.clone(),
        Name::Tokens(ts) => {
            let mut s = String::new();
            for t in ts.iter().take(12) {
                match t {
                    Token::Num(n) => s.push_str(&(n % 40).to_string()),
                    Token::Big(n) => s.push_str(&n.to_string()),
                    Token::Channel => s.push_str("channel"),
                    Token::X => s.push('x'),
                    Token::Colon => s.push(':'),
                    Token::Underscore => s.push('_'),
                    Token::Plus => s.push('+'),
                    Token::Zero => s.push('0'),
                    Token::Builtin(i) => {
                        s.push_str(BUILTIN_NAMES[*i as usize % BUILTIN_NAMES.len()])
                    }
                    Token::User(i) => s.push_str(VALID_NAMES[*i as usize % VALID_NAMES.len()]),
                    Token::Raw(r) => s.push_str(r),
                }
            }
            s
        }
    }
}

fn check_geometry(g: Geometry, what: &str) {
    match g {
        Geometry::Block { n, m } => {
            assert!(
                n != Extent::Fixed(0) && m != Extent::Fixed(0),
                "{what}: {g:?}"
            );
            assert!(
                !(n == Extent::Channel && m == Extent::Channel),
                "{what}: {g:?}"
            );
        }
        Geometry::NInM { n, m } => {
            assert!(n >= 1 && n < m && m <= 128, "{what}: {g:?}");
        }
    }
}

/// The first `max` bytes of `s`, cut on a char boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = 0;
    for (i, ch) in s.char_indices() {
        if i + ch.len_utf8() > max {
            break;
        }
        end = i + ch.len_utf8();
    }
    &s[..end]
}

/// An independent reading of SEMANTICS section 2 for the built-in registry:
/// `Some(geometry)` if the key names a pattern, `None` if it is an error.
fn oracle(key: &str) -> Option<Geometry> {
    // Sizes are plain ASCII digits (no sign, no spaces).
    let number = |s: &str| -> Option<usize> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let side = |s: &str| -> Option<Extent> {
        if s == "channel" {
            Some(Extent::Channel)
        } else {
            number(s).map(Extent::Fixed)
        }
    };
    let g = if let Some((n, m)) = key.split_once('x') {
        Geometry::Block {
            n: side(n)?,
            m: side(m)?,
        }
    } else if let Some((n, m)) = key.split_once(':') {
        Geometry::NInM {
            n: number(n)?,
            m: number(m)?,
        }
    } else {
        return None;
    };
    let ok = match g {
        Geometry::Block { n, m } => {
            n != Extent::Fixed(0)
                && m != Extent::Fixed(0)
                && !(n == Extent::Channel && m == Extent::Channel)
        }
        Geometry::NInM { n, m } => n >= 1 && n < m && m <= 128,
    };
    ok.then_some(g)
}

fn check_err(e: &prunemask::Error, what: &str) {
    let text = e.to_string();
    assert!(!text.is_empty(), "{what}: empty error text for {e:?}");
    assert_eq!(e.layer(), None, "{what}: {e:?}");
}

/// `name` as an option word of type `T`, whose names are `names`.
fn option_word<T>(name: &str, names: &[&str])
where
    T: core::str::FromStr<Err = prunemask::Error> + core::fmt::Display,
{
    match name.parse::<T>() {
        Ok(v) => {
            assert!(names.contains(&name), "{name:?} parsed");
            assert_eq!(v.to_string(), name);
        }
        Err(e) => {
            assert!(!names.contains(&name), "{name:?} rejected: {e}");
            check_err(&e, name);
            assert!(
                matches!(e.kind(), ErrorKind::UnknownName { expected, .. } if *expected == names),
                "{e:?}"
            );
        }
    }
}

/// Uses the pattern on two small layers; no panic, masks 0/1.
fn trial(p: &Pattern, rows: usize, cols: usize, values: &[i8]) {
    let n = rows * cols;
    let a: Vec<f32> = (0..n)
        .map(|j| values.get(j).copied().unwrap_or(0) as f32)
        .collect();
    let b: Vec<f32> = (0..2 * 2 * 2 * 4)
        .map(|j| values.get(n + j).copied().unwrap_or(1) as f32)
        .collect();
    let layers = [
        Layer::new(&a[..], Shape::matrix(rows, cols)),
        Layer::new(&b[..], Shape::conv(2, 4, 2, 2)),
    ];
    let mut ma = vec![7u8; a.len()];
    let mut mb = vec![7u8; b.len()];
    let mut plans = [LayerPlan::default(); 2];
    let max = match p.geometry() {
        Geometry::NInM { n, m } => n as f64 / m as f64,
        Geometry::Block { .. } => 1.0,
    };
    let opts = Options::new(p.clone(), max / 2.0).max_sparsity_ratio_per_op(1.0);
    let mut pruner = Pruner::new();
    // Finite scores, valid ratios: this cannot fail.
    match pruner.prune(&layers, &opts, &mut plans, &mut [&mut ma[..], &mut mb[..]]) {
        Ok(_) => assert!(ma.iter().chain(&mb).all(|&x| x <= 1)),
        Err(e) => panic!("prune of small finite layers failed: {e}"),
    }
    let mut la = vec![7u8; a.len()];
    let mut lb = vec![7u8; b.len()];
    let mut reports = [LayerReport::default(); 2];
    match pruner.lock(&layers, p, &mut reports, &mut [&mut la[..], &mut lb[..]]) {
        Ok(_) => {
            assert!(la.iter().chain(&lb).all(|&x| x <= 1));
            let shapes = [layers[0].shape, layers[1].shape];
            let s = pruner
                .mask_sparsity(p, &shapes, &[&la[..], &lb[..]])
                .expect("sparsity of lock masks");
            assert!(s.zero <= s.total);
            assert!((0.0..=1.0).contains(&s.ratio()));
        }
        Err(e) => panic!("lock of finite weights failed: {e}"),
    }
}

fuzz_target!(|input: Input| {
    let name = name_of(&input.name);
    let key = name.rsplit('_').next().unwrap_or(&name);

    let parsed = Pattern::parse(&name);
    let builtin = Registry::new().lookup(&name);
    match (&parsed, &builtin) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.geometry(), b.geometry());
            assert_eq!(a.name(), b.name());
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("parse and Registry::new().lookup disagree on {name:?}"),
    }
    match (&parsed, name.parse::<Pattern>()) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.geometry(), b.geometry());
            assert_eq!(a.name(), b.name());
            assert_eq!(a.to_string(), a.name());
        }
        (Err(a), Err(b)) => assert_eq!(*a, b),
        _ => panic!("parse and FromStr disagree on {name:?}"),
    }
    option_word::<Scope>(&name, Scope::NAMES);
    option_word::<Ties>(&name, Ties::NAMES);
    option_word::<Reduce>(&name, Reduce::NAMES);
    option_word::<Criterion>(&name, Criterion::NAMES);
    option_word::<CapMode>(&name, CapMode::NAMES);
    option_word::<Compat>(&name, Compat::NAMES);
    option_word::<Level>(&name, Level::NAMES);
    match &parsed {
        Ok(p) => {
            check_geometry(p.geometry(), &name);
            assert_eq!(p.kernels().geometry(), p.geometry());
            assert_eq!(
                p.name(),
                truncate(key, PatternName::CAPACITY),
                "name of {name:?}"
            );
            let expected = if BUILTIN_NAMES.contains(&key) {
                p.geometry() // checked against its runtime spelling below
            } else {
                oracle(key).unwrap_or_else(|| panic!("{name:?} parsed as {:?}", p.geometry()))
            };
            assert_eq!(p.geometry(), expected, "{name:?}");
            // The name a pattern reports parses back to the same geometry.
            if key.len() <= PatternName::CAPACITY {
                let again = Pattern::parse(p.name()).expect("a pattern's own name parses");
                assert_eq!(again.geometry(), p.geometry());
            }
            let (rows, cols) = (
                input.trial.0 as usize % 12 + 1,
                input.trial.1 as usize % 12 + 1,
            );
            trial(p, rows, cols, &input.trial.2);
        }
        Err(e) => {
            check_err(e, &name);
            assert!(
                BUILTIN_NAMES.contains(&key) || oracle(key).is_none(),
                "{name:?} rejected: {e}"
            );
            if let ErrorKind::UnknownPattern { .. } = e.kind() {
                assert!(e.to_string().starts_with("unknown pattern `"));
                assert!(!key.contains('x') && !key.contains(':'));
            }
        }
    }
    // Built-in names agree with their runtime-parsed spelling ("04x1").
    if BUILTIN_NAMES.contains(&key) {
        let g = parsed.as_ref().expect("built-in").geometry();
        if let Some(o) = oracle(key) {
            assert_eq!(g, o, "built-in {key}");
        }
    }

    // A user registry.
    let which = input.registry as usize % (INVALID.len() + 1);
    if which == INVALID.len() {
        assert!(VALID.check().is_ok());
        let user = VALID.lookup(&name);
        if let Some(i) = VALID_NAMES.iter().position(|n| *n == key) {
            let p = user.expect("a registered name");
            assert_eq!(p.name(), VALID_NAMES[i]);
            check_geometry(p.geometry(), key);
        } else {
            match (&user, &parsed) {
                (Ok(a), Ok(b)) => assert_eq!(a.geometry(), b.geometry()),
                (Err(a), Err(b)) => {
                    check_err(a, &name);
                    // UnknownPattern lists the registry, which differs.
                    assert_eq!(
                        core::mem::discriminant(a.kind()),
                        core::mem::discriminant(b.kind())
                    );
                    if let ErrorKind::UnknownPattern { .. } = a.kind() {
                        assert!(a.to_string().contains("first2x2, wide, nm316, chan3, 1x1"));
                    }
                }
                _ => panic!("VALID.lookup and parse disagree on {name:?}"),
            }
        }
    } else {
        let reg = INVALID[which];
        let e = reg.check().expect_err("invalid registry passes check");
        check_err(&e, "check");
        let e = reg
            .lookup(&name)
            .expect_err("lookup in an invalid registry");
        check_err(&e, &name);
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Registry { .. } | ErrorKind::BadPattern { .. }
            ),
            "{e:?}"
        );
    }

    // Pattern::new with runtime kernel sets.
    let (kind, n, m) = input.direct;
    let side = |x: u16| {
        if x == u16::MAX {
            Extent::Channel
        } else {
            Extent::Fixed(x as usize % 300)
        }
    };
    let (set, valid) = match kind % 3 {
        0 => {
            let g = Geometry::Block {
                n: side(n),
                m: side(m),
            };
            let Geometry::Block { n, m } = g else {
                unreachable!()
            };
            let ok = n != Extent::Fixed(0)
                && m != Extent::Fixed(0)
                && !(n == Extent::Channel && m == Extent::Channel);
            (KernelSet::block_dyn(n, m), ok)
        }
        1 => {
            let (n, m) = (n as usize % 200, m as usize % 200);
            (KernelSet::n_in_m_dyn(n, m), n >= 1 && n < m && m <= 128)
        }
        _ => {
            let (n, m) = (n as usize % 40, m as usize % 40);
            (KernelSet::custom_block(n, m, first), n >= 1 && m >= 1)
        }
    };
    match Pattern::new(&name, set) {
        Ok(p) => {
            assert!(valid, "Pattern::new accepted {:?}", set.geometry());
            check_geometry(p.geometry(), "Pattern::new");
            assert_eq!(p.name(), truncate(&name, PatternName::CAPACITY));
            trial(
                &p,
                input.trial.0 as usize % 12 + 1,
                input.trial.1 as usize % 12 + 1,
                &input.trial.2,
            );
        }
        Err(e) => {
            assert!(!valid, "Pattern::new rejected {:?}: {e}", set.geometry());
            check_err(&e, "Pattern::new");
            assert!(matches!(e.kind(), ErrorKind::BadPattern { .. }));
        }
    }
});
