"""Packaging: the floors users get are the versions the tests run, the extras are complete."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def _project() -> dict[str, object]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project: dict[str, object] = data["project"]
    return project


def _requirements() -> list[Requirement]:
    project = _project()
    extras = project["optional-dependencies"]
    assert isinstance(extras, dict)
    found = [Requirement(r) for r in project["dependencies"]]  # type: ignore[attr-defined]
    for requirements in extras.values():
        found += [Requirement(r) for r in requirements]
    return [r for r in found if canonicalize_name(r.name) != "stalwart"]


def test_every_floor_is_the_tested_version() -> None:
    pins = _pins()
    for requirement in _requirements():
        pinned = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(pinned), (requirement, pinned)
        floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        assert floors, f"{requirement} has no floor"
        floor = floors[0]
        # The floor names the tested release down to the precision it is written with.
        precision = len(floor.release)
        assert pinned.release[:precision] == floor.release, (
            f"{requirement.name}: the tests run {pinned}, the floor is {floor}; raise the floor")


def test_zero_x_libraries_the_integrations_lean_on_are_capped() -> None:
    # Their 0.x minor releases change the APIs Stalwart calls into.
    for requirement in _requirements():
        if canonicalize_name(requirement.name) in ("openai-agents", "genai-prices"):
            assert any(s.operator == "<" for s in requirement.specifier), requirement


def test_extras_offer_plain_and_binary_psycopg_and_an_all_extra() -> None:
    project = _project()
    extras = project["optional-dependencies"]
    assert isinstance(extras, dict)
    assert project["license"] == "Apache-2.0"
    assert Requirement(extras["postgres"][0]).extras == {"pool"}
    assert Requirement(extras["postgres-binary"][0]).extras == {"binary", "pool"}
    named = {extra for r in extras["all"] for extra in Requirement(r).extras}
    assert named == set(extras) - {"all", "postgres"}


def test_the_demo_does_not_install_a_browser() -> None:
    demo = (ROOT / "scripts" / "demo").read_text()
    bootstrap = (ROOT / "scripts" / "bootstrap").read_text()
    assert "scripts/bootstrap --no-browser" in demo
    assert '"$browser" = 1' in bootstrap and "chromium" in bootstrap
