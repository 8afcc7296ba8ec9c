"""Debian's Chromium starts under the pinned Playwright and can click and screenshot: the base of
the hub's end-to-end tests, checked alone so that a broken browser is not mistaken for the hub."""
from __future__ import annotations

import http.server
import threading

import pytest

from hub.browser import browser_context, unavailable, versions

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>dlkit browser check</title></head>
<body>
  <p id="status">not clicked</p>
  <button id="go" onclick="document.getElementById('status').textContent = 'clicked'">Go</button>
</body></html>
"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):  # keep pytest's output to the test's own prints
        pass


@pytest.fixture
def page_url():
    """The page, served on 127.0.0.1 at a free port for the test's duration."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


def test_debian_chromium_renders_a_local_page_and_takes_a_screenshot(tmp_path, page_url):
    reason = unavailable()
    if reason:
        print(f"skipped: {reason}")
        pytest.skip(reason)
    print(versions())

    shot = tmp_path / "page.png"
    with browser_context(tmp_path) as context:
        print("browser reports:", context.browser.version if context.browser else None)
        page = context.new_page()
        page.goto(page_url)
        status = page.locator("#status")
        assert status.text_content() == "not clicked"
        page.click("#go")
        assert status.text_content() == "clicked"
        page.screenshot(path=str(shot))

    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
