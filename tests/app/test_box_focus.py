"""Pointing at `[k]` in an answer picks out box k in the boxes panel: the box drawn thicker and on
top, the rest of the image dimmed. Checked on pixels, for the drawing, through gradio_client (the
`focus_box` event) and with a real Chromium hovering and clicking the `[k]` in the answer."""
import io

from PIL import Image
import pytest

from app.chat_app import ChatApp, Settings
from app.draw import DARK, DIM, PALETTE, colour, draw_boxes
from app_testfiles import ask_about_image_in_browser, chromium_page, client, expected_pixels, send, text_rect, wait_until

GREY = (128, 128, 128)


def test_focus_dims_the_rest_and_thickens_the_box():
    img = Image.new("RGB", (400, 200), GREY)
    boxes = [(0, (0.05, 0.1, 0.3, 0.9)), (1, (0.5, 0.2, 0.9, 0.8))]
    plain, focused = draw_boxes(img, boxes), draw_boxes(img, boxes, focus=1)
    x1 = round(0.5 * 399)
    assert plain.getpixel((x1 - 3, 100)) == DARK and focused.getpixel((x1 - 3, 100)) == colour(1)
    assert focused.getpixel((x1 + 30, 100)) == GREY                       # inside box 1: as it was
    assert abs(focused.getpixel((390, 5))[0] - GREY[0] * DIM) <= 1           # outside: dimmed
    assert plain.getpixel((390, 5)) == GREY
    assert PALETTE[0] in {c for _, c in focused.getcolors(1 << 16)}     # the other box stays
    assert draw_boxes(img, boxes, focus=7).tobytes() == plain.tobytes()  # no such box: as usual


def test_pointing_at_a_page_citation_shows_that_page(tmp_path, pictures):
    app = ChatApp(Settings(data_dir=tmp_path))
    chat = app.store.new_chat()
    q = app.store.add(chat, None, "user", "what does it say?")
    page = app.blobs.put(pictures["red"].read_bytes(), ".png")
    figs = [{"image": page, "label": f"page {n} of a.pdf", "boxes": [["p%d" % n, .1, .1, .5, .5]]}
            for n in (4, 2)]
    app.store.add(chat, q, "assistant", "See [p4] and [p2].", meta={"doc": {"pages": [4, 2]}, "figures": figs})
    pick, image = app.focus(chat, "p2", 0)
    assert pick == 1 and image.size == (64, 48)
    assert app.focus(chat, "p9", 0)[0] == 0 and app.focus(chat, "", None) == (None, None)


def ring(image, size):
    """The pixels just left of the box's left edge, from the edge outwards."""
    x, y = expected_pixels(size)
    return [image.getpixel((x - d, y + 8)) for d in range(1, 5)]


def check_focused(panel, ref):
    assert ring(panel, (80, 50)) == [colour(ref)] * 4  # a line twice as thick, in [ref]'s colour
    assert max(abs(p - c * DIM) for p, c in zip(panel.getpixel((1, 48)), (20, 20, 30))) <= 1  # dimmed
    x, y = expected_pixels((80, 50))
    assert panel.getpixel((x + 30, y + 17)) == (250, 250, 250)  # inside the box: untouched


@pytest.mark.slow
def test_focus_box_event_through_gradio_client(grounded, wide):
    demo, app = grounded
    c = client(demo)
    out = send(c, "Where is the white square?", [wide]).result(timeout=60)
    plain = Image.open(out[5]).convert("RGB")
    assert ring(plain, (80, 50))[:2] == [colour(15)] * 2 and plain.getpixel((1, 48)) == (20, 20, 30)
    pick, path = c.predict("3", 0, api_name="/focus_box")
    assert pick == 0
    check_focused(Image.open(path).convert("RGB"), 3)
    pick, path = c.predict("", 0, api_name="/focus_box")  # the pointer left: as before
    assert Image.open(path).convert("RGB").tobytes() == plain.tobytes()


@pytest.mark.slow
def test_browser_hover_and_click_on_k_highlight_its_box(grounded, wide, tmp_path):
    demo, app = grounded
    with chromium_page(tmp_path) as page:
        ask_about_image_in_browser(page, demo.local_url, wide, "Where is the white square?")
        panel = page.locator("#boxes img")

        def shown_after(action):
            before = panel.get_attribute("src")
            action()
            assert wait_until(lambda: panel.get_attribute("src") != before, timeout=15, every=0.1)
            return Image.open(io.BytesIO(page.request.get(panel.get_attribute("src")).body())).convert("RGB")

        x, y = text_rect(page, "#chatbot .message.bot", "[5]")
        check_focused(shown_after(lambda: page.mouse.move(x, y)), 5)          # hover
        left = shown_after(lambda: page.mouse.move(5, 5))                     # away: plain again
        assert ring(left, (80, 50))[:2] == [colour(15)] * 2 and left.getpixel((1, 48)) == (20, 20, 30)
        x, y = text_rect(page, "#chatbot .message.bot", "[2]")
        check_focused(shown_after(lambda: page.mouse.click(x, y)), 2)        # click
        page.screenshot(path=str(tmp_path / "focus.png"), full_page=True)
