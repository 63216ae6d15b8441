"""A real headless Chromium (Debian's, driven by Playwright) loads the page, uploads an image,
sends a message and sees the answer stream in. The screenshot is kept in the test's tmp dir."""
import shutil

import pytest

from app_testfiles import PausesMidAnswer, wait_until

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def page(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=FLAGS, headless=True,
            viewport={"width": 1400, "height": 900})
        yield browser.new_page()
        browser.close()


def test_browser_uploads_an_image_and_sees_the_answer_stream(served, pictures, page, tmp_path):
    demo, app = served
    real = app.slot.engine  # a pause after 3 tokens: a greedy answer on an idle machine otherwise
    app.slot.engine = PausesMidAnswer(real, after=3, pause=1.5)  # ends between two looks at the page
    try:
        _uploads_and_streams(app, demo, pictures, page, tmp_path)
    finally:
        app.slot.engine = real


def _uploads_and_streams(app, demo, pictures, page, tmp_path):
    page.goto(demo.local_url)
    page.wait_for_selector("#message textarea", timeout=30_000)
    assert page.title() == "vlchat"
    page.set_input_files("#message input[type=file]", str(pictures["red"]))
    page.wait_for_selector("#message img", timeout=15_000)  # the thumbnail of the upload
    page.fill("#message textarea", "What colour is this square?")
    page.press("#message textarea", "Enter")

    bot = page.locator("#chatbot .message.bot").last
    bot.wait_for(timeout=30_000)
    seen = set()
    assert wait_until(lambda: seen.add(bot.inner_text()) or "▌" not in bot.inner_text() and
                      len(seen) > 1, timeout=60, every=0.1)
    streamed = [t for t in seen if "▌" in t and t.strip("▌ \n")]
    assert streamed, f"no partial answer was seen: {seen}"
    page.wait_for_timeout(300)
    page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)

    chat = app.store.chats()[0]
    q, a = app.store.branch(chat.id)
    assert q.text == "What colour is this square?" and len(q.blobs) == 1
    assert a.status == "done" and a.text.strip()[:20] in bot.inner_text()
    assert page.locator("#chatbot img").count() >= 1  # the image is shown in the conversation
    assert page.locator("#chat-list").inner_text().count("What colour is this square?") == 1
