"""Issue 16: the page as a new user meets it, in a real headless Chromium (Playwright) on the app
served for real (the tiny model, a slow answer made by pausing the real engine), at 1280x800,
1920x1080 and 400 px wide. Screenshots are kept under each test's tmp dir."""
from __future__ import annotations

import pytest

from app_testfiles import PausesMidAnswer, answered, chromium_page, client, free_port, send, start_app, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page_app(tmp_path_factory, tiny_model):
    """The app on a port of its own (a restart comes back on it), answers cut at 16 tokens."""
    data, port = tmp_path_factory.mktemp("newuser"), free_port()
    demo, app = start_app(data, tiny_model, max_tokens=16, port=port, max_image_megapixels=1)
    yield demo, app, data, port
    demo.close()


def opened(page, url, tmp_path=None, name="page"):
    page.goto(url)
    page.wait_for_selector("#message textarea", timeout=30_000)
    page.wait_for_selector("#status .vl-status", timeout=15_000)
    if tmp_path is not None:
        page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def reloaded(page, tries=4):
    """Reload the page. After a restart Gradio's own page reloads itself once it hears the server
    again, and a reload of ours that meets that one is aborted (net::ERR_ABORTED): try again."""
    from playwright.sync_api import Error
    for left in range(tries - 1, -1, -1):
        try:
            page.reload()
            return
        except Error:
            if not left:
                raise
            page.wait_for_timeout(1000)


def ask(page, text, image=None):
    if image is not None:
        page.set_input_files("#message input[type=file]", str(image))
        page.wait_for_selector("#message img", timeout=15_000)
    page.fill("#message textarea", text)
    page.press("#message textarea", "Enter")


def newest(app):
    return max(app.store.chats(), key=lambda c: c.id)


def done(app, chat_id):
    return wait_until(lambda: app.store.branch(chat_id)[-1].status not in ("streaming",)
                      and app.store.branch(chat_id)[-1].role == "assistant", timeout=60, every=0.1)


def open_sampling(page):
    page.get_by_text("System prompt and sampling").click()
    page.wait_for_selector("#sampling-in-use", timeout=10_000)


# ---- 1, 8: sampling from the model, the user's choice kept per chat, New chat resets ----------
def test_sampling_follows_the_model_until_the_user_moves_a_slider(page_app, tmp_path):
    demo, app, *_ = page_app
    want = app.slot.info.sampling  # the tiny model has no generation_config sampling: 4M parameters
    assert (want.temperature, want.source) == (0.0, "small model (4M parameters): greedy")
    with chromium_page(tmp_path) as page:
        opened(page, demo.local_url)
        open_sampling(page)
        assert wait_until(lambda: "From: small model (4M parameters): greedy, for tiny" in
                          page.locator("#sampling-in-use").inner_text(), timeout=30)
        assert "In use: temperature 0 (greedy), top-p 1" in page.locator("#sampling-in-use").inner_text()
        assert page.locator("#model-sampling input").is_checked()
        assert page.locator("#temperature input[type=number]").input_value() == "0"
        page.screenshot(path=str(tmp_path / "sampling.png"), full_page=True)
        ask(page, "first")
        assert wait_until(lambda: len(app.store.chats()) > 0, timeout=30)
        model_chat = newest(app).id
        assert done(app, model_chat)
        assert app.store.branch(model_chat)[-1].meta["sampling"]["temperature"] == 0.0
        assert app.store.chat(model_chat).sampling == {}

        page.locator("button:has-text('+ New chat')").first.click()
        assert wait_until(lambda: "first" not in page.locator("#chatbot").inner_text(), timeout=10)
        page.wait_for_timeout(500)  # the new chat's panel is drawn
        page.locator("#temperature input[type=range]").fill("0.9")  # the user drags the slider
        assert wait_until(lambda: not page.locator("#model-sampling input").is_checked(), timeout=10)
        assert "From: your choice for this chat" in page.locator("#sampling-in-use").inner_text()
        page.locator("#as-document input").check()
        ask(page, "second")
        assert wait_until(lambda: newest(app).id != model_chat, timeout=30)
        own_chat = newest(app).id
        assert done(app, own_chat)
        assert app.store.branch(own_chat)[-1].meta["sampling"]["temperature"] == 0.9

        page.locator("button:has-text('+ New chat')").first.click()  # 8: per-message options reset
        assert wait_until(lambda: not page.locator("#as-document input").is_checked(), timeout=10)
        assert wait_until(lambda: page.locator("#model-sampling input").is_checked(), timeout=10)
        assert page.locator("#temperature input[type=number]").input_value() == "0"

        page.locator("#chat-list label", has_text="second").click()  # the chat's own choice comes back
        assert wait_until(lambda: page.locator("#temperature input[type=number]").input_value() == "0.9", timeout=10)
        assert not page.locator("#model-sampling input").is_checked()
        page.screenshot(path=str(tmp_path / "own-choice.png"), full_page=True)


