"""Shared code of the study: every notebook is a few calls into these modules.

The package is in layers, each a folder that imports only the ones before it: ``base`` and ``stats`` (ground floor),
``core`` (the mechanism), ``study``, ``present`` and ``tools``. The names below are what the notebooks call.
"""
import warnings

from tqdm import TqdmWarning

warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)  # no ipywidgets: plain bars

from . import stats
from .base import data, keys, profiles, runtime, summary
from .base.data import load_splits, probe_inputs, split_meta
from .base.profiles import load_profile
from .base.runtime import setup
from .core import classifier, families, importance, models, passes, pruning, timing
from .present import findings, plots, prune_notebook, readings
from .study import (anatomy, claims, confirm, finetune, predictions, prune_study, registration, score_study, seeds,
                    speed_study, trained)
from .study.finetune import fine_tune, load_trained

__all__ = ["anatomy", "claims", "classifier", "confirm", "data", "families", "findings", "finetune", "importance",
           "keys", "models", "passes", "plots", "predictions", "profiles", "prune_notebook", "prune_study", "pruning",
           "readings", "registration", "runtime", "score_study", "seeds", "speed_study", "stats", "summary", "timing",
           "trained",
           "fine_tune", "load_profile", "load_splits", "load_trained", "probe_inputs", "setup", "split_meta"]
