"""The import rules in pyproject.toml hold for the project, and each rule really fails on a tree that breaks it."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = str(Path(sys.executable).with_name("lint-imports"))
SERVICES = ("registry", "attendance", "casework", "notifications", "reporting")
CONTRACTS = {
    "services.runtime imports no service": "forbidden",
    "Product packages import no tool package (bench, devstack, simulator)": "forbidden",
    "No service imports another": "independence",
    "contracts import no service and not the runtime": "forbidden",
    "No import circles between the modules of contracts, services.runtime, devstack and bench": "acyclic_siblings",
}
ROOMS = ("bootstrap", "entrypoints", "application", "adapters", "domain")  # highest first (README: the rooms)


def layered(service: str) -> str:
    """The name of a service's layers contract (one per service that lives in the rooms)."""
    return f"services.{service}: rooms are layered (bootstrap > entrypoints > application > adapters > domain)"


def in_rooms() -> list[str]:
    """The services already restructured into the rooms (each must declare its layers contract)."""
    return [s for s in SERVICES if all((ROOT / "services" / s / room).is_dir() for room in ROOMS[1:])]


def declared_contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {c["name"]: c for c in config["contracts"]}


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the project's contracts, analysing the packages found from ``cwd``."""
    return subprocess.run(
        [LINT, "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=cwd, env={"PYTHONPATH": str(cwd), "PATH": str(Path(sys.executable).parent), "COLUMNS": "200"},
        capture_output=True, text=True, timeout=120,
    )


def test_the_project_declares_the_rules() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    declared = declared_contracts()
    rooms = {layered(s): s for s in in_rooms()}
    assert {name: c["type"] for name, c in declared.items() if name not in rooms} == CONTRACTS
    for name, service in rooms.items():
        assert declared[name]["type"] == "layers", name
        assert declared[name]["containers"] == [f"services.{service}"] and declared[name]["layers"] == list(ROOMS)
    assert set(config["root_packages"]) == {"contracts", "services", "simulator", "devstack", "bench"}


def test_the_project_keeps_its_import_rules() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(declared_contracts())} kept, 0 broken." in result.stdout


def tiny_tree(root: Path, extra: dict[str, str]) -> None:
    """The project's package layout with empty modules, plus ``extra`` (dotted module -> source)."""
    packages = ["contracts", "services", "services.runtime", "simulator", "devstack", "bench"]
    packages += [f"services.{s}" for s in SERVICES]
    layered_services = [s for s in SERVICES if layered(s) in declared_contracts()]
    packages += [f"services.{s}.{room}" for s in layered_services for room in ROOMS if room != "bootstrap"]
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
        "devstack.cli": "import services.registry.app\nimport bench.suite\n",
        "bench.suite": "import services.registry.app\nimport services.runtime.db\n",
        "simulator.run": "import services.registry.app\nimport devstack.cli\n",
        **extra,
    }
    modules.update({f"services.{s}.bootstrap": "" for s in layered_services if f"services.{s}.bootstrap" not in modules})
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
    ("No service imports another",
     {"services.casework.policy": "import services.attendance.app\n", "services.attendance.app": ""},
     "services.casework.policy"),
    ("contracts import no service and not the runtime",
     {"contracts.topics": "from services.runtime.db import x\n"}, "contracts.topics"),
    ("No import circles between the modules of contracts, services.runtime, devstack and bench",
     {"services.runtime.auth": "def f():\n    from services.runtime import access\n",
      "services.runtime.access": "from services.runtime.auth import f\n"}, "auth"),
    ("No import circles between the modules of contracts, services.runtime, devstack and bench",
     {"contracts.base": "def f():\n    import contracts.events\n"}, "events"),
    (layered("registry"),
     {"services.registry.domain.rules": "from services.registry.application.cases import x\n",
      "services.registry.application.cases": ""}, "services.registry.domain.rules"),
])
def test_a_tree_that_breaks_a_rule_fails(tmp_path: Path, broken: str, extra: dict[str, str], culprit: str) -> None:
    tiny_tree(tmp_path, extra)
    result = lint(tmp_path)
    assert result.returncode != 0, result.stdout
    assert {line.removesuffix(" BROKEN") for line in result.stdout.splitlines() if line.endswith(" BROKEN")} == set(
        broken.split("|")), result.stdout
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
