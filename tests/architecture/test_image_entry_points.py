"""Every console script imports from a copy holding only what the Dockerfile copies, so the image cannot miss a
package its entry points need (it once forgot simulator/)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_copies(text: str) -> list[tuple[str, str]]:
    """(source, destination) of every COPY line; several sources may share one destination directory."""
    pairs = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--") for w in words[1:]):
            *sources, destination = words[1:]
            pairs += [(source, destination) for source in sources]
    return pairs


def image_copy(dockerfile: str, into: Path) -> Path:
    """What the image's WORKDIR holds before `pip install .`: the COPY sources of the Dockerfile, nothing else."""
    app = into / "app"
    app.mkdir()
    for source, destination in dockerfile_copies(dockerfile):
        target = app / destination / Path(source).name if destination.endswith("/") else app / destination
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / source, target)
    return app


IMPORT_ALL = """
import importlib, sys
app, site, targets, tops = sys.argv[1], sys.argv[2:4], sys.argv[4].split(","), set(sys.argv[5].split(","))
sys.path[:0] = [app]
sys.path += site  # dependencies only: without site processing the editable install's finder is not loaded
for target in targets:
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
outside = sorted(n for n, m in sys.modules.items()
                 if n.split(".")[0] in tops and not (getattr(m, "__file__", None) or app).startswith(app))
assert not outside, outside
print("imported", len([n for n in sys.modules if n.split(".")[0] in tops]), "project modules")
"""


def import_entry_points(app: Path, also: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Imports every [project.scripts] target (and the modules ``also``) with only ``app`` and the installed
    dependencies on the path."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    targets = sorted(project["project"]["scripts"].values()) + [f"{m}:__name__" for m in also]
    tops = project["tool"]["setuptools"]["packages"]["find"]["include"]
    paths = sysconfig.get_paths()
    return subprocess.run(
        [sys.executable, "-S", "-c", IMPORT_ALL, str(app), paths["purelib"], paths["platlib"], ",".join(targets),
         ",".join(t.rstrip("*") for t in tops)],
        cwd=app, capture_output=True, text=True, timeout=120, env={"PATH": str(Path(sys.executable).parent)},
    )


def test_every_packaged_top_level_package_is_copied_into_the_image() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packaged = {t.rstrip("*") for t in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {source for source, _ in dockerfile_copies((ROOT / "Dockerfile").read_text(encoding="utf-8"))}
    assert packaged <= copied, f"the Dockerfile does not COPY {sorted(packaged - copied)}"


def test_the_console_scripts_import_from_what_the_image_holds(tmp_path: Path) -> None:
    result = import_entry_points(image_copy((ROOT / "Dockerfile").read_text(encoding="utf-8"), tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_commands_the_cli_imports_lazily_import_from_what_the_image_holds(tmp_path: Path) -> None:
    lazy = tuple(sorted(f"{p.parent.name}.{p.stem}" for package in ("bench", "devstack")
                        for p in (ROOT / package).glob("*.py") if p.stem != "__init__"))
    assert "bench.suite" in lazy and "devstack.stack" in lazy
    result = import_entry_points(image_copy((ROOT / "Dockerfile").read_text(encoding="utf-8"), tmp_path), lazy)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_image_that_forgets_a_package_is_caught(tmp_path: Path) -> None:
    dockerfile = "\n".join(line for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
                           if "simulator" not in line)
    result = import_entry_points(image_copy(dockerfile, tmp_path))
    assert result.returncode != 0
    assert "simulator" in result.stderr
