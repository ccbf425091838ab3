"""The conda and pip descriptions of the environment must not drift apart, nor the hash lock from the pins."""
import re
import subprocess
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    return {line.strip() for line in lines if line.strip() and not line.strip().startswith("#")}


def test_environment_yml_equals_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins(pip_section) == pins((ROOT / "requirements.txt").read_text().splitlines())


def test_torch_is_pinned_to_the_build_on_disk():
    assert "torch==2.13.0" in pins((ROOT / "requirements.txt").read_text().splitlines())


def lock_lines():
    """requirements.lock as (name, version, hashes), one per package line (name==version --hash=sha256:...)."""
    rows = []
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec, *opts = line.split()
        name, _, version = spec.partition("==")
        rows.append((canonicalize_name(name), version, [o for o in opts if o.startswith("--hash=sha256:")]))
    return rows


def test_lock_holds_every_direct_pin_at_its_version():
    locked = {name: version for name, version, _ in lock_lines()}
    for pin in pins((ROOT / "requirements.txt").read_text().splitlines()):
        name, _, version = pin.partition("==")
        assert canonicalize_name(name) in locked, pin
        # `==2.13.0` also admits a local build: the lock holds torch 2.13.0+cpu, the wheel in /opt/wheels.
        assert locked[canonicalize_name(name)] in SpecifierSet(f"=={version}"), (pin, locked[canonicalize_name(name)])


def test_every_lock_line_is_pinned_and_hashed():
    for name, version, hashes in lock_lines():
        assert version, name
        assert hashes and all(re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", h) for h in hashes), name


def test_lock_has_no_duplicate_names():
    names = [name for name, _, _ in lock_lines()]
    assert len(names) == len(set(names)) > len(pins((ROOT / "requirements.txt").read_text().splitlines()))


def test_the_macos_lock_pins_every_direct_requirement_at_its_version_with_hashes():
    text = (ROOT / "requirements-macos.lock").read_text()
    entries = re.findall(r"^([A-Za-z0-9._-]+)==(\S+) \\\n((?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", text, re.M)
    locked = {canonicalize_name(name): version for name, version, _ in entries}
    assert len(entries) == len(re.findall(r"^[A-Za-z0-9._-]+==", text, re.M))  # every package carries its hashes
    for pin in pins((ROOT / "requirements.txt").read_text().splitlines()):
        name, _, version = pin.partition("==")
        assert locked[canonicalize_name(name)] == version, pin


def _venv_recipe(*variables: str) -> str:
    """The commands ``make`` would run to build the venv (printed, not run)."""
    return subprocess.run(["make", "-n", "-B", ".venv/.stamp", *variables], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout


def test_make_installs_every_package_hashed_and_torch_alone_from_an_index_where_asked():
    assert "--require-hashes -r requirements.lock" in _venv_recipe() and "--index-url" not in _venv_recipe()
    elsewhere = _venv_recipe("TORCH_INDEX=https://download.pytorch.org/whl/cpu")
    torch_alone = ("--no-deps --index-url https://download.pytorch.org/whl/cpu "
                   "\"$(grep -o '^torch==[^ ]*' requirements.lock)\"")
    assert torch_alone in elsewhere  # torch alone, unhashed: its dependencies come from the lock, hashed
    assert "--no-deps --require-hashes -r .venv/lock-without-torch.txt" in elsewhere
    macos = _venv_recipe("DARWIN=Darwin")
    assert "--require-hashes -r requirements-macos.lock" in macos and "--index-url" not in macos
