"""Each bad input gets a message in the chat, what the user typed is kept, and the next message
works. Run against the served app (limits: 0.05 MiB, 1 megapixel)."""
import pytest

from app_testfiles import FailsMidAnswer, client, last_answer, make_bad_files, send, start_app, texts, wait_until


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return make_bad_files(tmp_path_factory.mktemp("bad"))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["text", "truncated", "bomb", "big_bytes", "big_pixels", "empty", "pdf"])
def test_bad_file_gets_a_message_and_the_next_message_works(served, pictures, bad_files, kind):
    demo, app = served
    c = client(demo)
    path, words = bad_files[kind]
    chats_before = len(app.store.chats())
    out = send(c, f"look at this {kind}", [path, pictures["red"]]).result(timeout=60)
    notice = last_answer(out)
    if kind == "pdf":  # refused by the document reader, in its words
        assert "Not sent" in notice and words in notice and path.name in notice
    else:
        assert notice == f"⚠ **Not sent.** {words}"  # word for word
    kept = out[1]  # the textbox keeps the text and the good image, drops the bad file
    assert kept["text"] == f"look at this {kind}" and len(kept["files"]) == 1
    assert len(app.store.chats()) == chats_before  # nothing stored for a refused message

    out = send(c, "and now a good one", [pictures["red"]]).result(timeout=60)
    assert texts(out[0][-2]) == "and now a good one"
    assert app.store.branch(app.store.chats()[0].id)[-1].status == "done"
    assert "Not sent" not in str(out[0])  # the notice is gone once a message is sent


@pytest.mark.slow
def test_engine_error_mid_answer_shows_and_keeps_the_partial_answer(served):
    demo, app = served
    c = client(demo)
    real = app.slot.engine
    app.slot.engine = FailsMidAnswer(real)
    try:
        out = send(c, "this answer will fail", max_tokens=64).result(timeout=60)
    finally:
        app.slot.engine = real
    shown = last_answer(out)
    stored = app.store.branch(app.store.chats()[0].id)[-1]
    assert stored.status == "error" and stored.text and shown.startswith(stored.text)
    assert "failed mid-answer" in shown
    out = send(c, "after the failure", max_tokens=16).result(timeout=60)
    assert app.store.branch(app.store.chats()[0].id)[-1].status == "done"


@pytest.mark.slow
def test_bad_model_paths_say_so_and_the_working_model_stays(served, tmp_path, tiny_model):
    demo, app = served
    c = client(demo)
    working = app.slot.engine
    app.slot.last_stats = None
    send(c, "a first answer, for its speed").result(timeout=60)
    assert app.slot.last_stats is not None
    status, _ = c.predict(str(tmp_path / "nope"), "torch", "full", "none", api_name="/load_model")
    assert wait_until(lambda: app.slot.state == "ready" and app.slot.error, timeout=30)
    assert "Model path not found" in app.slot.error and app.slot.engine is working
    assert app.slot.spec.path == str(tiny_model)  # what the Model panel would load again
    shown = c.predict(api_name="/status")
    assert "Model path not found" in shown and "Still using" in shown and "Ready" in shown
    send(c, "is anyone there?").result(timeout=60)
    assert app.store.branch(app.store.chats()[0].id)[-1].status == "done"  # the old model answered

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    c.predict(str(tmp_path / "broken"), "torch", "full", "none", api_name="/load_model")
    assert wait_until(lambda: app.slot.state == "ready" and "broken" in (app.slot.error or ""), timeout=30)
    assert app.slot.engine is working

    status, _ = c.predict(str(tiny_model), "torch", "full", "none", api_name="/load_model")
    assert "Loading" in status
    assert wait_until(lambda: app.slot.state == "ready" and not app.slot.error, timeout=120), app.slot.error
    assert app.slot.engine is not working and app.slot.last_stats is None  # no speed of another model
    assert "prefill" not in c.predict(api_name="/status")
    out = send(c, "and now?").result(timeout=60)
    assert app.store.branch(app.store.chats()[0].id)[-1].status == "done"


@pytest.mark.slow
def test_a_first_load_that_fails_leaves_no_model_and_says_why(tmp_path):
    demo, app = start_app(tmp_path / "data", tmp_path / "nope")
    try:
        assert app.slot.state == "error" and app.slot.engine is None
        out = send(client(demo), "is anyone there?").result(timeout=60)
        assert "No model is loaded (Model path not found" in last_answer(out)
    finally:
        demo.close()
        app.store.close()
