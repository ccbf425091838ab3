import numpy as np
import pytest
import torch

from anatomy_utils.core import pruning, timing
from anatomy_utils.study import speed_study
from anatomy_utils.core.classifier import Encoded, SentimentClassifier
from transformers.pytorch_utils import Conv1D
from conftest import FFN, HIDDEN, tiny_body


def test_matmul_flops_and_ffn_share_match_a_hand_count():
    body, tokens = tiny_body("bert"), 10
    attention_weights, ffn_weights = 4 * HIDDEN * HIDDEN, 2 * HIDDEN * FFN  # per layer; the pooler is not a layer
    per_layer = 2 * tokens * (attention_weights + ffn_weights) + 4 * tokens * tokens * HIDDEN
    assert timing.matmul_flops(body, tokens) == 2 * per_layer
    assert timing.ffn_share(body, tokens) == pytest.approx(2 * tokens * ffn_weights / per_layer)


def test_the_ceiling_of_removing_half_the_neurons_follows_the_ffn_share(body):
    half = {layer: torch.arange(FFN // 2) for layer in range(2)}
    pruned = tiny_body(body.config.model_type)
    pruning.remove_neurons(pruned, half)
    share = timing.ffn_share(body, 8)
    assert timing.speedup_ceiling(body, pruned, 8) == pytest.approx(1 / (1 - share / 2))


def test_fixed_batch_takes_only_full_length_reviews_and_says_when_there_are_too_few():
    data = Encoded([[1, 2, 3], [4, 5], [6, 7, 8, 9]], labels=None)
    assert timing.fixed_batch(data, 2, 3)["input_ids"].tolist() == [[1, 2, 3], [6, 7, 8]]
    with pytest.raises(ValueError, match="Only 2 reviews"):
        timing.fixed_batch(data, 3, 3)


# ------------------------------------------------------------------------------------ the protocol (no speed asserted)

def _seconds(aa_spread: float, rounds: int = 20, seed: int = 0) -> dict:
    """Synthetic per-round seconds: dense A about 1 s, dense B within +-``aa_spread``, a variant at half the time."""
    rng = np.random.default_rng(seed)
    a = 1 + 0.001 * rng.standard_normal(rounds)
    return {timing.DENSE_A: a, timing.DENSE_B: a * rng.uniform(1 - aa_spread, 1 + aa_spread, rounds),
            "half": a / 2 * (1 + 0.001 * rng.standard_normal(rounds))}


def test_the_gate_refuses_a_verdict_when_the_aa_pair_spreads_by_ten_percent(capsys):
    summary = timing.ratio_summary(_seconds(0.10))
    assert not summary["gate_passed"]
    assert not (summary["aa"]["ci_low"] >= 0.98 and summary["aa"]["ci_high"] <= 1.02)
    assert timing.verdict(summary["ratios"]["half"], summary["gate_passed"]) == "no verdict (timing noise)"
    assert timing.check_gate(summary) is False
    assert "timing noise exceeds tolerance" in capsys.readouterr().out


def test_the_gate_passes_a_tight_aa_pair_and_ratios_are_dense_over_variant(capsys):
    summary = timing.ratio_summary(_seconds(0.002))
    assert summary["gate_passed"] and timing.check_gate(summary)
    assert capsys.readouterr().out == ""
    half = summary["ratios"]["half"]
    assert half["ratio"] == pytest.approx(2.0, rel=0.01) and half["ci_low"] <= half["ratio"] <= half["ci_high"]
    assert timing.verdict(half, True) == "faster"
    assert timing.verdict({"ci_low": 0.976, "ci_high": 0.997}, True) == "not resolved"
    assert timing.verdict({"ci_low": 0.985, "ci_high": 1.01}, True).startswith("same speed")
    assert timing.verdict({"ci_low": 0.9, "ci_high": 0.97}, True) == "slower"
    assert summary["ratios"][timing.DENSE_A]["ratio"] == 1.0


def test_ratios_are_per_round_so_a_drift_shared_by_a_round_cancels():
    drift = np.linspace(1, 3, 20)  # every variant slows down together from round to round
    summary = timing.ratio_summary({timing.DENSE_A: drift, timing.DENSE_B: drift * 1.0, "v": drift / 1.25})
    assert summary["ratios"]["v"]["ci_low"] == pytest.approx(1.25) == summary["ratios"]["v"]["ci_high"]
    assert summary["gate_passed"]
    with pytest.raises(ValueError, match="rounds"):
        timing.ratio_summary({timing.DENSE_A: drift, timing.DENSE_B: drift[:5]})


class _Recorder(torch.nn.Module):
    """A model that records which object ran (deep copies are other objects)."""

    calls: list = []

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))

    def forward(self, input_ids, attention_mask):
        _Recorder.calls.append(id(self))
        return input_ids.float() * self.weight


