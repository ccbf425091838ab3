"""The claims ledger on synthetic stored outputs: every claim gets a verdict, every verdict follows from its
interval."""
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from anatomy_utils.base import summary
from anatomy_utils.study import anatomy, claims
from anatomy_utils.base.profiles import load_profile
from anatomy_utils.study.prune_study import GRID, RULE, random_name, rules

N, LAYERS, WIDTH = 120, 4, 64


def _predictions(rng, profile) -> pd.DataFrame:
    labels = rng.integers(0, 2, N)

    def variant(role, name, accuracy, n=N, split="test"):
        right = rng.random(n) < accuracy
        logits = np.where(right == labels[:n].astype(bool), 1.0, -1.0) * rng.uniform(0.5, 2, n)
        return pd.DataFrame({"role": role, "variant": name, "split": split, "review": np.arange(n), "label": labels[:n],
                             "logit": logits, "notebook": "04"})

    frames = []
    for role in ("encoder", "decoder"):
        frames += [variant(role, "dense", 0.86), variant(role, f"{RULE} 30%", 0.85), variant(role, f"{RULE} 50%", 0.84)]
        frames += [variant(role, random_name(f, m), 0.6 + 0.05 * m, 50) for f in (0.3, 0.5) for m in range(3)]
        frames += [variant(role, name, accuracy, 50, "confirm")
                   for name, accuracy in (("dense", 0.86), ("taylor, global, 50%", 0.84))]
    for rule in rules(profile, "decoder", LAYERS):
        frames.append(variant("decoder", f"{GRID}: alpha={rule.alpha} beta={rule.beta} focus={list(rule.focusing)}",
                              0.7))
    return pd.concat(frames, ignore_index=True).drop_duplicates(["role", "variant", "split", "review"])


def _write_outputs(folder, profile, gate=True):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    _predictions(rng, profile).to_csv(folder / "predictions.csv.gz", index=False)
    values = {"data.test": 1000, "reference.source": "the paper", "data.source": "synthetic"}
    for role in ("encoder", "decoder"):
        values |= {f"finetune.{role}.test_accuracy": 0.85, f"reference.{role}": 0.862,
                   f"anatomy.{role}.ffn_width": WIDTH,
                   f"anatomy.{role}.layers": LAYERS, f"anatomy.{role}.nonempty_pairs": 4,
                   f"anatomy.{role}.jaccard_nonempty": 0.3, f"anatomy.{role}.topk.k": 1,
                   f"anatomy.{role}.topk.jaccard": 0.6, f"anatomy.{role}.topk.ci_low": 0.45,
                   f"anatomy.{role}.topk.ci_high": 0.75, f"anatomy.{role}.topk.jaccard_chance": 0.01,
                   f"scores.{role}.confirm.p50.accuracy_drop": 0.01, f"scores.{role}.confirm.p50.ci_low": -0.01,
                   f"scores.{role}.confirm.p50.ci_high": 0.03, f"scores.{role}.confirm.p50.n": 50,
                   f"scores.{role}.confirm.p50.score": "taylor", f"scores.{role}.confirm.p50.setting": "global",
                   f"scores.{role}.confirm.p50.split": "confirm",
                   f"timing.{role}.gate_passed": gate if role == "encoder" else False, f"timing.{role}.aa_ratio": 1.0,
                   f"timing.{role}.aa_ci_low": 0.9, f"timing.{role}.aa_ci_high": 1.1,
                   f"timing.{role}.zeroed_ratio": 1.0, f"timing.{role}.zeroed_ci_low": 0.99,
                   f"timing.{role}.zeroed_ci_high": 1.01, f"timing.{role}.p50.removed_ratio": 1.3,
                   f"timing.{role}.p50.removed_ci_low": 1.25, f"timing.{role}.p50.removed_ci_high": 1.35,
                   f"timing.{role}.p50.ceiling_flops": 1.43}
        lens = 2 * rng.normal(size=(50, LAYERS + 1)) + np.linspace(0, 3, LAYERS + 1) * np.sign(rng.normal(size=(50, 1)))
        pd.DataFrame([{"review": r, "label": 1, "layer": layer, "logit": lens[r, layer], "cosine": layer / LAYERS}
                      for r in range(50)
                      for layer in range(LAYERS + 1)]).to_csv(folder / f"lens_{role}.csv.gz", index=False)
        masks = [anatomy.RANDOM_MASK.format(m) for m in range(3)]
        pd.DataFrame([{"review": r, "label": r % 2, "variant": v, "logit": rng.normal()} for v in
                      ("dense", "top_cosine", "top_contribution", *masks) for r in range(50)]).to_csv(
            folder / f"ablation_{role}.csv.gz", index=False)
        pd.DataFrame([{"review": r, "layer": layer, "above": " ".join(map(str, range(LAYERS - layer))),
                       "top": " ".join(map(str, rng.choice(WIDTH, 2, replace=False)))} for r in range(30)
                      for layer in range(LAYERS)]).to_csv(folder / f"neuron_sets_{role}.csv.gz", index=False)
    (folder / "summary.json").write_text(json.dumps(values))


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "FIGURES", tmp_path)
    monkeypatch.setattr(summary, "FIGURES", tmp_path)
    profile = load_profile("smoke")
    _write_outputs(tmp_path / profile.name, profile)
    return profile


