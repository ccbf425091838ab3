"""The conda and pip descriptions of the environment must not drift apart."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    return {line.strip() for line in lines if line.strip() and not line.strip().startswith("#")}


def test_environment_yml_equals_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins(pip_section) == pins((ROOT / "requirements.txt").read_text().splitlines())


def test_torch_is_pinned_to_the_build_on_disk():
    assert "torch==2.13.0" in pins((ROOT / "requirements.txt").read_text().splitlines())
