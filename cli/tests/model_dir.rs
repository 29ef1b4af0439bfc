//! `prunemask prune` and `prunemask verify` on model directories, the built
//! binary on directories laid out as transformers writes them: a small
//! BERT-like (config, tokenizer files, a `1_Pooling/` sub-folder, one
//! `model.safetensors`) and a GPT-2-like (`config.json` `model_type` gpt2,
//! linear weights stored `[in, out]`), plus a conv1d weight. Checked: every
//! other file copied byte for byte, the axis N:M groups run along, `+0.0`
//! at every zero, embeddings/norms/biases dense, `verify`'s exit statuses,
//! nothing left behind on errors or Ctrl-C. Where Python with torch and
//! transformers is installed, `tests/load_with_transformers.py` loads the
//! outputs (skipped with a message where it is not).

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::cargo_bin_cmd;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde_json::{json, Value};

/// Deterministic non-zero weights (xorshift), magnitudes in (0.01, 1].
fn weights(n: usize, seed: u32) -> Vec<f32> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let v = 0.01 + (x % 1000) as f32 / 1010.0;
            if x & 1 == 0 {
                v
            } else {
                -v
            }
        })
        .collect()
}

/// A tensor: name, shape, f32 values.
type Spec = (String, Vec<usize>, Vec<f32>);

fn tensor(name: &str, dims: &[usize], seed: u32) -> Spec {
    let n = dims.iter().product();
    (name.to_string(), dims.to_vec(), weights(n, seed))
}

