//! `prunemask prune` on checkpoints, the built binary run on real files: a
//! small sharded bf16 checkpoint (with f32 norms and biases, an int tensor,
//! and an embedding and `lm_head` left dense by `--exclude`) is pruned; the
//! outputs are read back with the `safetensors` crate and checked: masks
//! (2:4 groups, the target sparsity, equal to the library's own `prune`),
//! dtypes, untouched tensors byte for byte, pruned tensors, the index files;
//! then the error cases, which must exit non-zero with one line naming the
//! file and tensor and leave no output behind; then the command line itself
//! (no arguments runs the demo, `--scope`/`--domain`, bad flags).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use half::bf16;
use predicates::prelude::*;
use prunemask::{
    Bound, CapMode, Compat, Criterion, Layer, LayerPlan, Options, Pattern, Pruner, Reduce, Scope,
    Shape, Status, Ties,
};
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

/// The binary.
fn prunemask() -> assert_cmd::Command {
    cargo_bin_cmd!("prunemask")
}

/// Runs `prunemask prune ARGS` with `--json` (added if not given): the
/// report, or the error the binary printed on stderr, checked to be one
/// line (`error: ...`) with a failing exit status and nothing on stdout.
fn run(args: &[&str]) -> Result<Value, String> {
    run_with(args, &[])
}

/// [`run`] with environment variables set.
fn run_with(args: &[&str], env: &[(&str, &str)]) -> Result<Value, String> {
    let mut cmd = prunemask();
    cmd.arg("prune").args(args).envs(env.iter().copied());
    if !args.contains(&"--json") {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    if out.status.success() {
        assert_eq!(stderr, "", "a successful run printed on stderr");
        return Ok(serde_json::from_slice(&out.stdout).unwrap());
    }
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "a failed run printed a report");
    let line = stderr.strip_suffix('\n').unwrap_or(&stderr);
    let err = line
        .strip_prefix("error: ")
        .unwrap_or_else(|| panic!("{stderr}"));
    Err(err.to_string())
}

/// The row of tensor `name` in a report.
fn row<'a>(report: &'a Value, name: &str) -> &'a Value {
    (report["tensors"].as_array().unwrap().iter())
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row {name}"))
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

/// The weights of the tensors a report gave to the selection (those with a
/// pattern), in the report's (file) order: name, shape, values.
fn layer_weights(report: &Value) -> Vec<(String, Vec<usize>, Vec<bf16>)> {
    report["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["pattern"].is_null())
        .map(|r| {
            let (name, _, shape, data) = shards()
                .into_iter()
                .flatten()
                .find(|t| r["name"] == t.0)
                .unwrap();
            (name.to_string(), shape, bytemuck::pod_collect_to_vec(&data))
        })
        .collect()
}

fn as_layers(weights: &[(String, Vec<usize>, Vec<bf16>)]) -> Vec<Layer<'_>> {
    weights
        .iter()
        .map(|(_, dims, w)| Layer::new(&w[..], Shape::from_dims(dims).unwrap()))
        .collect()
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
    let totals = &report["totals"];
    assert_eq!(totals["layers"], 3);
    assert_eq!(totals["dense"], 5);
    assert_eq!(totals["copied"], 0);
    let row = |name: &str| row(&report, name);
    assert_eq!(row("lm_head.weight")["reason"], "excluded by --exclude");
    assert_eq!(row("position_ids")["reason"], "dtype I64");
    assert_eq!(
        row("model.layers.0.mlp.up_proj.bias")["reason"],
        "bias, dense by default"
    );
    for name in LAYERS {
        assert_eq!(row(name)["status"], "selected");
        assert_eq!(row(name)["pattern"], "2:4");
    }
    // Global selection at 0.25 with 2:4 prunes half of all groups.
    let pruned_total = totals["pruned_elements"].as_u64().unwrap();
    assert_eq!(pruned_total * 4, totals["elements"].as_u64().unwrap());
    assert_eq!(report["tensors"].as_array().unwrap().len(), 8);
    assert_eq!(report["options"]["pattern"], "2:4");

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
    assert_eq!(pruned_elements as u64, pruned_total);

    // The masks are the library's own for these layers, in file order.
    let weights = layer_weights(&report);
    let layers = as_layers(&weights);
    let mut expected: Vec<Vec<u8>> = layers.iter().map(|l| vec![0; l.scores.len()]).collect();
    let mut outs: Vec<&mut [u8]> = expected.iter_mut().map(|m| &mut m[..]).collect();
    let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.25).criterion(Criterion::Magnitude);
    Pruner::new()
        .prune(
            &layers,
            &opts,
            &mut vec![LayerPlan::default(); 3],
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
    assert_eq!(row(&report, "w")["copied"], true);
    assert_eq!(
        (
            &report["totals"]["copied"],
            &report["totals"]["pruned_elements"]
        ),
        (&Value::from(1), &Value::from(8))
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

/// Runs a failing case and checks the error (one line on stderr, a
/// failing exit status: see [`run`]) names what it should and that the
/// directory the outputs would go to is as it was.
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
    let totals = &report["totals"];
    assert_eq!(
        (&totals["layers"], &totals["dense"]),
        (&Value::from(1), &Value::from(71))
    );
    assert_eq!(totals["pruned_elements"], 768 * 768 / 2);
    let bytes = std::fs::read(&masks).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.names(), ["encoder.layer.0.attention.self.query.weight"]);
}

