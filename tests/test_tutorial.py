"""The tutorial's example plugin (docs/tutorial/example, package ``hoso_outreach``) installed the way a deployment
installs a plugin, then used end to end.

The package is built and installed (not editable) into a temporary virtual environment whose interpreter also
sees this one's site-packages, so hoso and its dependencies resolve without a network. Everything then runs in
that environment's processes, with the ``hoso`` entry points loaded: ``hoso check``, ``hoso migrate``,
``hoso plugins``, the plugin's own command and ``hoso serve``, spoken to over real HTTP. The module
``outreach.sessions`` is on for Điện Biên (STP-11) only: a user there has the entity, its form, its workflow
with the plugin's guard and the plugin's route; a user of Hà Nội holding the same role has none of them (404).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import REPO

EXAMPLE = REPO / "docs" / "tutorial" / "example"
TUTORIAL = REPO / "docs" / "tutorial.md"
PASSWORD = "Sông-Đà-mùa-lũ-2026"
ENTITY = "outreach_session"
# The year the server counts in: records are kept in Vietnam's time.
YEAR = dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).year


# -- the temporary environment ------------------------------------------------------------------------------------


def _make_venv(tmp: Path) -> Path:
    """A new virtual environment that also sees this interpreter's packages (hoso, litestar, piccolo...).

    ``site.addsitedir`` (unlike a plain path line) also runs that folder's own .pth files, which is how the
    editable hoso of this checkout is found.
    """
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    here = sysconfig.get_paths()["purelib"]
    Path(purelib, "_hoso_parent_env.pth").write_text(f"import site; site.addsitedir({here!r})\n")
    return python


def _install_example(python: Path, tmp: Path) -> None:
    """Build and install the example from a copy (a build writes build/ and *.egg-info beside the sources)."""
    source = tmp / "hoso-outreach"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--disable-pip-version-check", "--quiet", str(source)],
                          capture_output=True, text=True, cwd=tmp)
    assert done.returncode == 0, done.stdout + done.stderr


INSTALLED = """
import importlib.metadata, importlib.util, json, sysconfig
dist = importlib.metadata.distribution("hoso-outreach")
print(json.dumps({
    "origin": importlib.util.find_spec("hoso_outreach").origin,
    "purelib": sysconfig.get_paths()["purelib"],
    "files": [str(f).removeprefix("hoso_outreach/") for f in dist.files],
    "entry_points": {e.name: e.value for e in dist.entry_points if e.group == "hoso"},
}))
"""


@dataclass
class Installation:
    """The temporary environment with the example installed, a deployment's configuration and a database."""

    python: Path
    home: Path
    config: Path

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOSO_")}
        # The test suite turns entry points off (tests/conftest.py); an installed deployment has them on.
        env.update(HOSO_CONFIG=str(self.config), HOSO_DATABASE_URL=f"sqlite:///{self.database}",
                   HOSO_FILES_DIR=str(self.home / "files"), PYTHONDONTWRITEBYTECODE="1")
        return env

    @property
    def database(self) -> Path:
        return self.home / "outreach.db"

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """``hoso ARGS`` run by the temporary environment's interpreter."""
        return subprocess.run([str(self.python), "-m", "hoso.cli", *args], env=self.env, cwd=self.home,
                              capture_output=True, text=True, timeout=120)

    def hoso(self, *args: str) -> str:
        """``hoso ARGS``, which must succeed; what it printed."""
        done = self.run(*args)
        assert done.returncode == 0 and "Traceback" not in done.stderr, \
            f"hoso {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serving(inst: Installation):
    """``hoso serve`` of the temporary environment on a free port; its base URL."""
    port = _free_port()
    log_path = inst.home / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(inst.python), "-m", "hoso.cli", "serve", "--port", str(port)], env=inst.env,
                                cwd=inst.home, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(proc, base, log_path)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait()