# ---- 2, 4: an honest status, the stop button and a note while an answer streams ---------------
def test_status_and_send_button_while_an_answer_streams(page_app, tmp_path, tiny_model):
    demo, app, *_ = page_app
    real = app.slot.engine
    app.slot.engine = PausesMidAnswer(real, after=2, pause=6.0)
    try:
        with chromium_page(tmp_path) as page:
            seen = []  # every text the status ever showed, from before the page's own scripts ran
            page.expose_function("statusSeen", lambda t: seen.append(t))
            page.add_init_script("""new MutationObserver(() => {
                const s = document.querySelector('#status'); if (s) window.statusSeen(s.innerText);
            }).observe(document, {subtree: true, childList: true, characterData: true});""")
            opened(page, demo.local_url)
            page.wait_for_timeout(1500)
            assert seen and not any("Loading" in t for t in seen), seen  # no loading flash
            ask(page, "a slow answer")
            assert app.slot.engine.paused.wait(30)
            assert wait_until(lambda: "Answering…" in page.locator("#status").inner_text(), timeout=5)
            assert page.locator("#message button[aria-label='Stop']").is_visible()
            assert page.locator("#busy-note").is_visible()
            page.fill("#message textarea", "typed meanwhile")
            page.press("#message textarea", "Enter")  # waits in the box
            page.screenshot(path=str(tmp_path / "streaming.png"), full_page=True)
            chat = newest(app).id
            assert done(app, chat)
            assert wait_until(lambda: "Ready" in page.locator("#status").inner_text(), timeout=5)
            assert wait_until(lambda: not page.locator("#busy-note").is_visible(), timeout=5)
            assert page.locator("#message textarea").input_value() == "typed meanwhile"
            assert [m.text for m in app.store.branch(chat) if m.role == "user"] == ["a slow answer"]
    finally:
        app.slot.engine = real


def test_a_failed_load_says_still_using_and_goes_with_the_next_answer(page_app, tmp_path, tiny_model):
    demo, app, *_ = page_app
    with chromium_page(tmp_path) as page:
        opened(page, demo.local_url)
        box = page.locator("#model-path input")
        box.fill(str(tmp_path / "no-such-model"))
        box.press("Enter")
        page.get_by_role("button", name="Load", exact=True).click()
        assert wait_until(lambda: "Still using" in page.locator("#status").inner_text(), timeout=30)
        assert "Still using tiny" in page.locator("#status").inner_text()
        assert wait_until(lambda: box.input_value().startswith("tiny"), timeout=30), (  # the model in use
            box.input_value(), page.evaluate("document.activeElement?.outerHTML.slice(0, 160)"))
        page.screenshot(path=str(tmp_path / "failed-load.png"), full_page=True)
        page.reload()
        page.wait_for_selector("#status .vl-status", timeout=15_000)
        assert "Still using tiny" in page.locator("#status").inner_text()  # until an action succeeds
        ask(page, "after the failed load")
        assert wait_until(lambda: "Still using" not in page.locator("#status").inner_text(), timeout=30)
        assert app.slot.error is None


# ---- 3: an answer cut at the token limit says so and goes on ----------------------------------
def test_an_answer_cut_at_the_limit_says_so_and_continues_in_the_same_answer(page_app, tmp_path):
    demo, app, *_ = page_app
    with chromium_page(tmp_path) as page:
        opened(page, demo.local_url)
        ask(page, "Tell me a long story.")  # Max new tokens is 16 here (--max-tokens)
        assert wait_until(lambda: page.locator("#continue").is_visible(), timeout=60)
        chat = newest(app).id
        first = app.store.branch(chat)[-1]
        assert first.meta["reason"] == "length"
        assert "Cut at the limit of new tokens" in page.locator("#chatbot .message.bot").last.inner_text()
        page.screenshot(path=str(tmp_path / "cut.png"), full_page=True)
        page.locator("#continue").click()
        assert wait_until(lambda: len(app.store.branch(chat)[-1].text) > len(first.text)
                          and app.store.branch(chat)[-1].status == "done", timeout=60)
        after = app.store.branch(chat)[-1]
        assert after.id == first.id and after.text.startswith(first.text)  # the same answer, on
        assert len(app.store.leaves(chat)) == 1  # no new branch
        assert after.meta["stats"]["generated_tokens"] > 0


# ---- 5: delete offers Undo ---------------------------------------------------------------------
def test_delete_offers_undo(page_app, tmp_path):
    demo, app, *_ = page_app
    with chromium_page(tmp_path) as page:
        opened(page, demo.local_url)
        ask(page, "delete me by mistake")
        assert wait_until(lambda: any(c.title == "delete me by mistake" for c in app.store.chats()), timeout=30)
        chat = newest(app).id
        assert done(app, chat)
        page.locator("#delete-chat").click()
        assert wait_until(lambda: page.locator("#undo-delete").is_visible(), timeout=10)
        assert app.store.chat(chat) is None
        page.screenshot(path=str(tmp_path / "undo.png"), full_page=True)
        page.locator("#undo-delete").click()
        assert wait_until(lambda: app.store.chat(chat) is not None, timeout=10)
        assert wait_until(lambda: "delete me by mistake" in page.locator("#chatbot").inner_text(), timeout=10)
        assert len(app.store.branch(chat)) == 2