/// The same run without `--json`: the table names every tensor, why the
/// dense ones are dense, the totals and where the outputs went.
#[test]
fn table_report() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    write_checkpoint(&input);
    let masks = tmp.path().join("masks");
    let out = prunemask()
        .args(["prune", s(&input), "--sparsity", "0.25"])
        .args(["--exclude", "embed|lm_head", "--masks", s(&masks)])
        .assert()
        .success()
        .stderr("")
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("pattern 2:4  sparsity 0.25  global  ties exact"));
    for (name, ..) in shards().iter().flatten() {
        assert!(text.contains(name), "{name} is not in\n{text}");
    }
    for note in [
        "dense: excluded by --exclude",
        "dense: dtype I64",
        "dense: bias, dense by default",
    ] {
        assert!(text.contains(note), "{note} is not in\n{text}");
    }
    assert!(text.contains(
        "total: 3 layers (0 skipped, 0 held at a bound), 5 dense tensors, 320 units, 160 pruned (k = 160), 320 of 1280 elements pruned, sparsity 0.2500, score mass kept 0."
    ));
    assert!(text.contains(&format!("masks written to {}", masks.display())));
}

/// Every line of a table report but the timings.
fn without_times(stdout: &[u8]) -> Vec<String> {
    (String::from_utf8_lossy(stdout).lines())
        .filter(|l| !l.starts_with("time: "))
        .map(String::from)
        .collect()
}

/// `prunemask` alone prunes the BERT-base-shaped demo, as `prunemask prune`.
#[test]
fn no_arguments_runs_the_demo() {
    let alone = prunemask().assert().success().get_output().stdout.clone();
    let lines = without_times(&alone);
    assert!(lines[0].starts_with("pattern 2:4  sparsity 0.5  global"));
    assert_eq!(
        lines.len(),
        1 + 1 + 72 + 1 + 1 + 1,
        "options, header, 72 rows, totals, whole model, nothing written"
    );
    assert!(lines[75].starts_with("whole model: 42467328 of 84934656 float parameters pruned"));
    assert_eq!(lines[76], "nothing written (no --output, no --masks)");
    assert!(
        lines[74].starts_with("total: 72 layers (0 skipped, 0 held at a bound), 0 dense tensors")
    );
    assert!(lines[74].contains("42467328 of 84934656 elements pruned, sparsity 0.5000"));
    let prune = prunemask()
        .arg("prune")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(without_times(&prune), lines);
}

/// `--scope` is the flag's name, `--domain` its alias; both reach the
/// library (local: each layer pruned to the target alone).
#[test]
fn scope_and_domain() {
    let demo = [
        "--include",
        r"layer\.0\.(attention\.self\.query|intermediate)\.",
        "--pattern",
        "4x1",
        "--sparsity",
        "0.3",
    ];
    let global = run(&demo).unwrap();
    assert_eq!(global["options"]["scope"], "global");
    let mut reports = Vec::new();
    for flag in ["--scope", "--domain"] {
        let report = run(&[&demo[..], &[flag, "local"]].concat()).unwrap();
        assert_eq!(report["options"]["scope"], "local", "{flag}");
        assert_eq!(report["totals"]["layers"], 2);
        for r in report["tensors"].as_array().unwrap() {
            if r["status"] == "selected" {
                let (units, pruned) = (
                    r["units"].as_u64().unwrap(),
                    r["pruned_units"].as_u64().unwrap(),
                );
                assert_eq!(pruned, units * 3 / 10, "{}", r["name"]);
            }
        }
        reports.push(report["tensors"].clone());
    }
    assert_eq!(reports[0], reports[1]);
    assert_ne!(global["tensors"], reports[0]);
}

