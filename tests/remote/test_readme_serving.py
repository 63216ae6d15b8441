"""The README's commands for servers and set-up say what works: every serving line listens where
the client line points, SGLang gets LLaVA-OneVision's chat template, every flag of the app is
listed, and both set-up commands build llama-cpp-python afresh with their own CMAKE_ARGS."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SERVING = (ROOT / "engine" / "remote" / "SERVING.md").read_text()


def commands(text: str) -> list[str]:
    """Shell lines of the ```bash blocks, continuation lines joined."""
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    return [line.strip() for b in blocks for line in b.replace("\\\n", " ").splitlines()
            if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("doc", [README, SERVING], ids=["README", "SERVING"])
def test_servers_listen_where_the_client_points(doc):
    lines = commands(doc)
    servers = [l for l in lines if l.startswith(("vllm serve", "python -m sglang", "llama-server"))]
    clients = [l for l in lines if "--base-url" in l and "run.py" in l]
    assert len(servers) == 3 and clients
    ports = {re.search(r"--base-url http://[^:]+:(\d+)/v1", c).group(1) for c in clients}
    assert all(re.search(r"--port[ =](\d+)", s).group(1) in ports for s in servers), (servers, ports)
    sglang = next(s for s in servers if "sglang" in s)
    assert "llava-onevision" in sglang and "--chat-template=chatml-llava" in sglang


def test_every_app_flag_is_in_the_readme():
    from app.cli import parse  # the parser the app really uses; each flag --a-b sets a_b
    flags = {"--" + dest.replace("_", "-") for dest in vars(parse([]))}
    assert {"--base-url", "--api-key", "--no-browser"} <= flags
    missing = sorted(f for f in flags if f"`{f}" not in README)
    assert not missing, f"app flags missing from the README: {missing}"


def test_set_up_commands_build_llama_cpp_without_a_cached_wheel():
    marked = re.findall(r"<!-- (app|test)-command -->\n```bash\n(.*?)```", README, re.S)
    assert [m[0] for m in marked] == ["app", "test"]
    for _, cmd in marked:
        assert len(cmd.strip().splitlines()) == 1
        build = next(part for part in cmd.split("&&") if "CMAKE_ARGS=" in part)
        assert "-DGGML_NATIVE=OFF" in build and "--no-cache-dir" in build, build