def _wait_until_up(proc: subprocess.Popen, base: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"hoso serve did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)


def _login(clients: contextlib.ExitStack, base: str, username: str) -> httpx.Client:
    client = clients.enter_context(httpx.Client(base_url=base, timeout=30))
    r = client.post("/api/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return client


def _unit_id(inst: Installation, code: str) -> int:
    with contextlib.closing(sqlite3.connect(inst.database)) as db:
        return db.execute("SELECT id FROM hoso_unit WHERE code = ?", (code,)).fetchone()[0]


# -- the steps ----------------------------------------------------------------------------------------------------


def _problems(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def _create_accounts(admin: httpx.Client) -> None:
    for username, unit in (("dienbien.cn1", "CN1-11"), ("hanoi.tt", "TT-01")):
        r = admin.post("/api/users", json={"username": username, "password": PASSWORD, "unit": unit,
                                           "display_name": f"Cán bộ {unit}", "roles": ["outreach_officer"]})
        assert r.status_code == 201, r.text


def _plan_and_hold(client: httpx.Client, unit_id: int, commune: str, attendees: int) -> dict:
    """A session created through the plugin's form and taken through the guarded "held" step."""
    body = {"unit": unit_id, "commune": commune, "planned_on": f"{YEAR}-03-10"}
    # The form asks for the topics; the entity itself does not.
    assert "topics" in _problems(client.post(f"/api/records/{ENTITY}?form={ENTITY}", json=body))
    r = client.post(f"/api/records/{ENTITY}?form={ENTITY}", json={**body, "topics": ["land", "family"]})
    assert r.status_code == 201, r.text
    session = r.json()
    assert session["status"] == "planned"
    step = f"/api/records/{ENTITY}/{session['id']}/transitions/hold"
    version = session["sys_version"]

    early = {"sys_version": version, "held_on": f"{YEAR}-03-09", "attendees": attendees}
    vi = _problems(client.post(step, json=early))
    assert vi["held_on"] == f"Ngày tổ chức (09/03/{YEAR}) không được trước ngày dự kiến (10/03/{YEAR})."
    en = _problems(client.post(step, json=early, headers={"Accept-Language": "en"}))
    assert en["held_on"] == f"The date held (09/03/{YEAR}) cannot be before the planned date (10/03/{YEAR})."
    missing = _problems(client.post(step, json={"sys_version": version, "held_on": f"{YEAR}-03-10"}))
    assert missing == {"attendees": "Cần ghi số người tham dự trước khi xác nhận buổi đã tổ chức."}

    r = client.post(step, json={"sys_version": version, "held_on": f"{YEAR}-03-10", "attendees": attendees})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "held"
    return r.json()


def _assert_absent(client: httpx.Client, session_id: int, unit_id: int) -> None:
    """The module does not exist for this user: no entity, no operation on it, no route."""
    r = client.get("/api/entities")
    assert r.status_code == 200, r.text
    assert ENTITY not in {e["name"] for e in r.json()}
    assert client.get(f"/api/records/{ENTITY}").status_code == 404
    assert client.get(f"/api/records/{ENTITY}/{session_id}").status_code == 404
    body = {"unit": unit_id, "commune": "Phường Hoàn Kiếm", "planned_on": f"{YEAR}-03-10", "topics": ["land"]}
    assert client.post(f"/api/records/{ENTITY}", json=body).status_code == 404
    assert client.get("/outreach/summary").status_code == 404


@pytest.mark.slow
def test_tutorial_plugin_installs_and_works_in_its_province_only(tmp_path, reference_config_dir):
    python = _make_venv(tmp_path)
    _install_example(python, tmp_path)
    installed = json.loads(subprocess.run([str(python), "-c", INSTALLED], capture_output=True, text=True,
                                          check=True).stdout)
    # A real install (files in the environment's site-packages, not the sources), found by its entry point.
    assert installed["origin"].startswith(installed["purelib"]), installed
    assert "config/forms_config/entities/outreach_session.yaml" in installed["files"]
    assert installed["entry_points"] == {"outreach": "hoso_outreach"}
    inst = Installation(python, tmp_path, reference_config_dir)

    # The deployment's configuration and the plugin's, merged: the plugin adds one entity.
    entities = len(list((reference_config_dir / "forms_config" / "entities").glob("*.yaml")))
    assert f"{entities + 1} entities" in inst.hoso("check")
    inst.hoso("migrate", "--yes")
    listing = inst.hoso("plugins")
    assert "hoso_outreach" in listing.replace("-", "_")
    assert "outreach.sessions" in listing and "STP-11" in listing
    inst.hoso("user", "create", "quantri", "--superuser", "--password", PASSWORD)

    with _serving(inst) as base, contextlib.ExitStack() as clients:
        admin = _login(clients, base, "quantri")
        _create_accounts(admin)
        officer = _login(clients, base, "dienbien.cn1")
        assert ENTITY in {e["name"] for e in officer.get("/api/entities").json()}
        unit_id = officer.get("/api/me").json()["unit"]["id"]
        mine = _plan_and_hold(officer, unit_id, "Xã Mường Phăng", 45)
        # A session of another branch of the same centre, outside the officer's subtree.
        _plan_and_hold(admin, _unit_id(inst, "CN2-11"), "Xã Nà Tấu", 30)

        r = officer.get("/outreach/summary")
        assert r.status_code == 200, r.text
        assert r.json() == {"year": YEAR, "sessions": 1, "attendees": 45, "communes": ["Xã Mường Phăng"]}
        national = admin.get(f"/outreach/summary?year={YEAR}").json()
        assert (national["sessions"], national["attendees"]) == (2, 75)
        assert officer.get(f"/outreach/summary?year={YEAR - 1}").json()["sessions"] == 0

        _assert_absent(_login(clients, base, "hanoi.tt"), mine["id"], _unit_id(inst, "TT-01"))

    summary = json.loads(inst.hoso("outreach-summary", "--year", str(YEAR), "--json"))
    assert summary == {"year": YEAR, "sessions": 2, "attendees": 75, "communes": ["Xã Mường Phăng", "Xã Nà Tấu"]}
    text = inst.hoso("outreach-summary")  # this year
    assert f"Năm {YEAR}: 2 buổi" in text and f"Year {YEAR}: 2 outreach sessions held, 75 attendees" in text
    missing = inst.run("outreach-summary", "--database", f"sqlite:///{tmp_path / 'none.db'}")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr, missing.stderr
    assert "none.db" in missing.stderr and not (tmp_path / "none.db").exists()

# A file shown in the tutorial: its path in bold, then a fenced block holding the whole file.
SHOWN = re.compile(r"^\*\*`([^`]+)`\*\*\n\n```[a-z]+\n(.*?)^```$", re.M | re.S)


def test_the_tutorial_shows_every_file_of_the_example_as_it_is():
    shown = dict(SHOWN.findall(TUTORIAL.read_text(encoding="utf-8")))
    files = {p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE.rglob("*")
             if p.is_file() and not {"__pycache__", "build"} & set(p.parts) and ".egg-info" not in str(p)}
    assert set(shown) == files
    for path, text in shown.items():
        assert text == (EXAMPLE / path).read_text(encoding="utf-8"), f"docs/tutorial.md shows an old {path}"
