"""render: the template environment built afresh renders the goldens exactly.

`environment()` is built once per process and cached; every other test uses the one built
first. These build it again, so that what the environment is made of (the templates found,
Jinja's whitespace rules, the filters) is checked where it is built, not only where it was
built once for everything else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from golden_scenarios import GOLDEN, render_scenario

import birdgen
from birdgen.render.render import environment, templates_dir

REPOSITORY = Path(__file__).resolve().parents[2]
# Passwords, BGPFilter functions with community and AS-path operations, IPv6 sessions.
SCENARIOS = ["calico-password-step3", "calico-bgpfilter-communities-operations",
             "calico-explicit-global-ipv6"]  # fmt: skip


@pytest.fixture
def fresh() -> Iterator[None]:
    environment.cache_clear()
    yield
    environment.cache_clear()


def test_the_templates_are_the_checkouts_own() -> None:
    assert templates_dir() == REPOSITORY / "templates"


def installed_at(monkeypatch: pytest.MonkeyPatch, root: Path) -> Path:
    """birdgen's package directory moved to `root/birdgen`, as an installed copy has it."""
    package = root / "birdgen"
    package.mkdir()
    monkeypatch.setattr(birdgen, "__file__", str(package / "__init__.py"))
    return package


def test_an_installed_package_reads_the_templates_it_ships(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = installed_at(monkeypatch, tmp_path)
    (package / "templates").mkdir()
    (package / "templates" / "bird.conf.j2").write_text("")
    (tmp_path / "templates").mkdir()  # a checkout's, beside it: not the one shipped
    (tmp_path / "templates" / "bird.conf.j2").write_text("")
    assert templates_dir() == package / "templates"


def test_no_templates_anywhere_names_both_places_looked_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = installed_at(monkeypatch, tmp_path)
    (package / "templates").mkdir()  # without bird.conf.j2
    with pytest.raises(FileNotFoundError) as info:
        templates_dir()
    assert str(info.value) == (
        f"birdgen's templates (bird.conf.j2) are in neither {package / 'templates'}"
        f" nor {tmp_path / 'templates'}"
    )


@pytest.mark.usefixtures("fresh")
@pytest.mark.parametrize("name", SCENARIOS)
def test_a_fresh_environment_renders_the_golden(name: str) -> None:
    scenario = GOLDEN / name
    assert render_scenario(scenario)["bird.conf"] == (scenario / "bird.conf").read_text()
