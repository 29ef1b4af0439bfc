//! The `prune` example on checkpoints, in process: a small sharded bf16
//! checkpoint (with f32 norms and biases, an int tensor, and an embedding
//! and `lm_head` left dense by `--exclude`) is pruned; the outputs are read
//! back with the `safetensors` crate and checked: masks (2:4 groups, the
//! target sparsity, equal to the library's own `prune`), dtypes, untouched
//! tensors byte for byte, pruned tensors, the index files; then the error
//! cases, which must leave no output behind.

#[path = "../examples/prune/main.rs"]
#[allow(dead_code)]
mod prune;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use half::bf16;
use prunemask::{Criterion, Layer, LayerReport, Options, Pattern, Shape};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

/// A tensor of the test checkpoint: name, dtype, shape, bytes.
type Spec = (&'static str, Dtype, Vec<usize>, Vec<u8>);

/// A bf16 tensor of deterministic weights with no zero (so a zero in an
/// output is a pruned weight).
fn bf16_tensor(name: &'static str, dims: [usize; 2], seed: u32) -> Spec {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let data = (0..dims[0] * dims[1])
        .flat_map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let magnitude = 0.01 + (x >> 8) as f32 / (1u32 << 24) as f32;
            let sign = if x & 1 == 0 { 1.0 } else { -1.0 };
            bf16::from_f32(sign * magnitude).to_le_bytes()
        })
        .collect();
    (name, Dtype::BF16, dims.to_vec(), data)
}

/// An f32 vector (a norm or a bias).
fn f32_tensor(name: &'static str, n: usize) -> Spec {
    let data = (0..n)
        .flat_map(|i| (1.0 + i as f32).to_le_bytes())
        .collect();
    (name, Dtype::F32, vec![n], data)
}

/// Two shards and their index, as Hugging Face lays them out.
fn shards() -> [Vec<Spec>; 2] {
    let ids = (0..8i64).flat_map(i64::to_le_bytes).collect();
    [
        vec![
            bf16_tensor("model.embed_tokens.weight", [64, 16], 1),
            bf16_tensor("model.layers.0.mlp.up_proj.weight", [32, 16], 2),
            f32_tensor("model.layers.0.mlp.up_proj.bias", 32),
            f32_tensor("model.layers.0.input_layernorm.weight", 16),
        ],
        vec![
            bf16_tensor("model.layers.0.mlp.down_proj.weight", [16, 32], 3),
            bf16_tensor("model.layers.1.self_attn.q_proj.weight", [16, 16], 4),
            ("position_ids", Dtype::I64, vec![1, 8], ids),
            bf16_tensor("lm_head.weight", [64, 16], 5),
        ],
    ]
}

const SHARD_NAMES: [&str; 2] = [
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
];
const INDEX: &str = "model.safetensors.index.json";

fn write_checkpoint(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut weight_map = BTreeMap::new();
    for (specs, file) in shards().iter().zip(SHARD_NAMES) {
        let views: Vec<_> = specs
            .iter()
            .map(|(name, dtype, shape, data)| {
                weight_map.insert(name.to_string(), file.to_string());
                (*name, TensorView::new(*dtype, shape.clone(), data).unwrap())
            })
            .collect();
        safetensors::serialize_to_file(views, None, &dir.join(file)).unwrap();
    }
    let index = serde_json::json!({"metadata": {"total_size": 0}, "weight_map": weight_map});
    std::fs::write(dir.join(INDEX), index.to_string()).unwrap();
}

