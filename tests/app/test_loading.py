"""The page comes up while the model is still loading, shows that it is loading, and a question
asked meanwhile waits for the model instead of failing."""
import httpx
import pytest

from app.status import status_html
from app_testfiles import client, last_answer, send, wait_until

pytestmark = pytest.mark.slow


def test_page_is_up_and_usable_before_the_model_has_loaded(tmp_path, tiny_model):
    from app.chat_app import ChatApp
    hold = ChatApp.load_model

    def slow_load(self, spec):
        # A load slower than the page: the slot cannot finish (swap the model in) while its
        # lock is held, so the model stays "loading" for as long as this test wants.
        self.slot.use.acquire()
        hold(self, spec)
    ChatApp.load_model = slow_load
    try:
        from app_testfiles import start_app
        demo, app = start_app(tmp_path, tiny_model, wait=False, max_tokens=16)
    finally:
        ChatApp.load_model = hold
    try:
        assert app.slot.state == "loading"
        page = httpx.get(demo.local_url, timeout=10)
        assert page.status_code == 200 and "vlchat" in page.text
        html = status_html(app.slot)
        assert "Loading" in html and "<progress" in html and "tiny" in html

        c = client(demo)
        job = send(c, "hello while loading")
        assert wait_until(lambda: any("Waiting for the model" in last_answer(o) for o in job.outputs()),
                          timeout=30)
        app.slot.use.release()
        final = last_answer(job.result(timeout=60))
        assert app.slot.state == "ready" and "Waiting" not in final
        assert app.store.branch(app.store.chats()[0].id)[-1].status == "done"
    finally:
        if app.slot.use.locked() and app.slot.state == "loading":
            app.slot.use.release()
        demo.close()
