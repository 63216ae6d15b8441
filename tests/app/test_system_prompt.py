"""The system prompt and the repetition penalty, set on the page (or --system), reach the model
with every answer (send, regenerate); an API caller that sends neither gets the defaults."""
from __future__ import annotations

from gradio_client import handle_file
import pytest

from app.prompt import with_system
from app_testfiles import client, send, start_app
from engine.api import GenParams, Message, Text
from engine.documents.prompt import SYSTEM

PIRATE = "You are a pirate. Answer like one."


@pytest.mark.slow
def test_system_prompt_and_penalty_reach_the_model(tmp_path, tiny_model, pictures):
    demo, app = start_app(tmp_path, tiny_model, system="Be brief.")
    try:
        c = client(demo)
        c.submit({"text": "Hello", "files": [handle_file(str(pictures["red"]))]}, 0.0, 0.95, 16, False,
                 1.3, PIRATE, api_name="/send").result(timeout=60)
        chat = app.store.chats()[0].id
        answer = app.answers[chat]
        assert answer.messages[0] == Message("system", [Text(PIRATE)])
        assert answer.params.repetition_penalty == 1.3
        assert app.store.branch(chat)[-1].meta["system"] == PIRATE
        prompt = app.slot.engine.inner.prompter.tokenizer.decode(app.slot.engine.inner.build(answer.messages).ids)
        assert prompt.index(PIRATE) < prompt.index("Hello")  # the real template puts it first

        c.predict(0.0, 0.95, 16, 1.0, "Answer in French.", api_name="/regenerate")
        answer = app.answers[chat]
        assert answer.messages[0] == Message("system", [Text("Answer in French.")])
        assert answer.params.repetition_penalty == 1.0

        send(c, "No settings sent").result(timeout=60)  # the older API: 5 inputs
        answer = app.answers[app.store.chats()[0].id]
        assert answer.messages[0] == Message("system", [Text("Be brief.")])  # the page's default
        assert answer.params.repetition_penalty == GenParams.repetition_penalty
    finally:
        demo.close()
        app.store.close()


def test_a_documents_own_instructions_follow_the_system_prompt():
    doc_prompt = [Message("system", [Text(SYSTEM.format(name="report.pdf"))]), Message.user("Q?")]
    merged = with_system(doc_prompt, PIRATE)
    assert [m.role for m in merged] == ["system", "user"]
    assert "".join(p.text for p in merged[0].parts) == PIRATE + "\n\n" + SYSTEM.format(name="report.pdf")
    assert with_system(doc_prompt, "  ") == doc_prompt