# ---- 9: a reload and a restart open the chat that was open ----------------------------------------
def test_reload_and_restart_open_the_chat_that_was_open(page_app, tmp_path, tiny_model):
    demo, app, data, port = page_app
    with chromium_page(tmp_path) as page:
        opened(page, demo.local_url)
        ask(page, "remember this chat")
        assert wait_until(lambda: any(c.title == "remember this chat" for c in app.store.chats()), timeout=30)
        assert done(app, newest(app).id)
        page.locator("#chat-list label", has_text="remember this chat").click()
        page.wait_for_timeout(500)
        page.reload()
        assert wait_until(lambda: "remember this chat" in page.locator("#chatbot").inner_text(), timeout=15)
        demo.close()  # a restart on the same port and data dir
        demo2, app2 = start_app(data, tiny_model, max_tokens=16, port=port)
        try:
            reloaded(page)
            assert wait_until(lambda: "remember this chat" in page.locator("#chatbot").inner_text(), timeout=30)
            page.screenshot(path=str(tmp_path / "restarted.png"), full_page=True)
        finally:
            demo2.close()
            app2.store.close()


# ---- 10, 11, 12: screens, accessibility, one name per model ------------------------------------
@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080), (400, 800)])
def test_screens_accessibility_and_names(served, pictures, tmp_path, size):
    demo, app = served
    w, h = size
    with chromium_page(tmp_path) as page:
        page.set_viewport_size({"width": w, "height": h})
        opened(page, demo.local_url)
        page.wait_for_timeout(500)
        bar = page.locator(".sidebar").first
        toggle = page.locator(".sidebar .toggle-button").first
        box = toggle.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= w and box["y"] >= 0  # fully on screen
        assert ("open" in bar.get_attribute("class")) == (w >= 700)  # closed at load below ~700 px
        page.screenshot(path=str(tmp_path / f"page-{w}.png"), full_page=True)
        if w < 700:
            return
        folder = page.locator("#models-folder input, #models-folder textarea").first.input_value()
        assert folder == str(app.models_dir) and app.models_dir.is_dir()
        assert page.locator("#models-folder button").count() >= 1  # the copy button
        ask(page, "what colour?", pictures["red"])
        bot = page.locator("#chatbot .message.bot").last
        bot.wait_for(timeout=30_000)
        img = page.locator("#chatbot .message.user img").last
        img.wait_for(timeout=15_000)
        assert wait_until(lambda: img.get_attribute("alt") == "red.png", timeout=5)
        assert wait_until(lambda: answered(app.store, app.store.chats()[0].id), timeout=60)
        assert page.locator("#chatbot label:visible, #chatbot [data-testid=block-label]:visible").count() == 0
        cdp = page.context.new_cdp_session(page)
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
        unnamed = [n for n in nodes if not n.get("ignored") and n.get("role", {}).get("value") == "button"
                   and not (n.get("name", {}).get("value") or "").strip()]
        assert not unnamed, page.evaluate("""() => [...document.querySelectorAll('button')].filter(b =>
            !b.innerText.trim() && !b.getAttribute('aria-label')).map(b => b.outerHTML.slice(0, 300))""")
        boxes = [n for n in nodes if not n.get("ignored") and n.get("role", {}).get("value") == "textbox"]
        assert any((n.get("name", {}).get("value") or "") == "Message" for n in boxes), \
            [n.get("name") for n in boxes]
        status_name = page.locator("#status tr", has_text="model").first.inner_text().split("\t")[-1].strip()
        assert page.locator("#model-path input").input_value().startswith(status_name)  # one name
        # the picked model's name ends before the dropdown's arrow (it ran under it at 1280 px)
        gap = page.evaluate("""() => {
            const box = document.querySelector('#model-path input');
            const arrow = document.querySelector('#model-path .icon-wrap, #model-path svg');
            const text = box.getBoundingClientRect().right - parseFloat(getComputedStyle(box).paddingRight);
            return arrow.getBoundingClientRect().left - text;
        }""")
        assert gap >= 0, gap


def test_chat_images_carry_their_file_names_as_alt_text(served, pictures):
    """Through the API (the browser test above checks the page's <img alt>)."""
    demo, _ = served
    out = send(client(demo), "what colour?", [pictures["red"]]).result(timeout=60)
    question = out[0][-2]["content"]
    files = [p for p in (question if isinstance(question, list) else [question]) if isinstance(p, dict) and "file" in p]
    assert [f.get("alt_text") for f in files] == ["red.png"]