/// `--compat inc`: INC 2.0's ties, cap and reduction, as the report says
/// (each word as the library writes it).
#[test]
fn inc_compat() {
    let report = run(&[
        "--pattern",
        "4x1",
        "--sparsity",
        "0.7",
        "--compat",
        "inc",
        "--include",
        r"layer\.1\.attention\.self\.key",
    ])
    .unwrap();
    let o = &report["options"];
    assert_eq!(
        (&o["pattern"], &o["compat"]),
        (&Value::from("4x1"), &Value::from("inc"))
    );
    assert_eq!(o["compat"], Compat::Inc20.to_string());
    assert_eq!(
        (&o["ties"], &o["cap"], &o["reduce"]),
        (
            &Value::from("inclusive"),
            &Value::from("seed"),
            &Value::from("mean")
        )
    );
    assert_eq!(report["totals"]["layers"], 1);
    assert!(report["totals"]["pruned_units"].as_u64().unwrap() >= 768 * 768 / 4 * 7 / 10);
}

/// `--max-sparsity-ratio-per-op` and `--min-sparsity-ratio-per-op` (and
/// their old names `--max-layer-sparsity`, `--min-layer-sparsity`) reach
/// the library: every row is the library's own plan, the layers held at a
/// bound say which one, and the report names the options as the flags do.
#[test]
fn per_op_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    write_checkpoint(&input);
    // Layers of one distribution: at 0.5 with a cap of 0.45 every layer
    // crosses it; at 0.1 with a floor of 0.2 every layer is below it.
    for (sparsity, max, min, bound, flag) in [
        (
            "0.5",
            "0.45",
            "0",
            Bound::Max,
            "--max-sparsity-ratio-per-op",
        ),
        (
            "0.1",
            "0.98",
            "0.2",
            Bound::Min,
            "--min-sparsity-ratio-per-op",
        ),
    ] {
        let mut reports = Vec::new();
        for [max_flag, min_flag] in [
            ["--max-sparsity-ratio-per-op", "--min-sparsity-ratio-per-op"],
            ["--max-layer-sparsity", "--min-layer-sparsity"],
        ] {
            let args = [s(&input), "--pattern", "1x1", "--sparsity", sparsity];
            let bounds = [max_flag, max, min_flag, min, "--exclude", "embed|lm_head"];
            let report = run(&[&args[..], &bounds].concat()).unwrap();
            let o = &report["options"];
            assert_eq!(o["max_sparsity_ratio_per_op"], max.parse::<f64>().unwrap());
            assert_eq!(o["min_sparsity_ratio_per_op"], min.parse::<f64>().unwrap());

            let weights = layer_weights(&report);
            let layers = as_layers(&weights);
            let opts = Options::new(Pattern::parse("1x1").unwrap(), sparsity.parse().unwrap())
                .criterion(Criterion::Magnitude)
                .max_sparsity_ratio_per_op(max.parse().unwrap())
                .min_sparsity_ratio_per_op(min.parse().unwrap());
            let mut plans = vec![LayerPlan::default(); layers.len()];
            let summary = Pruner::new().plan(&layers, &opts, &mut plans).unwrap();
            assert_eq!(summary.bounded, 3, "{flag}: every layer is held");
            assert_eq!(report["totals"]["bounded"], summary.bounded);
            assert_eq!(report["totals"]["pruned_units"], summary.pruned_units);
            for ((name, ..), plan) in weights.iter().zip(&plans) {
                let (r, expected) = (row(&report, name), plan.report());
                assert_eq!(expected.status, Status::Bounded(bound), "{name}");
                assert_eq!(r["status"], "bounded", "{name}");
                assert_eq!(r["reason"], format!("held at {flag}"), "{name}");
                assert_eq!(r["pruned_units"], expected.pruned_units, "{name}");
                assert_eq!(r["units"], expected.units, "{name}");
                let threshold = r["threshold"].as_f64().map(|x| x as f32);
                assert_eq!(threshold, expected.threshold, "{name}");
            }
            reports.push(report["tensors"].clone());
        }
        assert_eq!(reports[0], reports[1], "{flag} and its old name");
    }
}