fn run(args: &[&str]) -> Result<prune::Report, String> {
    let cli = prune::Cli::try_parse_from(std::iter::once("prune").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    prune::run(&cli)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The entries of a directory, sorted (to check nothing was left behind).
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn index(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const LAYERS: [&str; 3] = [
    "model.layers.0.mlp.up_proj.weight",
    "model.layers.0.mlp.down_proj.weight",
    "model.layers.1.self_attn.q_proj.weight",
];

#[test]
fn sharded_bf16_checkpoint_pruned_2_4() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    write_checkpoint(&input);
    let (masks_dir, out_dir) = (tmp.path().join("masks"), tmp.path().join("out"));
    let report = run(&[
        s(&input),
        "--pattern",
        "2:4",
        "--sparsity",
        "0.25",
        "--exclude",
        "embed|lm_head",
        "--masks",
        s(&masks_dir),
        "--output",
        s(&out_dir),
        "--threads",
        "2",
    ])
    .unwrap();

    // The report: three layers, the rest dense with a reason.
    assert_eq!(report.totals.layers, 3);
    assert_eq!(report.totals.dense, 5);
    assert_eq!(report.totals.copied, 0);
    let row = |name: &str| report.tensors.iter().find(|r| r.name == name).unwrap();
    assert_eq!(
        row("lm_head.weight").reason.as_deref(),
        Some("excluded by --exclude")
    );
    assert_eq!(row("position_ids").reason.as_deref(), Some("dtype I64"));
    assert_eq!(
        row("model.layers.0.mlp.up_proj.bias").reason.as_deref(),
        Some("rank 1")
    );
    for name in LAYERS {
        assert_eq!(row(name).status, "selected");
        assert_eq!(row(name).pattern.as_deref(), Some("2:4"));
    }
    // Global selection at 0.25 with 2:4 prunes half of all groups.
    assert_eq!(report.totals.pruned_elements * 4, report.totals.elements);
    let json: Value = serde_json::from_str(&report.json()).unwrap();
    assert_eq!(json["tensors"].as_array().unwrap().len(), 8);
    assert_eq!(json["options"]["pattern"], "2:4");

    // Nothing but the three destinations in the parent: no temporaries.
    assert_eq!(entries(tmp.path()), ["in", "masks", "out"]);
    assert_eq!(entries(&masks_dir), [SHARD_NAMES[0], SHARD_NAMES[1], INDEX]);
    assert_eq!(entries(&out_dir), [SHARD_NAMES[0], SHARD_NAMES[1], INDEX]);

    // The mask index lists the layers only; the output index is the input's
    // weight map with the real total size.
    let mask_index = index(&masks_dir.join(INDEX));
    let listed: Vec<&str> = mask_index["weight_map"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(listed.len(), 3);
    assert!(LAYERS.iter().all(|l| listed.contains(l)));
    assert_eq!(
        mask_index["metadata"]["total_size"],
        32 * 16 + 16 * 32 + 256
    );
    let out_index = index(&out_dir.join(INDEX));
    assert_eq!(
        out_index["weight_map"],
        index(&input.join(INDEX))["weight_map"]
    );
    let data_bytes: usize = shards().iter().flatten().map(|t| t.3.len()).sum();
    assert_eq!(out_index["metadata"]["total_size"], data_bytes);

    // Every tensor: dtype and shape kept; dense ones byte for byte; pruned
    // ones equal to the input where the mask keeps and zero where it prunes.
    let mut masks = BTreeMap::new();
    let mut pruned_elements = 0;
    for (specs, file) in shards().iter().zip(SHARD_NAMES) {
        let out_bytes = std::fs::read(out_dir.join(file)).unwrap();
        let out = SafeTensors::deserialize(&out_bytes).unwrap();
        let mask_bytes = std::fs::read(masks_dir.join(file)).unwrap();
        let mask_file = SafeTensors::deserialize(&mask_bytes).unwrap();
        assert_eq!(out.len(), specs.len());
        for (name, dtype, shape, data) in specs {
            let t = out.tensor(name).unwrap();
            assert_eq!((t.dtype(), t.shape()), (*dtype, &shape[..]), "{name}");
            if !LAYERS.contains(name) {
                assert_eq!(t.data(), &data[..], "{name} is not byte for byte");
                assert!(mask_file.tensor(name).is_err(), "{name} has a mask");
                continue;
            }
            let m = mask_file.tensor(name).unwrap();
            assert_eq!((m.dtype(), m.shape()), (Dtype::U8, &shape[..]));
            let mask = m.data().to_vec();
            // 2:4: every group of 4 keeps all or exactly 2.
            for group in mask.chunks(4) {
                let zeros = group.iter().filter(|&&x| x == 0).count();
                assert!(zeros == 0 || zeros == 2, "{name}: group {group:?}");
                assert!(group.iter().all(|&x| x <= 1));
            }
            pruned_elements += mask.iter().filter(|&&x| x == 0).count();
            for ((w, orig), &keep) in t.data().chunks(2).zip(data.chunks(2)).zip(&mask) {
                let expected: &[u8] = if keep == 1 { orig } else { &[0, 0] };
                assert_eq!(w, expected, "{name}");
            }
            masks.insert(name.to_string(), mask);
        }
    }
    assert_eq!(pruned_elements as u64, report.totals.pruned_elements);

    // The masks are the library's own for these layers, in file order.
    let weights: Vec<(String, Vec<usize>, Vec<bf16>)> = report
        .tensors
        .iter()
        .filter(|r| r.pattern.is_some())
        .map(|r| {
            let (_, _, shape, data) = shards()
                .into_iter()
                .flatten()
                .find(|t| t.0 == r.name)
                .unwrap();
            (r.name.clone(), shape, bytemuck::pod_collect_to_vec(&data))
        })
        .collect();
    let layers: Vec<Layer<'_>> = weights
        .iter()
        .map(|(_, dims, w)| Layer::new(&w[..], Shape::from_dims(dims).unwrap()))
        .collect();
    let mut expected: Vec<Vec<u8>> = layers.iter().map(|l| vec![0; l.scores.len()]).collect();
    let mut outs: Vec<&mut [u8]> = expected.iter_mut().map(|m| &mut m[..]).collect();
    let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.25).criterion(Criterion::Magnitude);
    prunemask::prune(
        &layers,
        &opts,
        &mut vec![LayerReport::default(); 3],
        &mut outs,
    )
    .unwrap();
    for ((name, _, _), mask) in weights.iter().zip(&expected) {
        assert_eq!(&masks[name], mask, "{name}");
    }

    // Pattern lock on the pruned output finds the same masks.
    let locked = tmp.path().join("locked");
    run(&[
        s(&out_dir),
        "--lock",
        "--exclude",
        "embed|lm_head",
        "--masks",
        s(&locked),
        "--json",
    ])
    .unwrap();
    for (file, specs) in SHARD_NAMES.iter().zip(shards()) {
        let bytes = std::fs::read(locked.join(file)).unwrap();
        let lock_file = SafeTensors::deserialize(&bytes).unwrap();
        for (name, ..) in specs.iter().filter(|t| LAYERS.contains(&t.0)) {
            assert_eq!(
                lock_file.tensor(name).unwrap().data(),
                &masks[*name][..],
                "{name}"
            );
        }
    }
}

/// A single file whose f32 tensor sits at an odd offset: it is copied to be
/// read, the report says so, and the output is one file.
#[test]
fn misaligned_tensor_is_copied() {
    let tmp = tempfile::tempdir().unwrap();
    let mut header = r#"{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"w":{"dtype":"F32","shape":[4,4],"data_offsets":[3,67]}}"#.to_string();
    // Padded so the data section starts 8-aligned: `w` is then at 8k + 3.
    while !header.len().is_multiple_of(8) {
        header.push(' ');
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(&[7, 8, 9]);
    let w: Vec<f32> = (0..16).map(|i| (i as f32 - 7.5) * 0.1).collect();
    file.extend(w.iter().flat_map(|x| x.to_le_bytes()));
    let input = tmp.path().join("one.safetensors");
    std::fs::write(&input, &file).unwrap();
    let (masks, out) = (
        tmp.path().join("m.safetensors"),
        tmp.path().join("o.safetensors"),
    );
    let report = run(&[s(&input), "--masks", s(&masks), "--output", s(&out)]).unwrap();
    let row = report.tensors.iter().find(|r| r.name == "w").unwrap();
    assert!(row.copied);
    assert_eq!(
        (report.totals.copied, report.totals.pruned_elements),
        (1, 8)
    );

    let out_bytes = std::fs::read(&out).unwrap();
    // Same header and layout as the input.
    assert_eq!(out_bytes.len(), file.len());
    assert_eq!(out_bytes[..file.len() - 64], file[..file.len() - 64]);
    let mask_bytes = std::fs::read(&masks).unwrap();
    let mask = SafeTensors::deserialize(&mask_bytes).unwrap();
    let m = mask.tensor("w").unwrap().data().to_vec();
    let pruned = &out_bytes[file.len() - 64..];
    for (i, (&keep, x)) in m.iter().zip(pruned.chunks(4)).enumerate() {
        let expected = if keep == 1 { w[i] } else { 0.0 };
        assert_eq!(f32::from_le_bytes(x.try_into().unwrap()), expected);
    }
    // 2:4 by magnitude: the two smallest |w| of each row of 4 go.
    assert_eq!(m, [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1]);
}

/// Runs a failing case and checks the error names what it should and that
/// the directory the outputs would go to is as it was.
fn fails(dir: &Path, args: &[&str], says: &[&str]) {
    let before = entries(dir);
    let err = run(args).unwrap_err();
    assert!(!err.contains('\n'), "not one line: {err}");
    for part in says {
        assert!(err.contains(part), "`{err}` does not mention `{part}`");
    }
    assert_eq!(entries(dir), before, "output left behind after: {err}");
}

fn outputs(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("masks"), dir.join("out"))
}

#[test]
fn bad_inputs_leave_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    write_checkpoint(&good);
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let (masks, out) = outputs(&work);
    let both = |input: &Path| -> Vec<String> {
        vec![
            s(input).into(),
            "--exclude".into(),
            "embed|lm_head".into(),
            "--masks".into(),
            s(&masks).into(),
            "--output".into(),
            s(&out).into(),
        ]
    };
    let call = |dir: &Path, v: Vec<String>, says: &[&str]| {
        fails(dir, &v.iter().map(String::as_str).collect::<Vec<_>>(), says);
    };

    // A missing shard: named, with a tensor it should hold.
    let missing = tmp.path().join("missing");
    write_checkpoint(&missing);
    std::fs::remove_file(missing.join(SHARD_NAMES[1])).unwrap();
    call(&work, both(&missing), &[SHARD_NAMES[1], "tensor `"]);

    // An index naming a tensor its shard does not hold.
    let listed = tmp.path().join("listed");
    write_checkpoint(&listed);
    let mut idx = index(&listed.join(INDEX));
    idx["weight_map"]["ghost.weight"] = SHARD_NAMES[0].into();
    std::fs::write(listed.join(INDEX), idx.to_string()).unwrap();
    call(&work, both(&listed), &[SHARD_NAMES[0], "ghost.weight"]);

    // A truncated shard.
    let truncated = tmp.path().join("truncated");
    write_checkpoint(&truncated);
    let shard = truncated.join(SHARD_NAMES[0]);
    let len = std::fs::metadata(&shard).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&shard)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    call(&work, both(&truncated), &[SHARD_NAMES[0]]);

    // A corrupt header.
    let corrupt = tmp.path().join("corrupt");
    write_checkpoint(&corrupt);
    let shard = corrupt.join(SHARD_NAMES[1]);
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes[12] = b'#';
    std::fs::write(&shard, bytes).unwrap();
    call(&work, both(&corrupt), &[SHARD_NAMES[1]]);

    // A NaN weight: the error names the file and the tensor.
    let nan = tmp.path().join("nan");
    write_checkpoint(&nan);
    let shard = nan.join(SHARD_NAMES[1]);
    let mut bytes = std::fs::read(&shard).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let data = st.tensor(LAYERS[1]).unwrap().data();
    let at = data.as_ptr() as usize - bytes.as_ptr() as usize + 6;
    bytes[at..at + 2].copy_from_slice(&bf16::NAN.to_le_bytes());
    std::fs::write(&shard, bytes).unwrap();
    call(&work, both(&nan), &[SHARD_NAMES[1], LAYERS[1], "NaN"]);

    // A tensor selected by --include that is not float.
    let mut v = both(&good);
    v.extend(["--include".into(), "position_ids|q_proj".into()]);
    call(&work, v, &[SHARD_NAMES[1], "position_ids", "I64"]);

    // An output that exists: refused, and left as it was.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    call(&work, both(&good), &["out", "already exists"]);
    assert_eq!(entries(&out), ["keep.txt"]);
    std::fs::remove_dir_all(&out).unwrap();

    // An output that cannot be written (its directory does not exist).
    let nowhere = work.join("no/such/dir/out");
    call(
        &work,
        vec![s(&good).into(), "--output".into(), s(&nowhere).into()],
        &["no/such/dir/out"],
    );

    // The good checkpoint still prunes into the same places.
    let v = both(&good);
    run(&v.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
    assert_eq!(entries(&work), ["masks", "out"]);
}

/// The in-memory demo runs with a name filter, and its masks go to one file.
#[test]
fn demo_model_with_filter() {
    let tmp = tempfile::tempdir().unwrap();
    let masks = tmp.path().join("m.safetensors");
    let report = run(&[
        "--include",
        r"layer\.0\.attention\.self\.query",
        "--masks",
        s(&masks),
        "--json",
    ])
    .unwrap();
    assert_eq!((report.totals.layers, report.totals.dense), (1, 71));
    assert_eq!(report.totals.pruned_elements, 768 * 768 / 2);
    let bytes = std::fs::read(&masks).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.names(), ["encoder.layer.0.attention.self.query.weight"]);
}
