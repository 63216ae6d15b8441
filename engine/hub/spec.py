"""What to fetch from a hub repo: `OWNER/REPO[:FILE or QUANT]` parsed, and the files picked from
the repo's listing (pure functions: no network, so they are tested on listings alone)."""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

from .errors import PullError

REPO_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
# llama.cpp's `-hf repo` picks Q4_K_M first; older repos name the same quant q4_k.
DEFAULT_QUANTS = ["q4_k_m", "q4_k", "q4_0", "q5_k_m", "q8_0", "f16", "bf16"]
MMPROJ_ORDER = ["f16", "bf16", "q8_0"]
# A transformers folder: the files this app reads (never pickle weights: .bin/.pt are left out).
TORCH_FILES = ["config.json", "*.safetensors", "*.safetensors.index.json", "*.json", "*.jinja",
               "tokenizer.model", "*.tiktoken", "*.txt", "README.md", "LICENSE*"]
SHARD_RE = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.I)


@dataclass(frozen=True)
class HubSpec:
    repo: str
    file: str | None = None       # an exact file of the repo
    quant: str | None = None      # a GGUF quant, e.g. Q4_K_M

    @property
    def folder_name(self) -> str:
        return self.repo.replace("/", "--")


def parse_spec(text: str, file: str | None = None, quant: str | None = None) -> HubSpec:
    """`hf:OWNER/REPO`, `OWNER/REPO:Q4_K_M` or `OWNER/REPO:name.gguf` (the `hf:` is optional)."""
    s = text.strip()
    s = s[3:] if s.lower().startswith("hf:") else s
    repo, _, tail = s.partition(":")
    if not REPO_RE.match(repo):
        raise PullError(f"not a hub repo id: {text!r} (expected OWNER/REPO, e.g. llava-hf/llava-1.5-7b-hf)")
    if tail and "." in tail:
        file = file or tail
    elif tail:
        quant = quant or tail
    return HubSpec(repo, file, quant)


@dataclass
class Choice:
    kind: str                              # "gguf" | "torch"
    files: list[str] = field(default_factory=list)
    model: str | None = None               # the GGUF to load (the folder itself for torch)


def _norm(name: str) -> str:
    return "_" + re.sub(r"[-.]", "_", name.lower()) + "_"


def _quant_of(names: list[str], quant: str) -> list[str]:
    """Model GGUFs of that quant: the quant as a whole word before `.gguf` (or a shard suffix),
    else anywhere as a word (q4_k must not pick q4_k_m when a plain q4_k file exists)."""
    q = _norm(quant).strip("_")
    end = re.compile(rf"_{re.escape(q)}(_\d{{5}}_of_\d{{5}})?_gguf_$")
    exact = [n for n in names if end.search(_norm(n))]
    return exact or [n for n in names if f"_{q}_" in _norm(n)]


def _first_shard(name: str) -> bool:
    """A file to pick: a whole GGUF, or the first shard of a split one (llama.cpp opens the rest)."""
    m = SHARD_RE.search(name)
    return m is None or int(m.group(1)) == 1


def _shards(names: list[str], first: str) -> list[str]:
    m = SHARD_RE.search(first)
    if not m:
        return [first]
    stem = first[:m.start()]
    return sorted(n for n in names if n.startswith(stem) and SHARD_RE.search(n)
                  and SHARD_RE.search(n).group(2) == m.group(2))


def _mmproj(projs: list[str], model: str) -> list[str]:
    if len(projs) <= 1:
        return projs
    def rank(p):
        kind = next((i for i, q in enumerate(MMPROJ_ORDER) if f"_{q}_" in _norm(p)), len(MMPROJ_ORDER))
        return (kind, p)
    return [min(projs, key=rank)]


def _gguf(names: list[str], spec: HubSpec) -> Choice:
    ggufs = [n for n in names if n.lower().endswith(".gguf")]
    models = [n for n in ggufs if "mmproj" not in n.lower() and _first_shard(n)]
    projs = [n for n in ggufs if "mmproj" in n.lower()]
    if spec.file:
        model = spec.file
    elif spec.quant:
        found = _quant_of(models, spec.quant)
        if not found:
            raise PullError(f"{spec.repo} has no {spec.quant} GGUF; it has: {_quants(models)}")
        model = min(found, key=len)
    else:
        found = next((f for q in DEFAULT_QUANTS if (f := _quant_of(models, q))), None)
        if found is None and len(models) != 1:
            raise PullError(f"{spec.repo} has several GGUFs: name one with :QUANT or --file ({_quants(models)})")
        model = min(found, key=len) if found else models[0]
    files = _shards(names, model)
    if "mmproj" in model.lower():
        return Choice("gguf", files, None)
    return Choice("gguf", files + _mmproj(projs, model), files[0])


def _quants(models: list[str]) -> str:
    return ", ".join(sorted(models)[:12]) + (" ..." if len(models) > 12 else "")


def choose(names: list[str], spec: HubSpec, patterns: list[str] | None = None) -> Choice:
    """The files to fetch. `patterns`: a catalog entry's files (globs), used for a GGUF entry when
    each is in the repo (else the entry's quant picks, as for any repo)."""
    top = [n for n in names if "/" not in n]
    if patterns:  # a GGUF entry names its exact files; a torch entry takes the folder's set
        picked = [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)]
        whole = all(any(fnmatch.fnmatch(n, p) for n in names) for p in patterns)
        models = [n for n in picked if n.lower().endswith(".gguf") and "mmproj" not in n.lower()]
        if whole and models:
            return Choice("gguf", picked, sorted(models)[0])
    if spec.file:
        if spec.file not in names:
            raise PullError(f"{spec.repo} has no file {spec.file}")
        if spec.file.lower().endswith(".gguf"):
            return _gguf(names, spec)
        return Choice("torch", [spec.file])
    has_torch = "config.json" in top and any(n.endswith(".safetensors") for n in top)
    if spec.quant or (not has_torch and any(n.lower().endswith(".gguf") for n in names)):
        return _gguf(names, spec)
    if has_torch:
        return Choice("torch", [n for n in top if any(fnmatch.fnmatch(n, p) for p in TORCH_FILES)])
    if "config.json" in top:
        raise PullError(f"{spec.repo} has no safetensors weights (pickle .bin/.pt files are never read here)")
    raise PullError(f"{spec.repo} holds neither a GGUF nor a transformers folder (config.json + safetensors)")
