"""A box-head answer whose box reaches outside the image: clipped, with a note under the answer
that stays with it when the chat is reopened (its own served app: the box differs from
`grounded`'s)."""
import pytest

from app_testfiles import client, send, served_box_head, texts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clipping(tmp_path_factory, make_tiny_ckpt):
    """The box's top lies in the padding above the image."""
    yield from served_box_head(tmp_path_factory, make_tiny_ckpt, 6, (0.25, 0.1, 0.75, 0.6))


def test_a_clipped_box_has_a_note_under_the_answer_that_stays_with_it(clipping, wide):
    demo, app = clipping
    out = send(client(demo), "Where is the white square?", [wide]).result(timeout=60)
    chat = app.store.chats()[0].id
    a = app.store.branch(chat)[-1]
    # padded y 0.1 -> (8 - 15) / 50 on the 80x50 image; every one of the 16 answer tokens was <at>
    note = "clipped a box that reached outside the image: (0.250, -0.140, 0.750, 0.660) (16 times)"
    assert a.text.startswith("[0][1]") and a.meta["notes"] == [note]
    assert texts(out[0][-1]).rstrip().endswith(f"*{note}*")
    reopened = client(demo).predict(chat, api_name="/open_chat")  # a new session, from the store
    assert texts(reopened[0][-1]).rstrip().endswith(f"*{note}*")
