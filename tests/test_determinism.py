"""A fine-tuning repeats bit for bit: a tiny Llama decoder (SmolLM2's family) trained twice, in two fresh processes
with different hash seeds, ends with identical weights, loss history and logits."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What 01_finetune does, at toy size: setup (seeds, threads, deterministic algorithms), seed, build, train with
# dropout and seeded shuffling, predict; then print one digest of everything that came out.
TRAIN = r"""
import hashlib, sys
import numpy as np, torch
from transformers import LlamaConfig, LlamaModel
from anatomy_utils.core.classifier import Encoded, SentimentClassifier, predict, train
from anatomy_utils.base.profiles import ModelConfig
from anatomy_utils.base.runtime import setup

setup(0, int(sys.argv[1]))
config = LlamaConfig(vocab_size=128, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                     intermediate_size=172, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0)
torch.manual_seed(0)
clf = SentimentClassifier(LlamaModel(config), dropout=0.1)
rng = np.random.default_rng(0)
labels = np.arange(96) % 2
ids = [[1] + [int(t) for t in rng.integers(10 + 50 * y, 60 + 50 * y, rng.integers(6, 30))] for y in labels]
data = Encoded(ids, labels)
cfg = ModelConfig(model="tiny", train_examples=96, epochs=2, batch_size=8, lr=3e-3, warmup=0.1, weight_decay=0.01,
                  max_grad_norm=1.0, dropout=0.1, attention_dropout=None, train_top_layers=None, max_tokens=32,
                  truncation="left", eval_batch_size=16)
history = train(clf, data, cfg, pad_id=0, seed=0)
digest = hashlib.sha256()
for name, tensor in sorted(clf.state_dict().items()):
    digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
    digest.update(tensor.detach().contiguous().numpy().tobytes())
digest.update(repr([(h["loss"], h["lr"]) for h in history]).encode())
digest.update(predict(clf, data, 0, 16).tobytes())
print("digest", digest.hexdigest(), "loss", history[0]["loss"], history[-1]["loss"])
"""


def fine_tune(hash_seed: str, threads: int = 2) -> str:
    # The Makefile's environment; OMP_WAIT_POLICY=PASSIVE changes no result, but keeps two OpenMP threads from spinning
    # against a busy machine (without it this toy training takes 25 s instead of 1 s beside a running job).
    env = os.environ | {"PYTHONHASHSEED": hash_seed, "ANATOMY_PROGRESS": "0", "TOKENIZERS_PARALLELISM": "false",
                        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
    done = subprocess.run([sys.executable, "-c", TRAIN, str(threads)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_two_fine_tunings_in_fresh_processes_are_bit_identical():
    first, second = fine_tune("1"), fine_tune("2")
    assert first.startswith("digest ") and first == second
