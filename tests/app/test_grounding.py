"""Grounding in the served app, with the tiny box-head checkpoint (NExT-Chat pix2emb layout)
whose box decoder is set to one known box and whose <at> token is forced by a logit bias: the
answer's boxes are drawn on the image in the chat and the boxes panel (pixels checked), a headless
Chromium sees them, and a typed region reaches the engine as a Region."""
import pytest
from PIL import Image, ImageDraw

from app.draw import DARK, PALETTE
from app.regions import drawn_box
from app_testfiles import PADDED_BOX, ask_about_image_in_browser, chromium_page, client, expected_pixels, send, texts
from engine.api import Region
from engine.grounding.geometry import original_to_padded

@pytest.mark.slow
def test_answer_boxes_are_drawn_in_the_chat_and_the_panel(grounded, wide):
    demo, app = grounded
    out = send(client(demo), "Where is the white square?", [wide]).result(timeout=60)
    a = app.store.branch(app.store.chats()[0].id)[-1]
    assert a.text.startswith("[0][1]") and len(a.meta["boxes"]) == 16
    assert a.meta["boxes"][0]["image_index"] == 0
    fig, = a.meta["figures"]
    drawn = Image.open(app.blobs.path(fig["drawn"])).convert("RGB")
    assert drawn.size == (80, 50)
    x, y = expected_pixels((80, 50))
    assert drawn.getpixel((x, y + 8)) == DARK  # the box's dark outer line, where the box says
    assert drawn.getpixel((x + 25, y + 20)) == (250, 250, 250)  # inside, below the label: untouched
    # the chat shows the drawn image under the answer, the panel the same boxes
    shown = out[0][-1]
    assert texts(shown).startswith("[0][1]") and [p for p in shown["content"] if p.get("type") == "file"]
    panel = Image.open(out[5]).convert("RGB")
    assert panel.getpixel((x, y + 8)) == DARK
    assert set(PALETTE) & {c for _, c in panel.getcolors(1 << 16)}


@pytest.mark.slow
def test_typed_regions_reach_the_engine_and_bad_ones_get_a_note(grounded, wide):
    demo, app = grounded
    c = client(demo)
    out = send(c, "What is in [0.1, 0.2, 0.5, 0.9] and in [10, 20, 100, 60]?", [wide]).result(timeout=60)
    chat = app.store.chats()[0].id
    messages = app.answers[chat].messages
    regions = [p for p in messages[-1].parts if isinstance(p, Region)]
    assert regions[0] == Region(0, (0.1, 0.2, 0.5, 0.9))
    assert regions[1] == Region(0, (10 / 80, 20 / 50, 1.0, 1.0))  # pixels, clipped to the image
    prompt = app.slot.engine.inner.build(messages)  # the real engine's prompt: one <boxes> per region
    assert prompt.boxes[0] == pytest.approx(original_to_padded((0.1, 0.2, 0.5, 0.9), 80, 50))
    q = app.store.branch(chat)[-2]
    assert "clipped" in q.meta["notes"][0] and "clipped" in texts(out[0][-2])

    out = send(c, "And [0.9, 0.9, 0.1, 0.1]?").result(timeout=60)  # corners reversed: dropped
    q = app.store.branch(chat)[-2]
    assert "dropped" in q.meta["notes"][0]
    assert not [p for p in app.answers[chat].messages[-1].parts if isinstance(p, Region)]


def test_a_drawn_shape_becomes_its_bounding_box():
    layer = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    ImageDraw.Draw(layer).line([(20, 10), (120, 60)], fill=(230, 159, 0, 255), width=1)
    assert drawn_box([layer], (400, 200)) == pytest.approx((0.1, 0.1, 0.605, 0.61), abs=0.01)
    assert drawn_box([Image.new("RGBA", (10, 10))], (10, 10)) is None


@pytest.mark.slow
def test_browser_shows_the_boxes(grounded, wide, tmp_path):
    demo, app = grounded
    with chromium_page(tmp_path) as page:
        bot = ask_about_image_in_browser(page, demo.local_url, wide, "Where is the white square?")
        page.wait_for_timeout(300)
        page.screenshot(path=str(tmp_path / "grounding.png"), full_page=True)
        text = bot.inner_text()
    assert text.startswith("[0][1]")


@pytest.mark.slow
def test_the_answers_boxes_go_back_to_the_model_as_it_gave_them(grounded, wide):
    """Turn 2: the first answer's [k] reach the engine as Regions on the image, so the box-head
    model reads <at> + the box embedding it generated, not the text "[0]"."""
    demo, app = grounded
    c = client(demo)
    send(c, "Where is the white square?", [wide]).result(timeout=60)
    chat = app.store.chats()[0].id
    first = app.store.branch(chat)[-1]
    send(c, "And now?").result(timeout=60)
    said = app.answers[chat].messages[-2]
    assert said.role == "assistant"
    regions = [p for p in said.parts if isinstance(p, Region)]
    assert len(regions) == len(first.meta["boxes"]) == 16
    b = first.meta["boxes"][3]
    assert regions[3] == Region(0, (b["x1"], b["y1"], b["x2"], b["y2"]))
    prompt = app.slot.engine.inner.build(app.answers[chat].messages)
    assert prompt.boxes[3] == pytest.approx(PADDED_BOX, abs=1e-6)  # back on the padded square