def test_every_claim_gets_a_verdict_that_follows_from_its_interval(outputs):
    ledger = claims.ledger(outputs)
    assert set(ledger["claim"]) == set(claims.PAPER) and len(ledger) == 2 * len(claims.PAPER)
    assert set(ledger["verdict"]) <= set(claims.VERDICTS)
    values = claims.summary_values(ledger)
    assert claims.consistent(values) == []
    by = ledger.set_index(["claim", "role"])
    assert by.loc[("lower_layers_raise_accuracy", "encoder"), "verdict"] == "not testable"
    assert by.loc[("zeroing_speeds_up", "decoder"), "verdict"] == "not testable"  # the A/A gate failed there
    assert "A/A timing check failed" in by.loc[("zeroing_speeds_up", "decoder"), "sentence"]
    assert by.loc[("zeroing_speeds_up", "encoder"), "verdict"] == "equivalent"  # within 1 +- the gate's tolerance
    assert by.loc[("removal_speeds_up", "encoder"), "verdict"] == "confirmed"
    # where the neurons sit is described, not judged: no instrument here can come out both ways
    assert by.loc[("neurons_by_depth", "encoder"), "verdict"] == "not testable"
    assert "descriptive" in by.loc[("neurons_by_depth", "encoder"), "reason"]
    assert "top-2 sets" in by.loc[("same_neurons", "encoder"), "reason"]
    assert by.loc[("rule_beats_random", "encoder"), "masks"] == 3
    assert by.loc[("rule_keeps_accuracy", "encoder"), "level"] == pytest.approx(claims.PRIMARY_LEVEL)
    assert by.loc[("finetune_accuracy", "encoder"), "level"] == pytest.approx(0.95)
    for _, row in ledger[ledger["verdict"] != "not testable"].iterrows():
        assert row["method"] and (row["ci_high"] > row["ci_low"] or row["exact"])
    for _, row in ledger[ledger["verdict"] == "inconclusive"].iterrows():
        assert row["mde"] > 0 and "detectable at 80% power" in row["sentence"] and row["why"] in row["sentence"]
        assert values[f"claims.{row['claim']}.{row['role']}.why"].startswith("the interval")


def test_the_consistency_check_catches_a_verdict_its_interval_does_not_support(outputs):
    values = claims.summary_values(claims.ledger(outputs))
    key = "claims.rule_keeps_accuracy.encoder"
    broken = values | {f"{key}.verdict": "confirmed", f"{key}.ci_low": values[f"{key}.null"] - 0.01,
                       f"{key}.ci_high": values[f"{key}.null"] + 0.01}
    assert any(key in problem for problem in claims.consistent(broken))
    assert any("without an MDE" in p for p in claims.consistent(broken | {f"{key}.verdict": "inconclusive",
                                                                          f"{key}.mde": None}))
    point = values | {f"{key}.verdict": "confirmed", f"{key}.ci_low": 0.01, f"{key}.ci_high": 0.01}
    assert any("zero-width" in p for p in claims.consistent(point))
    assert not any("zero-width" in p for p in claims.consistent(point | {f"{key}.exact": True}))
    small = "claims.rule_beats_random.encoder"  # judged with a margin: a difference inside it is not the claimed one
    inside = values | {f"{small}.verdict": "confirmed", f"{small}.ci_low": 0.001, f"{small}.ci_high": 0.01}
    assert any(small in p and "inside the margin" in p for p in claims.consistent(inside))
    assert not any(small in p for p in claims.consistent(inside | {f"{small}.verdict": "equivalent"}))


def test_same_answer_across_datasets_comes_from_the_intervals():
    key = "claims.rule_beats_random.decoder"

    def side(verdict, effect, low, high):
        return {f"{key}.verdict": verdict, f"{key}.effect": effect, f"{key}.ci_low": low, f"{key}.ci_high": high,
                f"{key}.level": 0.95}

    imdb, rotten = side("refuted", -0.133, -0.227, -0.039), side("inconclusive", 0.032, -0.007, 0.072)
    assert claims.across(imdb, rotten, "rule_beats_random", "decoder").startswith("**different**")
    assert claims.across(imdb, imdb, "rule_beats_random", "decoder") == "yes"
    near = side("inconclusive", -0.10, -0.25, 0.05)
    assert claims.across(imdb, near, "rule_beats_random", "decoder") == "not comparable"
    assert claims.across(imdb, {}, "rule_beats_random", "decoder") == "not comparable"


def test_a_profile_that_has_not_run_names_what_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(claims, "FIGURES", tmp_path)
    monkeypatch.setattr(summary, "FIGURES", tmp_path)
    assert claims.main("smoke") == 2
    message = capsys.readouterr().out.strip()
    assert len(message.splitlines()) == 1 and "make PROFILE=smoke" in message