/// Bad flags: one line on stderr and a failing exit (2 for what clap
/// refuses, 1 for what the run refuses), nothing on stdout.
#[test]
fn bad_flags() {
    for (args, code, says) in [
        (&["prune", "--bogus"][..], 2, "--bogus"),
        (&["prune", "--scope", "sideways"], 2, "sideways"),
        (&["prune", "--ties", "sideways"], 2, "sideways"),
        // The library's names only: not the old Debug text.
        (&["prune", "--compat", "inc20"], 2, "inc20"),
        (&["prune", "--threads", "many"], 2, "many"),
        (&["frobnicate"], 2, "frobnicate"),
        (&["prune", "--pattern", "3x"], 1, "error: "),
        // Bad options are refused before the input is opened, in the
        // flags' own names.
        (
            &["prune", "/nonexistent.safetensors", "--sparsity", "2"],
            1,
            "error: --sparsity must be in [0, 1], got 2",
        ),
        (
            &["prune", "--pattern", "4:2"],
            1,
            "error: --pattern 4:2: bad pattern: N:M needs N < M",
        ),
        (
            &["prune", "--pattern", "2:4", "--sparsity", "0.6"],
            1,
            "error: --sparsity 0.6 is above what --pattern 2:4 can prune (0.5)",
        ),
        (
            &[
                "prune",
                "--min-sparsity-ratio-per-op",
                "0.6",
                "--max-sparsity-ratio-per-op",
                "0.5",
            ],
            1,
            "error: --min-sparsity-ratio-per-op 0.6 is above --max-sparsity-ratio-per-op 0.5",
        ),
        (&["prune", "--include", "("], 1, "--include"),
        (
            &["prune", "--masks", "x", "--output", "x"],
            1,
            "--masks and --output name the same path",
        ),
    ] {
        let out = prunemask()
            .args(args)
            .assert()
            .code(code)
            .stdout("")
            .get_output()
            .clone();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn help_and_version() {
    prunemask()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("prune").and(predicate::str::contains("BERT-base")));
    prunemask()
        .args(["prune", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--scope").and(predicate::str::contains("--domain")));
    // The new names of the per-layer bounds with their old ones, and every
    // option word's values, as the library names them.
    let help = prunemask()
        .args(["prune", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(help).unwrap();
    for flag in [
        "--max-sparsity-ratio-per-op",
        "[alias: --max-layer-sparsity]",
        "--min-sparsity-ratio-per-op",
        "[alias: --min-layer-sparsity]",
    ] {
        assert!(help.contains(flag), "{flag} is not in\n{help}");
    }
    for names in [
        Scope::NAMES,
        Ties::NAMES,
        CapMode::NAMES,
        Reduce::NAMES,
        Criterion::NAMES,
        Compat::NAMES,
    ] {
        let values = format!("[possible values: {}]", names.join(", "));
        assert!(help.contains(&values), "{values} is not in\n{help}");
    }
    prunemask()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("prunemask {}\n", env!("CARGO_PKG_VERSION")));
}

/// Wanda's input scale of a layer with `inputs` input features: uneven,
/// with zeros (ties broken by the lower column), all finite and >= 0.
fn test_scale(inputs: usize, seed: usize) -> Vec<f32> {
    (0..inputs)
        .map(|j| ((j * 7919 + seed * 31) % 13) as f32 / 4.0)
        .collect()
}

/// A statistics file for `--activations`: each named vector, f32.
fn write_stats(path: &Path, stats: &[(&str, Vec<f32>)]) {
    let bytes: Vec<Vec<u8>> = (stats.iter())
        .map(|(_, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<_> = (stats.iter().zip(&bytes))
        .map(|((name, v), b)| {
            (
                *name,
                TensorView::new(Dtype::F32, vec![v.len()], b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// The statistics of the three layers of the test checkpoint (in features
/// 16, 32, 16), and one of a tensor no run prunes.
fn layer_stats() -> Vec<(&'static str, Vec<f32>)> {
    vec![
        (LAYERS[0], test_scale(16, 0)),
        (LAYERS[1], test_scale(32, 1)),
        (LAYERS[2], test_scale(16, 2)),
        ("lm_head.weight", test_scale(16, 3)),
    ]
}

/// Every mask of a masks directory written for the sharded checkpoint.
fn read_masks(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut masks = BTreeMap::new();
    for file in SHARD_NAMES {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        for (name, view) in st.tensors() {
            masks.insert(name, view.data().to_vec());
        }
    }
    masks
}

/// `--criterion wanda --activations FILE`: per row, each output row of a
/// layer prunes exactly floor(0.5 x its columns) weights, the smallest
/// `|w| · s[j]` (ties: lower column), computed here independently of the
/// library; 2:4 and local blocks give the library's own masks for the same
/// scales; the scores change the masks (magnitude gives others); the
/// pruned model has zeros where the masks do.
#[test]
fn wanda_from_a_statistics_file() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    write_checkpoint(&input);
    let stats = tmp.path().join("stats.safetensors");
    write_stats(&stats, &layer_stats());
    let scales: BTreeMap<&str, Vec<f32>> = layer_stats().into_iter().collect();
    let masks_of = |flags: &[&str], name: &str| {
        let dir = tmp.path().join(name);
        let base = [s(&input), "--exclude", "embed|lm_head", "--masks", s(&dir)];
        let report = run(&[&base[..], flags].concat()).unwrap();
        (report, read_masks(&dir))
    };
    let wanda = ["--criterion", "wanda", "--activations", s(&stats)];

    // Per row, 1x1, against the independent model.
    let row_flags = [
        &wanda[..],
        &["--pattern", "1x1", "--sparsity", "0.5", "--scope", "row"],
    ];
    let (report, masks) = masks_of(&row_flags.concat(), "row");
    assert_eq!(report["options"]["criterion"], "wanda");
    assert_eq!(report["options"]["scope"], "row");
    assert_eq!(report["options"]["activations"], s(&stats));
    for (name, dims, w) in layer_weights(&report) {
        let (rows, cols) = (dims[0], dims[1]);
        let scale = &scales[name.as_str()];
        let mut expected = vec![1u8; rows * cols];
        for r in 0..rows {
            let score = |c: usize| w[r * cols + c].to_f32().abs() * scale[c];
            let mut order: Vec<usize> = (0..cols).collect();
            order.sort_by(|&a, &b| score(a).total_cmp(&score(b)).then(a.cmp(&b)));
            for &c in &order[..cols / 2] {
                expected[r * cols + c] = 0;
            }
        }
        assert_eq!(masks[&name], expected, "{name}");
        assert_eq!(row(&report, &name)["target"], 0.5);
        assert_eq!(row(&report, &name)["sparsity"], 0.5);
    }

    // Magnitude per row prunes other weights.
    let (_, magnitude) = masks_of(
        &["--pattern", "1x1", "--sparsity", "0.5", "--scope", "row"],
        "mag",
    );
    assert_ne!(magnitude, masks);

    // 2:4 (global) and 1x4 blocks (local): the library's masks for the same
    // layers and scales.
    for (flags, scope) in [
        (vec!["--pattern", "2:4"], Scope::Global),
        (
            vec!["--pattern", "1x4", "--sparsity", "0.4", "--scope", "local"],
            Scope::Local,
        ),
    ] {
        let name = format!("lib-{}", flags[1].replace(':', "in"));
        let (report, masks) = masks_of(&[&wanda[..], &flags].concat(), &name);
        let weights = layer_weights(&report);
        let layers: Vec<Layer<'_>> = (as_layers(&weights).into_iter().zip(&weights))
            .map(|(l, (name, ..))| l.input_scale(&scales[name.as_str()]))
            .collect();
        let sparsity = if scope == Scope::Global { 0.5 } else { 0.4 };
        let opts = Options::new(Pattern::parse(flags[1]).unwrap(), sparsity)
            .scope(scope)
            .criterion(Criterion::Wanda);
        let mut expected: Vec<Vec<u8>> = layers.iter().map(|l| vec![0; l.scores.len()]).collect();
        let mut outs: Vec<&mut [u8]> = expected.iter_mut().map(|m| &mut m[..]).collect();
        let mut plans = vec![LayerPlan::default(); layers.len()];
        Pruner::new()
            .prune(&layers, &opts, &mut plans, &mut outs)
            .unwrap();
        for ((name, ..), mask) in weights.iter().zip(&expected) {
            assert_eq!(&masks[name], mask, "{flags:?} {name}");
        }
    }

    // The pruned model: the input's weights, +0.0 where the mask prunes.
    let out = tmp.path().join("out");
    run(&[
        &row_flags.concat()[..],
        &[s(&input), "--exclude", "embed|lm_head", "--output", s(&out)],
    ]
    .concat())
    .unwrap();
    let bytes = std::fs::read(out.join(SHARD_NAMES[0])).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let pruned: Vec<bf16> = bytemuck::pod_collect_to_vec(file.tensor(LAYERS[0]).unwrap().data());
    let (_, _, _, orig) = shards()
        .into_iter()
        .flatten()
        .find(|t| t.0 == LAYERS[0])
        .unwrap();
    let orig: Vec<bf16> = bytemuck::pod_collect_to_vec(&orig);
    for ((p, o), &keep) in pruned.iter().zip(&orig).zip(&masks[LAYERS[0]]) {
        assert_eq!(p.to_bits(), if keep == 1 { o.to_bits() } else { 0 });
    }
}

/// `--layer-sparsity FILE` gives the layers it names their own target (the
/// others take --sparsity), reported per layer; `--owl M,LAMBDA` gives each
/// numbered block the target `owl_targets` makes of its outlier ratio, as
/// the library computes both for the same layers.
#[test]
fn layer_budgets() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    write_checkpoint(&input);
    let budgets = tmp.path().join("budgets.json");
    let file = serde_json::json!({ LAYERS[0]: 0.25, LAYERS[2]: 0.75 });
    std::fs::write(&budgets, file.to_string()).unwrap();
    let base = [
        s(&input),
        "--exclude",
        "embed|lm_head",
        "--pattern",
        "1x1",
        "--sparsity",
        "0.5",
    ];
    for scope in ["local", "row"] {
        let flags = ["--scope", scope, "--layer-sparsity", s(&budgets)];
        let report = run(&[&base[..], &flags].concat()).unwrap();
        assert_eq!(report["options"]["layer_sparsity"], s(&budgets));
        for (name, target) in [(LAYERS[0], 0.25), (LAYERS[1], 0.5), (LAYERS[2], 0.75)] {
            let r = row(&report, name);
            assert_eq!(r["target"], target, "{scope} {name}");
            assert_eq!(r["sparsity"], target, "{scope} {name}");
        }
    }
    let global = run(&base).unwrap();
    assert!(row(&global, LAYERS[0])["target"].is_null());

    // OWL: blocks model.layers.0 (two layers) and model.layers.1 (one).
    let stats = tmp.path().join("stats.safetensors");
    write_stats(&stats, &layer_stats());
    let scales: BTreeMap<&str, Vec<f32>> = layer_stats().into_iter().collect();
    for wanda in [false, true] {
        let mut flags = vec!["--scope", "local", "--owl", "2,0.1"];
        if wanda {
            flags.extend(["--criterion", "wanda", "--activations", s(&stats)]);
        }
        let report = run(&[&base[..], &flags].concat()).unwrap();
        let weights = layer_weights(&report);
        let layers: Vec<Layer<'_>> = (as_layers(&weights).into_iter().zip(&weights))
            .map(|(l, (name, ..))| {
                if wanda {
                    l.input_scale(&scales[name.as_str()])
                } else {
                    l
                }
            })
            .collect();
        let criterion = if wanda {
            Criterion::Wanda
        } else {
            Criterion::Magnitude
        };
        let ratio = |ls: &[Layer<'_>]| Pruner::new().outliers(ls, criterion, 2.0).unwrap().ratio();
        let ratios = [ratio(&layers[..2]), ratio(&layers[2..])];
        let mut targets = [0.0; 2];
        prunemask::owl_targets(&ratios, 0.5, 0.1, &mut targets).unwrap();
        assert_ne!(targets[0], targets[1], "the blocks differ in outliers");
        let blocks = report["owl_blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 2);
        for (b, (name, layers)) in blocks
            .iter()
            .zip([("model.layers.0", 2), ("model.layers.1", 1)])
        {
            assert_eq!(
                (b["name"].as_str(), b["layers"].as_u64()),
                (Some(name), Some(layers))
            );
        }
        for (l, block) in [0, 0, 1].into_iter().enumerate() {
            assert_eq!(blocks[block]["outlier_ratio"], ratios[block]);
            assert_eq!(blocks[block]["target"], targets[block]);
            let r = row(&report, LAYERS[l]);
            assert_eq!(r["target"], targets[block], "{}", LAYERS[l]);
            let units = r["units"].as_u64().unwrap();
            let k = (targets[block] * units as f64).floor() as u64;
            assert_eq!(r["pruned_units"], k, "{}", LAYERS[l]);
        }
    }
}

/// Wanda's and the budgets' bad inputs: one line naming the file, the
/// tensor and the flag, before any output exists.
#[test]
fn wanda_and_budget_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    write_checkpoint(&input);
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let out = work.join("out");
    let stats_file = |name: &str, stats: &[(&str, Vec<f32>)]| {
        let path = tmp.path().join(name);
        write_stats(&path, stats);
        path.to_str().unwrap().to_string()
    };
    let call = |flags: &[&str], says: &[&str]| {
        let base = [s(&input), "--exclude", "embed|lm_head", "--output", s(&out)];
        fails(&work, &[&base[..], flags].concat(), says);
    };
    let wanda = |file: &str| -> Vec<String> {
        ["--criterion", "wanda", "--activations", file]
            .map(String::from)
            .to_vec()
    };
    let call_wanda = |file: &str, extra: &[&str], says: &[&str]| {
        let w = wanda(file);
        let mut flags: Vec<&str> = w.iter().map(String::as_str).collect();
        flags.extend(extra);
        call(&flags, says);
    };

    // A target without statistics: named, with the way out; --exclude it
    // and the run goes through.
    let partial = stats_file("partial.safetensors", &layer_stats()[..2]);
    call_wanda(
        &partial,
        &[],
        &["partial.safetensors", LAYERS[2], "--exclude"],
    );
    let w = wanda(&partial);
    let mut flags: Vec<&str> = w.iter().map(String::as_str).collect();
    flags.extend([s(&input), "--exclude", "embed|lm_head|q_proj"]);
    assert_eq!(run(&flags).unwrap()["totals"]["layers"], 2);

    // A file of another model: none of the weights found, one of its names shown.
    let other = stats_file(
        "other.safetensors",
        &[("h.0.attn.c_attn.weight", vec![1.0; 4])],
    );
    call_wanda(
        &other,
        &[],
        &[
            "other.safetensors",
            "none of the 3 weights",
            "h.0.attn.c_attn.weight",
        ],
    );
    call_wanda(&partial, &[], &["and 0 more of the 3"]);

    // Wrong length, negative, NaN, infinite, a matrix, not a float.
    let mut stats = layer_stats();
    stats[1].1.pop();
    let short = stats_file("short.safetensors", &stats);
    call_wanda(
        &short,
        &[],
        &[
            "short.safetensors",
            LAYERS[1],
            "31 values",
            "32 input features",
        ],
    );
    for (file, value) in [("neg", -1.0f32), ("nan", f32::NAN), ("inf", f32::INFINITY)] {
        let mut stats = layer_stats();
        stats[2].1[5] = value;
        let path = stats_file(&format!("{file}.safetensors"), &stats);
        call_wanda(
            &path,
            &[],
            &[&format!("{file}.safetensors"), LAYERS[2], "input feature 5"],
        );
    }
    let matrix = tmp.path().join("matrix.safetensors");
    let b: Vec<u8> = (0..32).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let mut views = vec![(
        LAYERS[1],
        TensorView::new(Dtype::F32, vec![2, 16], &b).unwrap(),
    )];
    let one: Vec<u8> = test_scale(16, 0)
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    views.push((
        LAYERS[0],
        TensorView::new(Dtype::F32, vec![16], &one).unwrap(),
    ));
    views.push((
        LAYERS[2],
        TensorView::new(Dtype::F32, vec![16], &one).unwrap(),
    ));
    safetensors::serialize_to_file(views, None, &matrix).unwrap();
    call_wanda(
        s(&matrix),
        &[],
        &["matrix.safetensors", LAYERS[1], "vector"],
    );
    let ints = tmp.path().join("ints.safetensors");
    let b: Vec<u8> = (0..16i64).flat_map(i64::to_le_bytes).collect();
    let (b32, b16): (Vec<u8>, Vec<u8>) = (
        test_scale(32, 1)
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect(),
        test_scale(16, 2)
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect(),
    );
    let views = vec![
        (
            LAYERS[0],
            TensorView::new(Dtype::I64, vec![16], &b).unwrap(),
        ),
        (
            LAYERS[1],
            TensorView::new(Dtype::F32, vec![32], &b32).unwrap(),
        ),
        (
            LAYERS[2],
            TensorView::new(Dtype::F32, vec![16], &b16).unwrap(),
        ),
    ];
    safetensors::serialize_to_file(views, None, &ints).unwrap();
    call_wanda(s(&ints), &[], &["ints.safetensors", LAYERS[0], "I64"]);
    // Not a safetensors file; no file.
    let text = tmp.path().join("stats.txt");
    std::fs::write(&text, "not safetensors").unwrap();
    call_wanda(s(&text), &[], &["stats.txt", "safetensors"]);
    call_wanda(
        s(&tmp.path().join("none.safetensors")),
        &[],
        &["none.safetensors"],
    );

    // The flags together: wanda needs the file, the file needs wanda; row
    // scope needs exact ties; budgets need local or row scope and no lock.
    let good = stats_file("good.safetensors", &layer_stats());
    let budgets = tmp.path().join("budgets.json");
    std::fs::write(&budgets, serde_json::json!({ LAYERS[0]: 0.25 }).to_string()).unwrap();
    let refused: [(&[&str], &[&str]); 10] = [
        (
            &["--criterion", "wanda"],
            &["--criterion wanda", "--activations"],
        ),
        (&["--activations", &good], &["--activations", "magnitude"]),
        (
            &["--scope", "row", "--compat", "inc"],
            &["--scope row", "--ties exact"],
        ),
        (
            &["--scope", "row", "--ties", "inclusive"],
            &["--scope row", "--ties exact"],
        ),
        (
            &["--layer-sparsity", s(&budgets)],
            &["--layer-sparsity", "--scope local or row"],
        ),
        (&["--owl", "5,0.08"], &["--owl", "--scope local or row"]),
        (
            &["--owl", "5,0.08", "--scope", "local", "--lock"],
            &["--owl", "--lock"],
        ),
        (
            &["--owl", "0,0.08", "--scope", "local"],
            &["--owl 0,0.08", "outlier multiple"],
        ),
        (
            &["--owl", "5,0.8", "--scope", "local"],
            &["--owl 5,0.8", "lambda"],
        ),
        (
            &["--owl", "-1,0.08", "--scope", "local"],
            &["--owl -1,0.08", "outlier multiple"],
        ),
    ];
    for (flags, says) in refused {
        call(flags, says);
    }
    let flags = [
        "--pattern",
        "2:4",
        "--scope",
        "local",
        "--layer-sparsity",
        s(&budgets),
    ];
    let high = tmp.path().join("high.json");
    std::fs::write(&high, serde_json::json!({ LAYERS[0]: 0.75 }).to_string()).unwrap();
    call(
        &[&flags[..4], &["--layer-sparsity", s(&high)]].concat(),
        &[LAYERS[0], "comes from --layer-sparsity", "N/M"],
    );
    run(&[&[s(&input), "--exclude", "embed|lm_head"][..], &flags].concat()).unwrap();
    let twice = tmp.path().join("twice.json");
    let text = format!(r#"{{"{0}": 0.25, "{0}": 0.5}}"#, LAYERS[0]);
    std::fs::write(&twice, text).unwrap();
    call(
        &["--scope", "local", "--layer-sparsity", s(&twice)],
        &["twice.json", LAYERS[0], "given twice"],
    );
    let head = [s(&input), "--include", "lm_head", "--output", s(&out)];
    let flags = ["--owl", "5,0.1", "--scope", "local"];
    fails(
        &work,
        &[&head[..], &flags].concat(),
        &["--owl", "numbered block"],
    );

    // Budget files: a name not in the checkpoint, a tensor kept dense, a
    // target out of range, not JSON.
    for (name, json, says) in [
        (
            "ghost.json",
            serde_json::json!({"ghost.weight": 0.5}),
            vec!["ghost.weight", "no tensor"],
        ),
        (
            "dense.json",
            serde_json::json!({"lm_head.weight": 0.5}),
            vec!["lm_head.weight", "not a tensor this run prunes"],
        ),
        (
            "range.json",
            serde_json::json!({ LAYERS[1]: 1.5 }),
            vec![LAYERS[1], "1.5", "[0, 1]"],
        ),
        (
            "text.json",
            serde_json::json!({ LAYERS[1]: "half" }),
            vec![LAYERS[1], "[0, 1]"],
        ),
        (
            "list.json",
            serde_json::json!([0.5]),
            vec!["list.json", "JSON object"],
        ),
        ("empty.json", serde_json::json!({}), vec!["names no tensor"]),
    ] {
        let path = tmp.path().join(name);
        std::fs::write(&path, json.to_string()).unwrap();
        let mut says = says;
        says.push(name);
        call(&["--scope", "local", "--layer-sparsity", s(&path)], &says);
    }
}

/// `--threads`: a global selection split over threads (each gathering a
/// run of layers, merged in order) gives the report and the masks of one
/// thread, byte for byte, in INC mode and with exact ties, blocks and N:M;
/// so do masks streamed layer by layer from the plan (what models past
/// `MADE_ELEMENTS` get; `PRUNEMASK_STREAM_MASKS=1` forces it) instead of
/// made in the selection's pass.
#[test]
fn threads_give_the_same_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    write_checkpoint(&model);
    for args in [
        &["--pattern", "2:4"][..],
        &["--pattern", "2:4", "--compat", "inc"],
        &["--pattern", "4x1", "--compat", "inc", "--sparsity", "0.6"],
        &[
            "--pattern",
            "1x1",
            "--sparsity",
            "0.7",
            "--include",
            "weight",
        ],
    ]
    .iter()
    .enumerate()
    {
        let mut seen = Vec::new();
        for (threads, env) in [("1", "0"), ("2", "0"), ("3", "0"), ("1", "1"), ("2", "1")] {
            let masks = tmp.path().join(format!("masks-{}-{threads}-{env}", args.0));
            let mut all = vec![s(&model), "--masks", s(&masks), "--threads", threads];
            all.extend_from_slice(args.1);
            let mut report = run_with(&all, &[("PRUNEMASK_STREAM_MASKS", env)]).unwrap();
            report.as_object_mut().unwrap().remove("seconds");
            for key in ["masks", "threads"] {
                report["options"].as_object_mut().unwrap().remove(key);
            }
            report.as_object_mut().unwrap().remove("masks");
            seen.push((report, read_masks(&masks)));
        }
        let args = args.1;
        assert!(
            seen[0].0["totals"]["pruned_units"].as_u64().unwrap() > 0,
            "{args:?}"
        );
        for (t, other) in seen.iter().enumerate().skip(1) {
            assert_eq!(other.0, seen[0].0, "{args:?}: report of run {t}");
            assert_eq!(other.1, seen[0].1, "{args:?}: masks of run {t}");
        }
    }
}