def test_measure_times_an_aa_pair_of_deep_copies_in_a_fresh_order_every_round():
    dense, other = _Recorder(), _Recorder()
    _Recorder.calls.clear()
    ids = torch.ones(2, 3, dtype=torch.long)
    threads = torch.get_num_threads()
    result = timing.measure(dense, {"other": other}, {"input_ids": ids, "attention_mask": ids}, rounds=8, seed=1,
                            threads=1, calls=2, fresh=False)
    assert set(result.seconds) == {timing.DENSE_A, timing.DENSE_B, "other"}
    assert all(len(s) == 8 for s in result.seconds.values())
    assert all(sorted(order) == sorted(result.seconds) for order in result.orders)
    assert len(result.orders) == 8 * 2  # two sweeps a round
    assert len({tuple(order) for order in result.orders}) > 1  # the order changes between sweeps
    timed = _Recorder.calls[3:]  # after one warm-up call of each copy: sweeps that call every copy once, alternating
    assert len(timed) == 8 * 2 * 3 and all(len(set(timed[i:i + 3])) == 3 for i in range(0, len(timed), 3))
    assert id(dense) not in _Recorder.calls and id(other) not in _Recorder.calls  # only copies ran
    assert len(set(_Recorder.calls)) == 3  # dense A, dense B and the variant: three objects
    assert result.calls == 2 and result.threads == 1 and torch.get_num_threads() == threads  # restored
    assert isinstance(result.gate_passed, bool)
    _Recorder.calls.clear()
    fresh = timing.measure(dense, {"other": other}, {"input_ids": ids, "attention_mask": ids}, rounds=4, calls=1)
    assert id(dense) not in _Recorder.calls and id(other) not in _Recorder.calls  # new copies every round
    assert all(len(s) == 4 for s in fresh.seconds.values())
    with pytest.raises(ValueError, match="protocol's own"):
        timing.measure(dense, {timing.DENSE_B: other}, {"input_ids": ids, "attention_mask": ids}, rounds=2)


def test_a_round_takes_each_models_fastest_call(monkeypatch):
    times = iter([3.0, 1.0, 2.0, 1.5, 5.0, 0.5])  # two sweeps of three models, in the sweeps' orders
    monkeypatch.setattr(timing, "_call", lambda model, batch, calls: next(times))
    seconds, orders = timing._round({"a": None, "b": None, "c": None}, np.random.default_rng(0), {}, 2)
    taken = {}
    for name, value in zip([n for order in orders for n in order], [3.0, 1.0, 2.0, 1.5, 5.0, 0.5]):
        taken.setdefault(name, []).append(value)
    assert seconds == {name: min(values) for name, values in taken.items()}


def test_a_bypassed_ffn_computes_what_masking_every_neuron_computes(body, batch):
    clf = SentimentClassifier(body, 0.1).eval()
    bypassed = timing.ffn_bypassed(clf)
    with torch.no_grad(), pruning.masked(clf.body, {li: torch.arange(0) for li in range(2)}):
        expected = clf(**batch)
    assert torch.allclose(bypassed(**batch), expected, atol=1e-6)
    family = bypassed.family
    assert not any(isinstance(m, (torch.nn.Linear, Conv1D)) for layer in family.layers(bypassed.body)
                   for m in [*family.ffn_in(layer), family.ffn_out(layer)])
    assert clf.family.ffn_in(clf.family.layers(clf.body)[0])[0].weight.shape[0] > 0  # the original is untouched


