"""Every model family imports ``studio.plugins`` and nothing else of the studio, and picks no seed.

Covers each first-party package under ``plugins/`` (every ``plugins/*/<pkg>/`` holding a
``studio-plugin.toml``) and the documented example. The import-linter contract enforces the same in
CI, but only for the packages it names: here a new family under ``plugins/`` that was not added to
the contract (and to ``root_packages``) fails too.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from tests.plugin_helpers import EXAMPLE_PLUGIN

ROOT = Path(__file__).resolve().parents[2]
FAMILY_CONTRACT = "Model families import studio.plugins and nothing else of the studio"
FIRST_PARTY = sorted(p.parent for p in ROOT.glob("plugins/*/*/studio-plugin.toml"))
PACKAGES = [*FIRST_PARTY, EXAMPLE_PLUGIN]

# a plugin that decides a seed itself: the studio draws it once, when the job is queued
SEED_RESOLUTION = re.compile(
    r"seed\s+if\s+[\w.]*seed\s+is\s+not\s+None\s+else"   # x.seed if x.seed is not None else …
    r"|seed\s+or\s+(random|\d)"                          # seed or random…() / seed or 0
    r"|random\.(randrange|randint|getrandbits)\("        # drawing a number with the random module
    r"|\b(np\.)?random\.seed\s*\("                        # reseeding a global RNG by hand
    r"|torch\.seed\s*\("                                  # torch's non-deterministic seed
)


def _studio_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "studio":  # `from studio import core` imports studio.core
                names = [f"studio.{alias.name}" for alias in node.names]
        else:
            continue
        found += [(node.lineno, n) for n in names if n == "studio" or n.startswith("studio.")]
    return found


def _sources(package: Path) -> list[Path]:
    return sorted(p for p in package.rglob("*.py") if "egg-info" not in str(p))


def test_the_families_are_found():
    assert {p.name for p in FIRST_PARTY} >= {"studio_diffusers", "studio_transformers"}
    assert all(_sources(p) for p in PACKAGES)


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_a_family_imports_studio_plugins_and_nothing_else_of_the_studio(package):
    wrong = [
        f"{path.relative_to(package.parent)}:{line}: {name}"
        for path in _sources(package)
        for line, name in _studio_imports(path)
        if name != "studio.plugins" and not name.startswith("studio.plugins.")
    ]
    assert not wrong, "only studio.plugins may be imported (add what is missing to the API):\n" + "\n".join(wrong)


def test_the_checker_sees_the_imports_it_must_refuse(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import studio\nfrom studio import core\nfrom studio.core.imagemeta import save_png\n"
                   "def f():\n    import studio.jobs\n    from studio.plugins.devices import resolve_device\n")
    names = [n for _, n in _studio_imports(bad)]
    assert names == ["studio", "studio.core", "studio.core.imagemeta", "studio.jobs", "studio.plugins.devices"]


def test_every_first_party_family_is_under_the_import_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    [contract] = [c for c in config["contracts"] if c["name"] == FAMILY_CONTRACT]
    assert "studio.core" in contract["forbidden_modules"]
    for package in FIRST_PARTY:
        assert package.name in contract["source_modules"], f"add {package.name} to the contract '{FAMILY_CONTRACT}'"
        assert package.name in config["root_packages"], f"add {package.name} to [tool.importlinter] root_packages"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_a_family_resolves_no_seed(package):
    found = [
        f"{path.relative_to(package.parent)}:{number}: {line.strip()}"
        for path in _sources(package)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SEED_RESOLUTION.search(line)
    ]
    assert not found, "the request's seed is resolved by the studio; use request.seed as it is:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "seed = request.seed if request.seed is not None else random.randrange(2**32)",
        "seed = request.seed if request.seed is not None else 0",
        "seed = request.seed or random.randrange(MAX_SEED)",
        "seed = request.seed or 0",
        "seed = random.randint(0, 2**31)",
        "torch.seed()",
    ],
)
def test_the_seed_check_catches_the_old_patterns(line):
    assert SEED_RESOLUTION.search(line)


@pytest.mark.parametrize(
    "line",
    ["seed = request.seed", "generator = cpu_generator(seed + i)", "torch.manual_seed(seed)",
     "outputs = [ImageOutput(image, request.replace(seed=seed + i), about)]"],
)
def test_the_seed_check_lets_the_resolved_seed_through(line):
    assert not SEED_RESOLUTION.search(line)
