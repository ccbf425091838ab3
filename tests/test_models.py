import pytest
import torch

from anatomy_utils.core import models
from anatomy_utils.core.families import family_of, ffn_width


def test_unknown_model_names_the_registry():
    with pytest.raises(models.SourceError, match="neither a registry name"):
        models.load_body("./no/such/model")


def test_hub_failure_explains_what_works_offline(monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(models.SourceError, match=r"make PROFILE=smoke"):
        models.load_body("gpt2")


def test_minilm_from_the_wheel_is_a_six_layer_bert():
    body, tokenizer = models.load_body("minilm")
    assert type(body).__name__ == "BertModel" and body.config.num_hidden_layers == 6
    assert ffn_width(body.encoder.layer[0], family_of(body)) == 1536
    assert tokenizer.pad_token == "[PAD]"


def test_preparing_a_model_folder_leaves_the_random_state(monkeypatch):
    """A cache miss (SmolLM2's conversion draws random numbers in ``from_config``) must not shift the random numbers
    that follow a seeded ``load_body``, e.g. the classifier head's initialisation: cold and warm caches agree."""
    def after_seeded_load() -> torch.Tensor:
        torch.manual_seed(0)
        models.load_body("minilm")
        return torch.rand(3)

    cached = after_seeded_load()
    cached_folder = models.FOLDERS["minilm"]

    def converting():
        torch.rand(100)  # what building a fresh model does
        return cached_folder()

    monkeypatch.setitem(models.FOLDERS, "minilm", converting)
    assert torch.equal(after_seeded_load(), cached)