def test_the_time_ceiling_follows_the_ffn_share_of_time():
    assert timing.ffn_time_share(2.0) == pytest.approx(0.5)  # without FFNs twice as fast: half the time is FFN
    assert timing.time_ceiling(0.5, 0.5) == pytest.approx(1 / 0.75)
    assert timing.time_ceiling(0.3, 1.0) == pytest.approx(1 / 0.7)


def test_rounded_keeps_round_each_count_by_the_rule_order():
    widths = [64, 64, 64]
    keep = {0: torch.arange(40), 1: torch.tensor([1, 5, 9]), 2: torch.arange(0)}
    priority = {layer: np.arange(64, dtype=float)[::-1].copy() for layer in range(3)}  # low index = kept first
    priority[0] = np.arange(64, dtype=float)  # layer 0: high index kept first
    rounded = speed_study.rounded_keeps(keep, widths, 32, priority)
    assert [len(rounded[layer]) for layer in range(3)] == [32, 32, 0]
    assert rounded[0].tolist() == list(range(8, 40))  # trimmed: the 8 kept neurons of lowest priority go
    assert rounded[1].tolist() == list(range(32))  # grown: 1, 5, 9 stay; the 29 best pruned (lowest indices) join
    assert speed_study.rounded_count(48, 64, 32) == 64 and speed_study.rounded_count(47, 64, 32) == 32
    assert speed_study.rounded_count(5, 3072, 1) == 5
    same = speed_study.rounded_keeps({0: torch.arange(32)}, [64], 32)
    assert same[0].tolist() == list(range(32))


def test_speed_on_a_tiny_model_gives_every_summary_key_without_nan():
    clf = SentimentClassifier(tiny_body("gpt2"), 0.1).eval()
    keeps = {0.3: {0: torch.arange(17), 1: torch.arange(16)}, 0.5: {0: torch.arange(12), 1: torch.arange(12)}}
    ids = torch.randint(3, 50, (2, 8))
    table, values, gate = speed_study.speed_on_batch(clf, {"input_ids": ids, "attention_mask": torch.ones_like(ids)},
                                                     keeps, "decoder", rounds=3, multiple=8, calls=1)
    assert isinstance(gate, bool) and values["timing.decoder.gate_passed"] is gate
    assert {"aa", "zeroed", "removed", "rounded", "bypass", "dense"} == set(table["kind"])
    k = "timing.decoder"
    for key in ("aa_ratio", "aa_ci_low", "aa_ci_high", "zeroed_ratio", "zeroed_ci_low", "zeroed_ci_high",
                "dense_seconds_per_1000", "threads"):
        assert values[f"{k}.{key}"] is not None
    for p in ("p30", "p50"):
        for key in ("removed_ratio", "removed_ci_low", "removed_ci_high", "ceiling_flops", "ceiling_time",
                    "removed_over_ceiling", "rounded_ratio", "rounded_over_ceiling", "removed_seconds_per_1000"):
            assert f"{k}.{p}.{key}" in values
    assert not any(isinstance(v, float) and not np.isfinite(v) for v in values.values())
    assert values[f"{k}.max_abs_logit_diff_removed_vs_zeroed"] < 1e-5
    assert values[f"{k}.p50.ceiling_flops"] == pytest.approx(timing.speedup_ceiling(
        clf.body, pruning.pruned_copy(clf, keeps[0.5]).body, 8))
    assert values[f"{k}.threads"] == speed_study.THREADS
    assert speed_study.describe(values, "decoder")


def test_the_paper_timing_check_exceeds_even_an_all_ffn_bound():
    check = speed_study.paper_timing_check(0.1)
    assert check["ceiling"] < check["ceiling_all_time_in_ffn"] == pytest.approx(1 / 0.9)
    assert check["paper_speedup_from_zeroing"] > check["ceiling_all_time_in_ffn"]
    assert check["paper_ffn_time_share_needed"] > 1


def test_the_bench_keep_sets_remove_the_target_share_unevenly():
    from anatomy_utils.tools.bench import uneven_keeps

    widths = [1536] * 6
    keep = uneven_keeps(widths, 0.3, seed=0)
    assert pruning.pruned_fraction(keep, widths) == pytest.approx(0.3, abs=0.01)
    assert len({len(k) for k in keep.values()}) > 1
