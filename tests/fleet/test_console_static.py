"""The console's files as the fleet serves them: where, with which security headers,
strings in both languages, and everything shipped in the package."""

import json
import re
import shutil
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fleet.console import STATIC
from fleet.settings import FleetSettings
from silverguard.servers.process import free_port
from tests.fleet.helpers import make_app

ROOT = Path(__file__).parent.parent.parent
SCRIPTS = sorted(STATIC.rglob("*.js"))


@pytest.fixture
def client(tmp_path: Path, sqlite_template: Path) -> Iterator[TestClient]:
    """The fleet on SQLite only: serving files does not depend on the database."""
    shutil.copy(sqlite_template, tmp_path / "registry.db")
    settings = FleetSettings(
        data_dir=tmp_path / "fleet",
        database_url=f"sqlite:///{tmp_path / 'registry.db'}",
        mqtt={"host": "127.0.0.1", "port": free_port()},  # type: ignore[arg-type]
        influx={"url": f"http://127.0.0.1:{free_port()}"},  # type: ignore[arg-type]
    )
    with TestClient(make_app(settings)) as test_client:
        yield test_client


def test_root_sends_visitors_to_the_console(client: TestClient):
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/console/"
    bare = client.get("/console", follow_redirects=False)
    assert bare.status_code in (307, 308)
    assert bare.headers["location"].endswith("/console/")


def test_every_console_response_carries_the_security_headers(client: TestClient):
    for path in (
        "/console/",
        "/console/app.js",
        "/console/console.css",
        "/console/strings.json",
        "/console/nothing-here.js",
    ):
        response = client.get(path)
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp, path
        assert "'unsafe-inline'" not in csp
        assert "'unsafe-eval'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "require-trusted-types-for 'script'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
    assert client.get("/console/nothing-here.js").status_code == 404


def test_the_page_loads_its_code_from_files_only(client: TestClient):
    page = client.get("/console/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts == [(' type="module" src="app.js"', "")]
    assert " style=" not in page.text
    assert not re.search(r"\son[a-z]+\s*=", page.text, re.I)  # no inline event handlers
    module = client.get("/console/pages/alerts.js")
    assert module.status_code == 200
    assert "javascript" in module.headers["content-type"]


def test_no_script_writes_html_or_keeps_the_token_outside_session_storage():
    for script in SCRIPTS:
        code = script.read_text()
        for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert risky not in code, f"{script.name} uses {risky}"
        assert "localStorage.setItem(TOKEN" not in code
    api_js = (STATIC / "api.js").read_text()
    assert "sessionStorage.setItem(TOKEN_KEY" in api_js


def test_the_paths_outside_the_console_folder_are_not_served(client: TestClient):
    python_source = (STATIC.parent / "__init__.py").read_text()
    for path in (
        "/console/../console/__init__.py",
        "/console/%2e%2e/__init__.py",
        "/console/..%2f__init__.py",
        "/console/static/../__init__.py",
    ):
        response = client.get(path)
        # Not found, and above all not the fleet's own source next to the static folder.
        assert response.status_code == 404, (path, response.status_code)
        assert response.text != python_source


def test_every_string_exists_in_both_languages():
    strings = json.loads((STATIC / "strings.json").read_text())
    assert set(strings) == {"zh-CN", "en"}
    assert set(strings["zh-CN"]) == set(strings["en"])
    for lang, table in strings.items():
        for key, text in table.items():
            assert text.strip(), f"{lang}: {key} is empty"
            assert set(re.findall(r"{(\w+)}", text)) == set(
                re.findall(r"{(\w+)}", strings["en" if lang == "zh-CN" else "zh-CN"][key])
            ), f"{key}: the two languages take different placeholders"
    # Chinese text is Chinese: every zh-CN string of more than a symbol has a CJK character
    # or is a name/format shared by both (a brand, "—", "{h} h").
    untranslated = [
        key
        for key, text in strings["zh-CN"].items()
        if text == strings["en"][key] and re.search(r"[A-Za-z]{3,}", text)
    ]
    assert untranslated == []


# The phone page (phone.html) keeps its own strings beside its script.
PHONE = STATIC / "phone"


def test_every_key_the_scripts_use_is_defined():
    strings = json.loads((STATIC / "strings.json").read_text())["en"]
    used = set()
    for script in SCRIPTS:
        if script.parent != PHONE:
            used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", script.read_text()))
    assert used, "no t('key') calls found: the pattern no longer matches the code"
    assert sorted(used - set(strings)) == []


def test_the_phone_page_defines_every_key_it_uses_in_both_languages():
    strings = json.loads((PHONE / "phone-strings.json").read_text())
    assert set(strings["zh-CN"]) == set(strings["en"])
    script = (PHONE / "phone.js").read_text()
    used = set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", script))
    # Keys made from a value: t(`state.${task.state}`), t(`found.${f}`) ...
    for prefix in re.findall(r"""\bt\(`([\w]+)\.\$\{""", script):
        assert any(key.startswith(f"{prefix}.") for key in strings["en"]), prefix
    assert used
    assert sorted(used - set(strings["en"])) == []
    for key, text in strings["zh-CN"].items():
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", strings["en"][key]))


def test_the_package_ships_every_console_file():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["fleet.console"]
    package = STATIC.parent
    for path in STATIC.rglob("*"):
        if path.is_file():
            relative = path.relative_to(package).as_posix()
            assert any(
                fnmatch(relative, p) and relative.count("/") == p.count("/") for p in patterns
            ), relative
