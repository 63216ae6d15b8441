"""The browser tab shows the project's own icon (assets/favicon.png), served by the page."""
import httpx
import pytest

from app_testfiles import ROOT

pytestmark = pytest.mark.slow


def test_favicon_is_the_projects_icon(served):
    demo, _ = served
    r = httpx.get(demo.local_url + "favicon.ico")
    assert r.status_code == 200 and r.content == (ROOT / "assets" / "favicon.png").read_bytes()
