"""The import rules in pyproject.toml hold for the project, and each rule really fails on a tree that breaks it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = str(Path(sys.executable).with_name("lint-imports"))
SERVICES = ("registry", "attendance", "casework", "notifications", "reporting")
ROOMS = ("bootstrap", "entrypoints", "application", "adapters", "domain")  # high to low
# A service in the rooms of the house plan (README "The rooms of a service") declares their layering.
LAYERED = tuple(s for s in SERVICES if (ROOT / "services" / s / "entrypoints").is_dir())
CONTRACTS = {
    "services.runtime imports no service": "forbidden",
    "Product packages import no tool package (bench, devstack, simulator)": "forbidden",
    "No service imports another": "independence",
    "contracts import no service and not the runtime": "forbidden",
    "The simulator imports no service module (public APIs and contracts only)": "forbidden",
    "No import circles between the modules of contracts, services.runtime, devstack and bench": "acyclic_siblings",
    **{f"services.{s}: rooms are layered ({' > '.join(ROOMS)})": "layers" for s in LAYERED},
}


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the project's contracts, analysing the packages found from ``cwd``."""
    return subprocess.run(
        [LINT, "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=cwd, env={"PYTHONPATH": str(cwd), "PATH": str(Path(sys.executable).parent), "COLUMNS": "200"},
        capture_output=True, text=True, timeout=120,
    )


def test_the_project_declares_the_rules() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    declared = {c["name"]: c["type"] for c in config["contracts"]}
    assert declared == CONTRACTS
    assert set(config["root_packages"]) == {"contracts", "services", "simulator", "devstack", "bench"}


def test_the_project_keeps_its_import_rules() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


def tiny_tree(root: Path, extra: dict[str, str]) -> None:
    """The project's package layout with empty modules, plus ``extra`` (dotted module -> source)."""
    packages = ["contracts", "services", "services.runtime", "simulator", "devstack", "bench"]
    packages += [f"services.{s}" for s in SERVICES]
    packages += [f"services.{s}.{room}" for s in LAYERED for room in ROOMS if room != "bootstrap"]
    packages += ["services.reporting.tests", "bench.reporting"]
    for package in packages:
        directory = root.joinpath(*package.split("."))
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "__init__.py").write_text("")
    # Allowed edges, so the clean tree is not trivially clean.
    modules = {
        "contracts.base": "",
        "contracts.events": "import contracts.base\n",
        "services.runtime.db": "import contracts.events\n",
        "services.registry.app": "import services.runtime.db\nimport contracts.events\n",
        "bench.reporting.synthetic": "",
        "services.reporting.tests.test_x": "import bench.reporting.synthetic\n",  # the one tool a test may use
        "devstack.cli": "import services.registry.app\nimport bench.suite\n",
        "bench.suite": "import services.registry.app\nimport services.runtime.db\n",
        "simulator.run": "import devstack.cli\nimport contracts.events\n",  # devstack may import services
        **{f"services.{s}.{high}.x" if high != "bootstrap" else f"services.{s}.bootstrap":
           f"import services.{s}.{low}.x\n" for s in LAYERED for high, low in zip(ROOMS, ROOMS[1:])},
        **{f"services.{s}.domain.x": "" for s in LAYERED},
        **extra,
    }
    for module, source in modules.items():
        root.joinpath(*module.split(".")).with_suffix(".py").write_text(source)


def test_a_tree_that_follows_the_rules_passes(tmp_path: Path) -> None:
    tiny_tree(tmp_path, {})
    result = lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("broken", "extra", "culprit"), [
    ("services.runtime imports no service",
     {"services.runtime.cli": "def main():\n    from services.reporting import app\n"}, "services.runtime.cli"),
    ("services.runtime imports no service|Product packages import no tool package (bench, devstack, simulator)",
     {"services.runtime.bad": "import devstack\n"}, "services.runtime.bad"),
    ("Product packages import no tool package (bench, devstack, simulator)",
     {"services.attendance.bench_x": "from bench import x\n"}, "services.attendance.bench_x"),
    ("Product packages import no tool package (bench, devstack, simulator)",
     {"services.reporting.tests.test_y": "import bench.reporting.other\n", "bench.reporting.other": ""},
     "services.reporting.tests.test_y"),
    ("No service imports another",
     {"services.casework.policy": "import services.attendance.app\n", "services.attendance.app": ""},
     "services.casework.policy"),
    *[(f"services.{s}: rooms are layered ({' > '.join(ROOMS)})",
       {f"services.{s}.domain.x": f"from services.{s}.application import x\n"}, f"services.{s}.domain.x")
      for s in LAYERED[:1]],
    *[(f"services.{s}: rooms are layered ({' > '.join(ROOMS)})",
       {f"services.{s}.adapters.x": f"def f():\n    import services.{s}.entrypoints.x\n"}, f"services.{s}.adapters.x")
      for s in LAYERED[-1:]],
    ("contracts import no service and not the runtime",
     {"contracts.topics": "from services.runtime.db import x\n"}, "contracts.topics"),
    ("The simulator imports no service module (public APIs and contracts only)",
     {"simulator.api": "def f():\n    from services.runtime.db import Database\n"}, "simulator.api"),
    ("No import circles between the modules of contracts, services.runtime, devstack and bench",
     {"services.runtime.auth": "def f():\n    from services.runtime import access\n",
      "services.runtime.access": "from services.runtime.auth import f\n"}, "auth"),
    ("No import circles between the modules of contracts, services.runtime, devstack and bench",
     {"contracts.base": "def f():\n    import contracts.events\n"}, "events"),
])
def test_a_tree_that_breaks_a_rule_fails(tmp_path: Path, broken: str, extra: dict[str, str], culprit: str) -> None:
    tiny_tree(tmp_path, extra)
    result = lint(tmp_path)
    assert result.returncode != 0, result.stdout
    verdicts = (re.fullmatch(r"(.*) (BROKEN|KEPT)( \(\d+ ignored imports?\))?", line) for line in result.stdout.splitlines())
    assert {v.group(1) for v in verdicts if v and v.group(2) == "BROKEN"} == set(broken.split("|")), result.stdout
    assert culprit in result.stdout.split("Broken contracts", 1)[1]


def dynamic_imports(package: Path, base: Path = ROOT) -> list[str]:
    """Calls of importlib.import_module / __import__ in a package's source, which import-linter cannot follow."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if name in {"import_module", "__import__"}:
                    found.append(f"{path.relative_to(base)}:{node.lineno}")
    return found


def test_the_ground_imports_nothing_by_name_either() -> None:
    assert dynamic_imports(ROOT / "contracts") + dynamic_imports(ROOT / "services" / "runtime") == []


def test_a_dynamic_import_is_found(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("import importlib\n\ndef f(s):\n    return importlib.import_module(f'services.{s}')\n")
    (tmp_path / "n.py").write_text("def g():\n    return __import__('services.registry')\n")
    assert dynamic_imports(tmp_path, tmp_path) == ["m.py:4", "n.py:2"]
