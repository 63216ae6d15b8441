"""An answer's boxes go back to the model with the next turn as it wrote them: each [k] of the
stored answer (a real SQLite store) becomes a Region, which the engine writes in the model's own
box text (here Qwen-VL's, through the real tiny checkpoint's tokenizer and chat template)."""
from __future__ import annotations

from pathlib import Path

from app.blobs import BlobStore
from app.store import Store
from app.prompt import to_engine
from engine.api import Region, Text

BOX = {"ref": 0, "image_index": 0, "x1": 0.1, "y1": 0.2, "x2": 0.5, "y2": 0.9}


def stored_chat(tmp_path: Path, image: str, answer: str, boxes: list[dict]):
    store, blobs = Store(tmp_path / "chats.sqlite3"), BlobStore(tmp_path / "blobs")
    chat = store.new_chat()
    q = store.add(chat, None, "user", "Where is the square?", [blobs.put(Path(image).read_bytes(), ".png")])
    a = store.add(chat, q, "assistant", answer, meta={"boxes": boxes})
    store.add(chat, a, "user", "Describe it.")
    return store.branch(chat), blobs


def test_an_answers_boxes_come_back_in_the_models_box_text(tmp_path, tiny_llava, images, load_engine):
    branch, blobs = stored_chat(tmp_path, images[0], "It is here [0], see [0].", [{**BOX, "at": 11}])
    messages, _ = to_engine(branch, blobs)
    assert messages[1].parts == [Text("It is here "), Region(0, (0.1, 0.2, 0.5, 0.9)), Text(", see [0].")]
    e = load_engine(tiny_llava, backend="torch", box_format="qwen_vl")
    prompt = e.inner.prompter.tokenizer.decode(e.inner.build(messages).ids)
    assert "It is here <box>(100,200),(500,900)</box>, see [0]." in prompt


def test_boxes_that_do_not_fit_the_text_or_the_images_stay_as_text(tmp_path, images):
    boxes = [{**BOX, "at": 3}, {**BOX, "ref": 1, "image_index": 1, "at": 12}]  # [0] is not at 3; no image 2
    branch, blobs = stored_chat(tmp_path, images[0], "It is here [0] and [1].", boxes)
    messages, _ = to_engine(branch, blobs)
    assert messages[1].parts == [Text("It is here [0] and [1].")]


def test_a_question_whose_answer_failed_empty_joins_the_next_one(tmp_path, tiny_llava, images, load_engine):
    """user, (assistant failed before any text), user: one user turn for the model, both questions
    in it, so a template that insists on user/assistant turns still renders the chat."""
    from app.prompt import one_turn_each
    store, blobs = Store(tmp_path / "chats.sqlite3"), BlobStore(tmp_path / "blobs")
    chat = store.new_chat()
    q1 = store.add(chat, None, "user", "please stall", [blobs.put(Path(images[0]).read_bytes(), ".png")])
    a1 = store.add(chat, q1, "assistant", "", status="error", meta={"error": "timed out"})
    store.add(chat, a1, "user", "now answer")
    messages = one_turn_each(to_engine(store.branch(chat), blobs)[0])
    assert [m.role for m in messages] == ["user"]
    assert [p.text for p in messages[0].parts if isinstance(p, Text)] == ["please stall", "\n\n", "now answer"]
    e = load_engine(tiny_llava, backend="torch")
    prompt = e.inner.prompter.tokenizer.decode(e.inner.build(messages).ids)
    assert prompt.count("USER:") == 1 and prompt.index("please stall") < prompt.index("now answer")


def test_a_k_the_user_writes_is_that_box_of_the_answer_before(tmp_path, tiny_llava, images, load_engine):
    store, blobs = Store(tmp_path / "chats.sqlite3"), BlobStore(tmp_path / "blobs")
    chat = store.new_chat()
    q = store.add(chat, None, "user", "Where is the square?", [blobs.put(Path(images[0]).read_bytes(), ".png")])
    a = store.add(chat, q, "assistant", "It is here [0].", meta={"boxes": [{**BOX, "at": 11}]})
    q2 = store.add(chat, a, "user", "What colour is [0]? And [3]?")
    messages, _ = to_engine(store.branch(chat), blobs)
    assert messages[-1].parts == [Text("What colour is "), Region(0, (0.1, 0.2, 0.5, 0.9)),
                                  Text("? And [3]?")], "only a box the answer before has"
    e = load_engine(tiny_llava, backend="torch", box_format="qwen_vl")
    prompt = e.inner.prompter.tokenizer.decode(e.inner.build(messages).ids)
    assert "What colour is <box>(100,200),(500,900)</box>? And [3]?" in prompt
    # After an answer without boxes, a [0] is just text.
    a2 = store.add(chat, q2, "assistant", "Red.")
    store.add(chat, a2, "user", "And [0] again?")
    assert to_engine(store.branch(chat), blobs)[0][-1].parts == [Text("And [0] again?")]


def test_a_point_into_nothing_goes_back_where_it_came_and_is_no_box_text(tmp_path, tiny_llava, images, load_engine):
    """A box head's null (a count's "no more": no [k], nothing drawn) is stored with its offset and
    comes back as a NO_BOX Region between the boxes and the words after them; a model that writes
    boxes as text (a model loaded later in the same chat) gets no text for it."""
    from engine.grounding.geometry import NO_BOX
    store, blobs = Store(tmp_path / "chats.sqlite3"), BlobStore(tmp_path / "blobs")
    chat = store.new_chat()
    q = store.add(chat, None, "user", "How many squares?", [blobs.put(Path(images[0]).read_bytes(), ".png")])
    boxes = [{**BOX, "at": 0}, {**BOX, "ref": 1, "x1": 0.6, "x2": 0.9, "at": 4}]
    a = store.add(chat, q, "assistant", "[0] [1] so 2.", meta={"boxes": boxes, "nulls": [{"image_index": 0, "at": 8}]})
    store.add(chat, a, "user", "And circles?")
    messages, _ = to_engine(store.branch(chat), blobs)
    assert messages[1].parts == [Region(0, (0.1, 0.2, 0.5, 0.9)), Text(" "), Region(0, (0.6, 0.2, 0.9, 0.9)),
                                 Text(" "), Region(0, NO_BOX), Text("so 2.")]
    e = load_engine(tiny_llava, backend="torch", box_format="qwen_vl")
    prompt = e.inner.prompter.tokenizer.decode(e.inner.build(messages).ids)
    assert "<box>(100,200),(500,900)</box> <box>(600,200),(900,900)</box> so 2." in prompt


def test_a_null_alone_and_one_that_does_not_fit_the_text(tmp_path, images):
    """A count of none is only the null ("There are no stars."): it still goes back; one stored past
    the text's end (an edited or cut answer) is dropped."""
    from engine.grounding.geometry import NO_BOX
    from app.prompt import answer_regions
    assert answer_regions("There are none.", [], 1, [{"image_index": 0, "at": 0}]) == [
        Region(0, NO_BOX), Text("There are none.")]
    assert answer_regions("None.", [], 1, [{"image_index": 0, "at": 9}]) == [Text("None.")]
    assert answer_regions("None.", [], 0, [{"image_index": 0, "at": 0}]) == [Text("None.")]
