"""Shared code of the study: every notebook is a few calls into these modules."""
import warnings

from tqdm import TqdmWarning

warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)  # no ipywidgets: plain bars

from . import (anatomy, claims, classifier, data, families, findings, finetune, importance, models, plots, predictions,
               profiles, prune_notebook, prune_study, pruning, readings, score_study, seeds, stats, summary, timing)
from .data import load_splits, probe_inputs, split_meta
from .finetune import fine_tune, load_trained
from .profiles import load_profile
from .runtime import setup

__all__ = ["anatomy", "claims", "classifier", "data", "families", "findings", "finetune", "importance", "models",
           "plots", "predictions", "profiles", "prune_notebook", "prune_study", "pruning", "readings", "score_study",
           "seeds", "stats", "summary", "timing",
           "fine_tune", "load_profile", "load_splits", "load_trained", "probe_inputs", "setup", "split_meta"]
