"""A normal install works: the sdist and the wheel carry the templates, and an installed birdgen
renders from any directory.

The tree is copied aside first so the build leaves nothing in the checkout. `python -m build`
makes the sdist and then the wheel *from the sdist*, so both are checked in one build; it runs
without isolation, on the dev venv's setuptools (a dev dependency), to save two throw-away
build environments. The fresh venv gets birdgen's dependencies from the package index pip is
set up for, through pip's cache, uncompiled (byte-compiling `kubernetes` is most of the cost).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.sources import files

REPO = Path(__file__).resolve().parent.parent
WALKTHROUGH = REPO / "examples" / "walkthrough"
# Exactly what a checkout holds that a build reads; caches and the dev venv are left out.
IGNORE = shutil.ignore_patterns(".venv", ".git", "*.egg-info", "build", "dist", "__pycache__", ".*_cache", ".hypothesis", "bench", "golden", "tests")  # fmt: skip


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_wheel_ships_the_templates_and_renders_from_elsewhere(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=IGNORE)
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, src, cwd=tmp_path)
    (sdist,) = dist.glob("birdgen-*.tar.gz")
    (wheel,) = dist.glob("birdgen-*.whl")
    with tarfile.open(sdist) as tar:
        assert any(n.endswith("/templates/bird.conf.j2") for n in tar.getnames())
    with zipfile.ZipFile(wheel) as whl:
        assert "birdgen/templates/bird.conf.j2" in whl.namelist()

    env = tmp_path / "venv"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    # The dev venv's pip installs into the fresh one: no ensurepip, dependencies from the index.
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "-q",
        "--no-compile",
        wheel,
        cwd=tmp_path,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = elsewhere / "bird.conf"
    # No NODENAME, CALICO_* or BIRDGEN_* from the caller: the in-process render below has none.
    bare = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    run(env / "bin" / "birdgen", "render", "-f", WALKTHROUGH, "--node", "node-1", "-o", out, cwd=elsewhere, env=bare)  # fmt: skip
    expected = render_objects(files.load([str(WALKTHROUGH)]), Environment("node-1")).text
    assert out.read_text() == expected
    # It is the installed copy that ran, not this checkout.
    where = run(python, "-c", "import birdgen; print(birdgen.__file__)", cwd=elsewhere, env=bare)
    assert where.startswith(str(env))
    help_text = run(python, "-m", "birdgen", "--help", cwd=elsewhere, env=bare)
    assert "render" in help_text
