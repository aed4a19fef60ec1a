"""A real browser (Debian's Chromium, driven by Playwright) against the real dev server, with a
real worker on a background loop. No browser is ever downloaded."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stalwart.client import Client
from stalwart.worker import Worker
from tests.server._support import LoopThread, RunningServer, start_server
from tests.server._workflows import ALL_ACTIVITIES, ALL_WORKFLOWS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
TASK_QUEUE = "browser-tests"


def _require_chromium() -> None:
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return
    message = (f"BROWSER TESTS NOT RUN: {CHROMIUM} is missing. Install it with "
               "'apt-get install -y chromium' (scripts/bootstrap does so when run as root).")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Env:
    server: RunningServer
    loop: LoopThread
    client: Client

    def run(self, coro: Any, timeout: float = 60.0) -> Any:
        return self.loop.run(coro, timeout)

    def start(self, workflow: str, *args: Any, id: str) -> Any:
        return self.run(self.client.start_workflow(workflow, args=list(args), id=id,
                                                   task_queue=TASK_QUEUE))

    def status(self, workflow_id: str) -> str:
        handle = self.client.get_workflow_handle(workflow_id)
        return str(self.run(handle.describe()).status.name)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    _require_chromium()
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'stalwart.db'}"
    loop = LoopThread()
    client: Client = loop.run(Client.connect(url))
    worker = Worker(client, task_queue=TASK_QUEUE, workflows=ALL_WORKFLOWS,
                    activities=ALL_ACTIVITIES)
    loop.run(worker.__aenter__())
    server = start_server(url)
    try:
        yield Env(server=server, loop=loop, client=client)
    finally:
        server.stop()
        loop.run(worker.__aexit__(None, None, None))
        loop.run(client.close())
        loop.close()


@pytest.fixture(scope="module")
def browser(env: Env) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