fn write_safetensors(path: &Path, specs: &[Spec]) {
    let bytes: Vec<Vec<u8>> = specs
        .iter()
        .map(|(_, _, v)| bytemuck::cast_slice(v).to_vec())
        .collect();
    let views: Vec<_> = specs
        .iter()
        .zip(&bytes)
        .map(|((name, dims, _), b)| {
            (
                name.as_str(),
                TensorView::new(Dtype::F32, dims.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

const HIDDEN: usize = 16;
const INTER: usize = 64;

/// A BERT-like model directory (BertModel, 1 layer, hidden 16), loadable
/// by transformers: the tensor names and shapes of `BertModel`, and the
/// files a Hub download has beside them.
fn bert_like(dir: &Path) -> Vec<Spec> {
    std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
    let h = HIDDEN;
    let mut specs = vec![
        tensor("embeddings.word_embeddings.weight", &[64, h], 1),
        tensor("embeddings.position_embeddings.weight", &[32, h], 2),
        tensor("embeddings.token_type_embeddings.weight", &[2, h], 3),
        tensor("embeddings.LayerNorm.weight", &[h], 4),
        tensor("embeddings.LayerNorm.bias", &[h], 5),
    ];
    let p = "encoder.layer.0.";
    for (i, (name, rows, cols)) in [
        ("attention.self.query", h, h),
        ("attention.self.key", h, h),
        ("attention.self.value", h, h),
        ("attention.output.dense", h, h),
        ("intermediate.dense", INTER, h),
        ("output.dense", h, INTER),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 10 + 2 * i as u32;
        specs.push(tensor(&format!("{p}{name}.weight"), &[rows, cols], seed));
        specs.push(tensor(&format!("{p}{name}.bias"), &[rows], seed + 1));
    }
    for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
        specs.push(tensor(&format!("{p}{norm}.weight"), &[h], 30));
        specs.push(tensor(&format!("{p}{norm}.bias"), &[h], 31));
    }
    specs.push(tensor("pooler.dense.weight", &[h, h], 40));
    specs.push(tensor("pooler.dense.bias", &[h], 41));
    // A group of four with three -0.0: 2:4 keeps one of them, which must be
    // written +0.0.
    let query = &mut specs[5].2;
    query[..3].copy_from_slice(&[-0.0, -0.0, -0.0]);
    write_safetensors(&dir.join("model.safetensors"), &specs);
    let config = json!({
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": h,
        "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": INTER,
        "vocab_size": 64, "max_position_embeddings": 32, "type_vocab_size": 2,
        "hidden_act": "gelu", "layer_norm_eps": 1e-12, "pad_token_id": 0
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(
        dir.join("tokenizer_config.json"),
        "{\"do_lower_case\": true}",
    )
    .unwrap();
    std::fs::write(dir.join("vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n").unwrap();
    std::fs::write(dir.join("README.md"), "# a tiny BERT\n").unwrap();
    std::fs::write(
        dir.join("1_Pooling/config.json"),
        "{\"pooling_mode_mean_tokens\": true}",
    )
    .unwrap();
    specs
}

/// A GPT-2-like model directory (GPT2Model, 1 layer, n_embd 16): its
/// linear weights are `Conv1D`, stored `[in, out]`; `attn.bias` is the
/// causal-mask buffer older checkpoints hold.
fn gpt2_like(dir: &Path) -> Vec<Spec> {
    std::fs::create_dir_all(dir).unwrap();
    let h = HIDDEN;
    let mut specs = vec![
        tensor("wte.weight", &[50, h], 1),
        tensor("wpe.weight", &[8, h], 2),
        tensor("ln_f.weight", &[h], 3),
        tensor("ln_f.bias", &[h], 4),
        tensor("h.0.ln_1.weight", &[h], 5),
        tensor("h.0.ln_1.bias", &[h], 6),
        tensor("h.0.ln_2.weight", &[h], 7),
        tensor("h.0.ln_2.bias", &[h], 8),
    ];
    for (i, (name, inputs, outputs)) in [
        ("attn.c_attn", h, 3 * h),
        ("attn.c_proj", h, h),
        ("mlp.c_fc", h, 4 * h),
        ("mlp.c_proj", 4 * h, h),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 10 + 2 * i as u32;
        specs.push(tensor(
            &format!("h.0.{name}.weight"),
            &[inputs, outputs],
            seed,
        ));
        specs.push(tensor(&format!("h.0.{name}.bias"), &[outputs], seed + 1));
    }
    write_safetensors(&dir.join("model.safetensors"), &specs);
    let config = json!({
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": h,
        "n_layer": 1, "n_head": 2, "n_positions": 8, "vocab_size": 50
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(dir.join("generation_config.json"), "{\"max_length\": 8}").unwrap();
    specs
}

fn prunemask(args: &[&str]) -> std::process::Output {
    cargo_bin_cmd!("prunemask").args(args).output().unwrap()
}

/// `prunemask prune ARGS --json`: the report (the run must succeed).
fn prune(args: &[&str]) -> Value {
    let out = prunemask(&[&["prune"], args, &["--json"]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `prunemask verify ARGS --json`: the exit status and the verdict (if any).
fn verify(args: &[&str]) -> (i32, Option<Value>) {
    let out = prunemask(&[&["verify"], args, &["--json"]].concat());
    let verdict = serde_json::from_slice(&out.stdout).ok();
    (out.status.code().unwrap(), verdict)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn row<'a>(report: &'a Value, name: &str) -> &'a Value {
    (report["tensors"].as_array().unwrap().iter())
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(root.join(rel)).unwrap() {
            let rel = rel.join(e.unwrap().file_name());
            if root.join(&rel).is_dir() {
                walk(root, &rel, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, Path::new(""), &mut out);
    out.sort();
    out
}

/// The f32 tensors of a safetensors file, by name.
fn read(path: &Path) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(name, t)| {
            assert_eq!(t.dtype(), Dtype::F32, "{name}");
            (
                name,
                t.shape().to_vec(),
                bytemuck::pod_collect_to_vec(t.data()),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Checks that along every output of `w`, each group of 4 consecutive
/// inputs holds 2 zeros (more only where the input had zeros); `at(o, i)`
/// is the flat index of output `o`, input `i`.
fn two_of_four(
    name: &str,
    w: &[f32],
    outputs: usize,
    inputs: usize,
    at: impl Fn(usize, usize) -> usize,
) {
    let mut total = 0;
    for o in 0..outputs {
        for g in (0..inputs).step_by(4) {
            let zeros = (g..g + 4).filter(|&i| w[at(o, i)] == 0.0).count();
            assert!(zeros >= 2, "{name}: output {o}, inputs {g}..{}", g + 4);
            total += zeros;
        }
    }
    // Every group exactly 2, but the BERT-like query's first (three -0.0).
    let extra = usize::from(name.ends_with("query.weight"));
    assert_eq!(total, w.len() / 2 + extra, "{name}");
}

/// No `-0.0` anywhere in a tensor.
fn no_negative_zero(name: &str, w: &[f32]) {
    let bad = w.iter().filter(|x| x.to_bits() == 0x8000_0000).count();
    assert_eq!(bad, 0, "{name} has -0.0");
}

/// No temporary beside `path`.
fn no_temporaries(parent: &Path) {
    let left: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn bert_like_directory_in_and_out() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("bert");
    let specs = bert_like(&input);
    let out = tmp.path().join("bert-2of4");
    let report = prune(&[s(&input), "--pattern", "2:4", "--output", s(&out)]);

    // Every file of the input is in the output; all but the weights byte
    // for byte.
    assert_eq!(files(&out), files(&input));
    for rel in files(&input) {
        if rel != Path::new("model.safetensors") {
            assert_eq!(
                std::fs::read(out.join(&rel)).unwrap(),
                std::fs::read(input.join(&rel)).unwrap(),
                "{}",
                rel.display()
            );
        }
    }
    let listed: Vec<&str> = (report["files"].as_array().unwrap().iter())
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(listed.contains(&"1_Pooling/config.json"), "{listed:?}");

    // Weights: same names, shapes and dtypes; embeddings, norms and biases
    // byte for byte; linear weights 2:4 along their rows ([out, in]).
    let pruned = read(&out.join("model.safetensors"));
    assert_eq!(pruned.len(), specs.len());
    for (name, dims, w) in &pruned {
        let (_, dims_in, w_in) = specs.iter().find(|t| &t.0 == name).unwrap();
        assert_eq!(dims, dims_in, "{name}");
        let r = row(&report, name);
        no_negative_zero(name, w);
        if dims.len() == 2 && name.ends_with("weight") && !name.contains("embeddings") {
            assert_eq!(r["status"], "selected", "{name}");
            assert_eq!(r["layout"], "out,in", "{name}");
            let k = r["score_kept"].as_f64().unwrap();
            assert!(k > 0.5 && k < 1.0, "{name}: score kept {k}");
            let cols = dims[1];
            two_of_four(name, w, dims[0], cols, |o, i| o * cols + i);
            for (x, y) in w.iter().zip(w_in) {
                assert!(*x == 0.0 || x == y, "{name}: a kept weight changed");
            }
        } else {
            assert_eq!(r["status"], "dense", "{name}");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(w), bits(w_in), "{name} is not byte for byte");
        }
    }
    let reason = |name: &str| row(&report, name)["reason"].as_str().unwrap().to_string();
    assert_eq!(
        reason("embeddings.word_embeddings.weight"),
        "embedding, dense by default"
    );
    assert_eq!(
        reason("embeddings.LayerNorm.weight"),
        "norm, dense by default"
    );
    assert_eq!(reason("pooler.dense.bias"), "bias, dense by default");
    // The query's first group held three -0.0; one was kept: +0.0 now.
    let query = &pruned
        .iter()
        .find(|t| t.0.ends_with("query.weight"))
        .unwrap()
        .2;
    assert_eq!(query[..4].iter().filter(|x| x.to_bits() == 0).count(), 3);
    let total = report["totals"]["score_kept"].as_f64().unwrap();
    assert!(total > 0.5 && total < 1.0, "{total}");
    no_temporaries(tmp.path());

    // verify: the output passes (0), the dense input fails (1).
    let (code, verdict) = verify(&[s(&out), "--pattern", "2:4"]);
    let verdict = verdict.unwrap();
    assert_eq!((code, &verdict["passed"]), (0, &json!(true)), "{verdict}");
    assert_eq!(verdict["totals"]["targets"], 7);
    let (code, verdict) = verify(&[s(&input), "--pattern", "2:4"]);
    assert_eq!((code, &verdict.unwrap()["passed"]), (1, &json!(false)));
    // 3:4 is not what the output holds: 1.
    assert_eq!(verify(&[s(&out), "--pattern", "3:4"]).0, 1);
    // 2:4 in every group of 4 is also 4:8.
    assert_eq!(verify(&[s(&out), "--pattern", "4:8"]).0, 0);

    // Masks are the same bytes run after run; without --sparsity, 1:4
    // prunes every group (0.25).
    let (m1, m2) = (tmp.path().join("m1"), tmp.path().join("m2"));
    for m in [&m1, &m2] {
        let report = prune(&[s(&input), "--pattern", "1:4", "--masks", s(m)]);
        assert_eq!(report["options"]["sparsity"], 0.25);
    }
    assert_eq!(std::fs::read(&m1).unwrap(), std::fs::read(&m2).unwrap());

    // --include lifts the defaults: the word embeddings are pruned too.
    let out2 = tmp.path().join("bert-emb");
    let report = prune(&[
        s(&input),
        "--include",
        "word_embeddings|dense",
        "--output",
        s(&out2),
    ]);
    assert_eq!(
        row(&report, "embeddings.word_embeddings.weight")["status"],
        "selected"
    );
    assert_eq!(
        row(&report, "encoder.layer.0.attention.self.query.weight")["reason"],
        "not matched by --include"
    );

    // Where transformers is installed, it loads the output.
    load_with_transformers(&input, &out);
}

#[test]
fn gpt2_like_directory_prunes_along_the_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("gpt2");
    let specs = gpt2_like(&input);
    let out = tmp.path().join("gpt2-2of4");
    let report = prune(&[
        s(&input),
        "--pattern",
        "2:4",
        "--sparsity",
        "0.5",
        "--output",
        s(&out),
    ]);
    assert_eq!(files(&out), files(&input));
    let pruned = read(&out.join("model.safetensors"));
    for (name, dims, w) in &pruned {
        let r = row(&report, name);
        no_negative_zero(name, w);
        if name.ends_with("weight")
            && dims.len() == 2
            && !["wte.weight", "wpe.weight"].contains(&name.as_str())
        {
            assert_eq!(r["layout"], "in,out", "{name}");
            // Stored [in, out]: output o of input i is at i * outputs + o,
            // and groups of 4 run down dimension 0.
            let (inputs, outputs) = (dims[0], dims[1]);
            two_of_four(name, w, outputs, inputs, |o, i| i * outputs + o);
        } else {
            assert_eq!(r["status"], "dense", "{name}");
        }
    }
    // The issue's example: c_fc f32 [16, 64] stored [in, out].
    assert_eq!(
        row(&report, "h.0.mlp.c_fc.weight")["shape"],
        json!([16, 64])
    );
    assert_eq!(verify(&[s(&out)]).0, 0);

    // The same file alone has no config: --transposed says the layout, and
    // gives the same weights.
    let file = tmp.path().join("alone.safetensors");
    std::fs::copy(input.join("model.safetensors"), &file).unwrap();
    let out_file = tmp.path().join("alone-2of4.safetensors");
    prune(&[
        s(&file),
        "--transposed",
        r"\.c_(attn|proj|fc)\.",
        "--output",
        s(&out_file),
    ]);
    assert_eq!(read(&out_file), pruned);
    // Without --transposed, the report warns that the names look [in, out].
    let report = prune(&[s(&file)]);
    let notes = report["notes"].to_string();
    assert!(notes.contains("named like GPT-2's Conv1D"), "{notes}");
    // Without it, the file's groups run along dimension 1: verify (which
    // reads the layout the same way) finds the [in, out] groups broken.
    let (code, _) = verify(&[s(&out_file)]);
    assert_eq!(code, 1);
    assert_eq!(
        verify(&[s(&out_file), "--transposed", r"\.c_(attn|proj|fc)\."]).0,
        0
    );
    let _ = specs;
    load_with_transformers(&input, &tmp.path().join("gpt2-2of4"));
}

/// In a GPT-2-family model only the `Conv1D` weights are `[in, out]`: a
/// classification head (`score`, an `nn.Linear`) stays `[out, in]`.
#[test]
fn gpt2_family_head_is_out_in() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gpt2-cls");
    std::fs::create_dir_all(&dir).unwrap();
    write_safetensors(
        &dir.join("model.safetensors"),
        &[
            tensor("transformer.h.0.mlp.c_fc.weight", &[16, 64], 1),
            tensor("score.weight", &[8, 16], 2),
        ],
    );
    std::fs::write(dir.join("config.json"), r#"{"model_type": "gpt2"}"#).unwrap();
    let report = prune(&[s(&dir)]);
    assert_eq!(
        row(&report, "transformer.h.0.mlp.c_fc.weight")["layout"],
        "in,out"
    );
    assert_eq!(row(&report, "score.weight")["layout"], "out,in");
    assert_eq!(row(&report, "score.weight")["status"], "selected");
}

#[test]
fn conv1d_weights_are_pruned_along_input_channels() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("conv.safetensors");
    let (o, i, k) = (16, 16, 5);
    write_safetensors(
        &file,
        &[
            tensor("encoder.conv.weight", &[o, i, k], 7),
            tensor("encoder.conv.bias", &[o], 8),
            tensor("encoder.proj.weight", &[16, 16], 9),
        ],
    );
    let out = tmp.path().join("conv-2of4.safetensors");
    let report = prune(&[s(&file), "--pattern", "2:4", "--output", s(&out)]);
    let r = row(&report, "encoder.conv.weight");
    assert_eq!(
        (&r["status"], &r["layout"]),
        (&json!("selected"), &json!("O,I,K"))
    );
    let pruned = read(&out);
    let w = &pruned
        .iter()
        .find(|t| t.0 == "encoder.conv.weight")
        .unwrap()
        .2;
    // Groups of 4 input channels at each kernel position: x[o][c][p] at
    // o*I*K + c*K + p; view input index = p*I + c.
    two_of_four("conv", w, o, k * i, |oo, col| {
        let (p, c) = (col / i, col % i);
        oo * i * k + c * k + p
    });
    assert_eq!(verify(&[s(&out)]).0, 0);
    // --transposed on a target that is not a matrix is an error.
    let out = prunemask(&["prune", s(&file), "--transposed", "conv"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("encoder.conv.weight") && err.contains("--transposed"),
        "{err}"
    );
}

#[test]
fn verify_exit_statuses_and_kernel_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("m.safetensors");
    // 12 outputs: 2:4 fits (groups along the 16 inputs) but ASP's rule
    // (out % 8) does not.
    let mut w = weights(12 * 16, 3);
    for g in w.chunks_mut(4) {
        g[0] = 0.0;
        g[1] = 0.0;
    }
    write_safetensors(&file, &[("a.weight".into(), vec![12, 16], w.clone())]);
    let (code, verdict) = verify(&[s(&file)]);
    let verdict = verdict.unwrap();
    assert_eq!(code, 1);
    let reason = verdict["tensors"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("out features 12 % 8"), "{reason}");
    // A -0.0 fails; 4x1 blocks are checked as blocks.
    w[0] = -0.0;
    let neg = tmp.path().join("neg.safetensors");
    write_safetensors(
        &neg,
        &[(
            "a.weight".into(),
            vec![16, 16],
            [w.clone(), w[..64].to_vec()].concat(),
        )],
    );
    let (code, verdict) = verify(&[s(&neg)]);
    assert_eq!(code, 1);
    assert_eq!(verdict.unwrap()["tensors"][0]["negative_zeros"], 2); // w[0] twice
                                                                     // --sparsity is for block patterns.
    assert_eq!(verify(&[s(&file), "--sparsity", "0.5"]).0, 2);
    // Bad input: 2.
    assert_eq!(verify(&[s(&tmp.path().join("none"))]).0, 2);
    assert_eq!(verify(&[s(&file), "--pattern", "3:2"]).0, 2);
    assert_eq!(verify(&[s(&file), "--include", "nothing"]).0, 2);
    let blocks = prunemask(&["verify", s(&file), "--pattern", "4x1", "--sparsity", "0.9"]);
    assert_eq!(blocks.status.code(), Some(1));
}

#[test]
fn errors_leave_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("bert");
    bert_like(&input);
    // An output inside the input directory is refused.
    let inside = input.join("pruned");
    let out = prunemask(&["prune", s(&input), "--output", s(&inside)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inside the input directory"));
    assert!(!inside.exists());
    // So is a masks file inside it.
    let masks = input.join("masks.safetensors");
    let out = prunemask(&["prune", s(&input), "--masks", s(&masks)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!masks.exists());
    // A pattern that fits no tensor: an error, nothing written.
    let dest = tmp.path().join("none");
    let out = prunemask(&["prune", s(&input), "--pattern", "3x5", "--output", s(&dest)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fits none of the 7 tensors"));
    assert!(!dest.exists());
    // --threads 0 is refused by the flag's parser (status 2).
    assert_eq!(
        prunemask(&["prune", s(&input), "--threads", "0"])
            .status
            .code(),
        Some(2)
    );
    // A config.json that is not JSON: an error naming it, nothing written.
    std::fs::write(input.join("config.json"), "{not json").unwrap();
    let dest = tmp.path().join("out");
    let out = prunemask(&["prune", s(&input), "--output", s(&dest)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("config.json"));
    assert!(!dest.exists());
    no_temporaries(tmp.path());
}

/// SIGINT while writing: the run either finished (the output complete) or
/// stopped with status 130 and no output; never a temporary left behind.
#[test]
fn interrupt_leaves_no_temporary() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("demo.safetensors");
    // The in-memory BERT-base-shaped demo: 340 MB to write.
    let mut child = Command::new(env!("CARGO_BIN_EXE_prunemask"))
        .args(["prune", "--output", s(&dest)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    match status.code() {
        Some(130) => {
            assert!(!dest.exists(), "interrupted, yet the output is there");
            eprintln!("interrupted while writing");
        }
        Some(0) => eprintln!("the run finished before the signal"),
        // Killed before the handler was installed (a loaded machine): the
        // handler is installed before any output is created.
        None if std::os::unix::process::ExitStatusExt::signal(&status) == Some(2) => {
            eprintln!("the signal came before the handler");
            assert!(!dest.exists());
        }
        other => panic!("exit status {other:?}"),
    }
    no_temporaries(tmp.path());
}

/// Runs `tests/load_with_transformers.py DENSE PRUNED` when Python has
/// torch and transformers; prints why it is skipped otherwise.
fn load_with_transformers(dense: &Path, pruned: &Path) {
    let python = std::env::var("PRUNEMASK_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = Command::new(&python)
        .args(["-c", "import torch, transformers"])
        .output();
    if !has.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "skipped: loading with transformers ({python} has no torch/transformers; set PRUNEMASK_PYTHON)"
        );
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/load_with_transformers.py");
    let out = Command::new(&python)
        .arg(script)
        .args([dense, pruned])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "transformers could not load {}:\n{}{}",
        pruned.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
}
