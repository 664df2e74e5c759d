"""The console's JavaScript modules, followed from app.js as a browser would load them."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

import pytest

from care_api.http.app import create_app
from care_api.http.routes.console import CONSOLE_DIR
from care_api.services import Services
from tests.api.support import TestClient

STATIC = "/console/static/"
JS_TYPES = {"text/javascript", "application/javascript"}
# `import … from "x"`, `export … from "x"` and a bare `import "x"`.
IMPORT = re.compile(r"""(?:\bfrom|^\s*import)\s*["']([^"']+)["']""", re.MULTILINE)


@pytest.fixture
def console(services: Services) -> Iterator[TestClient]:
    app = create_app(services)
    with TestClient(app) as client:
        yield client


def test_every_module_app_js_imports_is_served_as_javascript_from_the_service(
    console: TestClient,
) -> None:
    seen: set[str] = set()
    todo = [f"{STATIC}app.js"]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        answer = console.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["content-type"].split(";")[0] in JS_TYPES, url
        for specifier in IMPORT.findall(answer.text):
            # Offline: a module comes from the service itself, never from a CDN.
            assert specifier.startswith(("./", "../")), (url, specifier)
            target = posixpath.normpath(posixpath.join(posixpath.dirname(url), specifier))
            assert target.startswith(STATIC), (url, specifier)
            todo.append(target)
    # Every module on disk is loaded (none is left behind by a move), subfolders included.
    on_disk = {
        f"{STATIC}{p.relative_to(CONSOLE_DIR).as_posix()}" for p in CONSOLE_DIR.rglob("*.js")
    }
    assert seen == on_disk
    assert f"{STATIC}case/actions.js" in seen