def test_the_conclusions_say_which_claims_hold_and_why_one_was_not_tested(outputs):
    ledger = claims.ledger(outputs)
    by = ledger.set_index(["claim", "role"])
    # an interval inside the margin of "no speed-up" says the claimed speed-up is not there
    assert by.loc[("zeroing_speeds_up", "encoder"), "outcome"] == "does not hold"
    assert by.loc[("removal_speeds_up", "encoder"), "outcome"] == "holds"
    assert "-> equivalent (the claim: does not hold)" in by.loc[("zeroing_speeds_up", "encoder"), "sentence"]
    text = claims.conclusions(ledger).splitlines()
    assert [line.split(" (")[0] for line in text] == [o.capitalize() for o in dict.fromkeys(claims.OUTCOMES.values())
                                                      if o in set(ledger["outcome"])]
    assert sum(int(line.split("(")[1].split(" of ")[0]) for line in text) == len(ledger)
    tested = [line for line in text if line.startswith("Not tested")][0]
    assert "lower_layers_raise_accuracy (encoder: the paper states it for GPT-2 only)" in tested
    refused = [line for line in text if line.startswith("Does not hold")][0]
    assert "zeroing_speeds_up (encoder, equivalent)" in refused


def test_recording_the_ledger_drops_what_an_older_ledger_wrote(outputs):
    summary.record(outputs.name, {"pilot.claims.retired_claim.encoder.verdict": "confirmed", "finetune.kept": 1,
                                  "claims.rule_keeps_accuracy.encoder.verdict": "confirmed"})
    values = claims.record(outputs.name, claims.ledger(outputs))
    assert "pilot.claims.retired_claim.encoder.verdict" not in values and values["finetune.kept"] == 1
    assert values["pilot.claims.removal_speeds_up.encoder.outcome"] == "holds"
    # claims.* is a confirmation's ledger: without a registration digest in the summary, a stale one goes too
    assert not any(k.startswith("claims.") for k in values)
    assert summary.read(outputs.name) == values


def test_a_row_looked_at_before_is_read_at_its_last_looks_sequential_level(outputs):
    looks = {"finetune_accuracy.encoder": [500], "rule_beats_random.encoder": [25]}
    profile = dataclasses.replace(outputs, claims=dataclasses.replace(outputs.claims, looks=looks))
    by = claims.ledger(profile).set_index(["claim", "role"])
    once = claims.ledger(outputs).set_index(["claim", "role"])
    assert by.loc[("finetune_accuracy", "encoder"), "level"] == pytest.approx(0.952219, abs=1e-5)  # at t = 0.5
    assert by.loc[("rule_beats_random", "encoder"), "level"] > claims.PRIMARY_LEVEL  # on top of the family's level
    assert "the last of 2 looks (earlier at n = 500" in by.loc[("finetune_accuracy", "encoder"), "method"]
    for row in (("finetune_accuracy", "encoder"), ("rule_beats_random", "encoder")):
        assert by.loc[row, "ci_low"] <= once.loc[row, "ci_low"] and by.loc[row, "ci_high"] >= once.loc[row, "ci_high"]
    assert by.loc[("finetune_accuracy", "decoder"), "level"] == pytest.approx(0.95)  # a row never looked at before
    late = dataclasses.replace(outputs, claims=dataclasses.replace(outputs.claims, looks={
        "finetune_accuracy.encoder": [1000]}))
    with pytest.raises(ValueError, match="an earlier look at n = 1000 is not before this one"):
        claims.ledger(late)
    misspelt = dataclasses.replace(outputs, claims=dataclasses.replace(outputs.claims, looks={
        "late_decison.encoder": [10]}))
    with pytest.raises(ValueError, match=r"\['late_decison.encoder'\] name no row of the ledger"):
        claims.ledger(misspelt)


def test_the_ledger_view_takes_the_confirmations_rows_and_the_pilots_for_the_rest():
    values = {"pilot.claims.rule_keeps_accuracy.encoder.verdict": "inconclusive",
              "pilot.claims.rule_keeps_accuracy.encoder.effect": -0.025,
              "pilot.claims.zeroing_speeds_up.encoder.verdict": "equivalent",
              "claims.rule_keeps_accuracy.encoder.verdict": "confirmed",
              "claims.rule_keeps_accuracy.encoder.effect": -0.004}
    merged = claims.ledger_values(dict(values))
    assert merged["claims.rule_keeps_accuracy.encoder.verdict"] == "confirmed"  # the confirmation's, not the pilot's
    assert merged["claims.rule_keeps_accuracy.encoder.effect"] == -0.004
    assert merged["claims.rule_keeps_accuracy.encoder.source"] == "confirmation"
    assert merged["claims.zeroing_speeds_up.encoder.verdict"] == "equivalent"  # not confirmed: the pilot's, labelled
    assert merged["claims.zeroing_speeds_up.encoder.source"] == "pilot"
