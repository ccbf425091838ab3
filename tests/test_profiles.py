import pytest
import yaml

from anatomy_utils.base import profiles


@pytest.mark.parametrize("name", ["smoke", "default", "rotten_tomatoes", "paper"])
def test_shipped_profiles_load(name):
    assert profiles.load_profile(name).name == name


def write(tmp_path, monkeypatch, mutate):
    raw = yaml.safe_load((profiles.PARAMS / "smoke.yaml").read_text())
    mutate(raw)
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setattr(profiles, "PARAMS", tmp_path)


@pytest.mark.parametrize("mutate,message", [
    (lambda r: r["encoder"].update(learning_rate=1), r"broken\.encoder: unknown key\(s\) \['learning_rate'\]"),
    (lambda r: r["data"].update(train="many"), r"broken\.data\.train: expected int"),
    (lambda r: r["data"].update(source="ftp"), r"broken\.data\.source: 'ftp' is not one of"),
    (lambda r: r.pop("seed"), r"missing key\(s\) \['seed'\]"),
    (lambda r: r["decoder"].update(train_examples=10**6), "exceeds data.train"),
    (lambda r: r["scores"].update(sparsities=[0.3, 1.2]), r"scores\.sparsities: 1\.2 is not in"),
    (lambda r: r["scores"].update(refit_sparsities=[0.5, 1.0]), r"scores\.refit_sparsities: 1\.0 is not in"),
    (lambda r: r["scores"].update(refit_ridge=-0.1), "refit_ridge"),
    (lambda r: r["scores"].update(select_sparsity=0.7), "select_sparsity .* must be one of scores.sparsities"),
    (lambda r: r["encoder"].update(lr=-3), r"broken\.encoder\.lr: -3\.0 must be greater than 0"),
    (lambda r: r["data"].update(test=0), r"broken\.data\.test: 0 must be greater than 0"),
    (lambda r: r["seeds"].update(extra=[0, 1]), r"seeds\.extra \[0, 1\] must be distinct seeds other than seed"),
    (lambda r: r["sizes"]["decoder"].update(lens=10**4), r"sizes\.decoder\.lens \(10000\) exceeds data\.test"),
    (lambda r: r["sizes"]["encoder"].update(confirm=10**4), r"sizes\.encoder\.confirm .* exceed data\.test"),
    (lambda r: r["sizes"]["decoder"].update(causal=0), r"broken\.sizes\.decoder\.causal: 0 must be greater than 0"),
    (lambda r: r["sizes"]["encoder"].pop("masks"), r"broken\.sizes\.encoder: missing key\(s\) \['masks'\]"),
    (lambda r: r["decoder"].update(dropout=1.5), r"broken\.decoder\.dropout: 1\.5 must be in \[0, 1\)"),
    (lambda r: r["prune"].update(sparsities=[-0.1]), r"prune\.sparsities: -0\.1 is not in"),
    (lambda r: r["sizes"]["encoder"].update(grid=10**4), r"sizes\.encoder\.grid .* in 1\.\.sizes\.encoder\.prune"),
    (lambda r: r.update(device="tpu"), r"broken\.device: 'tpu' is not one of \['auto', 'cpu', 'cuda'\]"),
    (lambda r: r.update(reference={"encoder": 86.2, "decoder": 0.8, "source": "x"}),
     r"broken\.reference\.encoder: 86\.2 must be an accuracy in \[0, 1\]"),
    (lambda r: r.update(reference={"encoder": 0.8, "source": "x"}),
     r"broken\.reference: missing key\(s\) \['decoder'\]"),
    (lambda r: r["data"].update(source="file"), r"\.data\.name: a file source needs the path"),
    (lambda r: r["data"].update(labels={"pos": 1, "neg": -1}), r"\.data\.labels: .* must map raw labels to 0 or 1"),
    (lambda r: r["data"].update(text_colum="review"), r"broken\.data: unknown key\(s\) \['text_colum'\]"),
])
def test_bad_parameter_files_name_the_key(tmp_path, monkeypatch, mutate, message):
    write(tmp_path, monkeypatch, mutate)
    with pytest.raises(profiles.ProfileError, match=message):
        profiles.load_profile("broken")


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(profiles.ProfileError, match="Known profiles: .*'default'"):
        profiles.load_profile("nope")

