"""The wheel carries templates, static files, seed data and migrations.

An installed wheel works outside the checkout.
"""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        cwd=out,
    )
    (built,) = out.glob("eventscope-*.whl")
    return built


def test_the_wheel_carries_templates_static_seed_data_and_migrations(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "webapp/templates/base.html" in names
    assert any(n.startswith("webapp/static/vendor/htmx") for n in names)
    assert any(n.startswith("webapp/seed_data/") and not n.endswith(".keep") for n in names)
    assert any(n.startswith("webapp/store/migrations/") and n.endswith(".py") for n in names)
    assert "webapp/migrate/script.py.mako" in names
    repo = Path(__file__).resolve().parent.parent
    shipped_from_repo = {
        f"webapp/{path.relative_to(repo).as_posix()}"
        for folder in ("templates", "static")
        for path in (repo / folder).rglob("*")
        if path.is_file()
    }
    migrations = {
        path.relative_to(repo).as_posix() for path in repo.glob("webapp/*/migrations/*.py")
    }
    assert shipped_from_repo - set(names) == set()  # every page and asset of every area
    assert migrations - set(names) == set()


@pytest.mark.slow
def test_an_installed_wheel_migrates_a_store_outside_the_checkout(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--force-reinstall",
            str(wheel),
        ],
        check=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = (
        "import webapp, webapp.resources as r;"
        "print(webapp.__file__);"
        "print(r.resource_dir('templates'), r.resource_dir('static'), r.resource_dir('seed_data'))"
    )
    shown = subprocess.run(
        [str(python), "-c", probe], check=True, capture_output=True, text=True, cwd=elsewhere
    ).stdout
    assert str(ROOT) not in shown, shown
    db = elsewhere / "store.db"
    subprocess.run(
        [str(python), "-m", "webapp", "--db", f"sqlite:///{db}", "db", "upgrade"],
        check=True,
        cwd=elsewhere,
    )
    assert db.exists() and db.stat().st_size > 0
