"""scripts/activation_stats.py: Wanda's ‖X_j‖₂ per input feature of every
Linear and GPT-2 Conv1D. Needs torch and transformers (skipped without)."""

import importlib.util
import pathlib

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed: activation statistics tests skipped")
transformers = pytest.importorskip("transformers", reason="transformers is not installed: activation statistics tests skipped")

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "activation_stats.py"
spec = importlib.util.spec_from_file_location("activation_stats", SCRIPT)
stats_mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stats_mod)

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away"]


@pytest.fixture
def bert(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = transformers.BertTokenizer(str(tmp_path / "vocab.txt"))
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=32, max_position_embeddings=32)
    return transformers.BertModel(cfg), tok


def test_norms_are_the_inputs_l2_norms_over_real_tokens(bert):
    model, tok = bert
    texts = ["the cat sat", "a dog ran far away on the mat"]
    stats = stats_mod.collect(model, tok, texts)
    # Every Linear, under its weight's name, one value per in feature.
    linears = {f"{n}.weight": m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    assert set(stats) == set(linears)
    for name, m in linears.items():
        assert stats[name].shape == (m.in_features,) and stats[name].dtype == torch.float32
    # The query's input is the embeddings' output: its norms, pads left out.
    model.eval()
    with torch.no_grad():
        want = torch.zeros(16, dtype=torch.float64)
        for t in texts:
            batch = tok([t], return_tensors="pt")
            x = model.embeddings(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"])
            want += (x.reshape(-1, 16).double() ** 2).sum(0)
    got = stats["encoder.layer.0.attention.self.query.weight"]
    torch.testing.assert_close(got, want.sqrt().float(), rtol=1e-5, atol=1e-6)
    # Batching (and its padding) does not change them.
    one_by_one = [stats_mod.collect(model, tok, [t]) for t in texts]
    for name in stats:
        joint = (one_by_one[0][name].double() ** 2 + one_by_one[1][name].double() ** 2).sqrt().float()
        torch.testing.assert_close(stats[name], joint, rtol=1e-5, atol=1e-6)


def test_gpt2_conv1d_layers_are_covered(bert):
    _, tok = bert
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=len(tok), n_embd=16, n_layer=1, n_head=2, n_positions=32)
    model = transformers.GPT2Model(cfg)
    stats = stats_mod.collect(model, tok, ["the cat sat on the mat"])
    assert stats["h.0.mlp.c_fc.weight"].shape == (16,)  # stored [in=16, out=64]
    assert stats["h.0.mlp.c_proj.weight"].shape == (64,)
    assert (stats["h.0.attn.c_attn.weight"] > 0).all()


def test_the_command_writes_a_safetensors_file(bert, tmp_path):
    model, tok = bert
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    (tmp_path / "calib.txt").write_text("the cat sat\n\na dog ran\n")
    out = tmp_path / "stats.safetensors"
    stats_mod.main([str(tmp_path / "m"), str(tmp_path / "calib.txt"), str(out)])
    from safetensors.torch import load_file

    loaded = load_file(str(out))
    assert "encoder.layer.0.intermediate.dense.weight" in loaded
    assert loaded["encoder.layer.0.output.dense.weight"].shape == (32,)
