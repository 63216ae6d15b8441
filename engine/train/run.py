"""`python -m engine train CONFIG`: the own EE-MLLM's recipe, stage by stage, resumable.

Stages (from the seeds: VPGTrans, LLaVA, the tutorial's training strategy):
  tower      the vision tower alone, on the generator's per-patch labels (no LLM: cheap);
  projector  projector warm-up at a large learning rate, decoder and tower frozen (VPGTrans);
  joint      LoRA + projector + box head + tower + new token rows together.
Every stage after the first runs the engine's own forward in composite attention. A checkpoint
(the shipped parts format, plus the optimizer in safetensors: never pickle) is written every few
minutes; a rerun of the same command resumes from it. The same command runs on CUDA unchanged."""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

from ..catalog import data_dir
from ..llava.forward import RunConfig
from ..llava.prompt import Prompter
from ..own.build import base_gguf, read_parts
from ..own.spec import spec as own_spec
from . import checkpoint as ckpt
from . import malloc
from .examples import Tokenize, batches, collate
from .loader import parallel_batches
from .losses import batch_losses
from .model import base_folder, get_parts, init_null, init_region_read, standardize_projector, load_for_training, lora_modules, save_parts, set_parts
from .samples import sample_stream, text_answers
from .data import SKILLS, make_sample
from .tower_targets import LOSS_WEIGHTS, TowerHeads, heldout_accuracy, tower_batches, tower_losses


# What a stage's "train" list may name: the trainer's parameters of each part (one table, read by
# read_config's check and by Trainer.params).
PARTS_TRAINED = {
    "vision": lambda t: t.model.vision.parameters(), "projector": lambda t: t.model.projector.parameters(),
    "grounding": lambda t: [p for n, p in t.model.grounding.named_parameters() if not n.startswith(("null_", "loc_waves"))],
    "null": lambda t: [t.model.grounding.null_value, t.model.grounding.null_bias],
    "waves": lambda t: [t.model.grounding.loc_waves.weight],
    "new_rows": lambda t: [t.new_rows],
    "heads": lambda t: t.heads.parameters(),
    "lora": lambda t: [p for l in lora_modules(t.model).values() for p in
                       (l.lora_A["default"].weight, l.lora_B["default"].weight)]}


def read_config(path: str) -> dict:
    """The recipe, checked before any weight is read: a typo should not surface an hour in (or on a
    lent GPU whose minutes are counted)."""
    cfg = json.loads(Path(path).read_text())
    cfg.setdefault("name", Path(path).stem)
    cfg["path"] = str(path)
    cfg["stages"] = [stage_from(st, Path(path).parent) for st in cfg.get("stages", [])]
    base, changes = own_spec(), cfg.get("spec", {})
    bad = [f"spec {k!r}" for k in changes if k not in base] + \
          [f"spec vision {k!r}" for k in changes.get("vision", {}) if k not in base["vision"]]
    vision = recipe_spec(changes)["vision"] if not bad else base["vision"]
    if vision["image_size"] % vision["patch_size"]:
        bad.append(f"image_size {vision['image_size']} is not a multiple of patch_size {vision['patch_size']}")
    if bad:
        raise SystemExit(f"{path}: " + "; ".join(bad))
    for st in cfg.get("stages", []):
        where = f"{path}, stage {st.get('name', '?')}"
        bad = ([f"kind {st.get('kind')!r}"] if st.get("kind") not in ("tower", "lm") else []) + \
              [f"train {t!r}" for t in st.get("train", []) if t.partition("*")[0] not in PARTS_TRAINED] + \
              [f"skill {k!r}" for k in st.get("skills") or [] if k not in SKILLS]
        if not (st.get("steps") or st.get("seconds")):
            bad.append("neither steps nor seconds")
        if unknown := sorted(set(st.get("tower_weights", {})) - set(LOSS_WEIGHTS)):
            bad.append(f"tower_weights names no head: {unknown}")
        if st.get("tower_aux") and "heads" not in [t.partition("*")[0] for t in st.get("train", [])]:
            bad.append("tower_aux without heads in train (untrained heads would teach the tower noise)")
        if bad:
            raise SystemExit(f"{where}: " + "; ".join(bad))
    return cfg


def stage_from(st: dict, folder: Path, seen: tuple = ()) -> dict:
    """A stage written as {"from": "other.json:stage-name", ...changes}: that recipe's stage with the
    keys given here changed (a rerun with another length, say, is not a copy of the skill mix)."""
    if "from" not in st:
        return st
    ref = st["from"]
    file, _, name = ref.partition(":")
    if ref in seen or not (folder / file).is_file():
        raise SystemExit(f"stage from {ref!r}: " + ("refers to itself" if ref in seen else f"no recipe {file} in {folder}"))
    # a stage's name may itself come from the stage it is built on, named from that recipe's folder
    stages = [stage_from(x, (folder / file).parent, seen + (ref,))
              for x in json.loads((folder / file).read_text()).get("stages", [])]
    found = [x for x in stages if x.get("name") == name]
    if not found:
        raise SystemExit(f"stage from {ref!r}: {file} has no stage {name!r}")
    base = found[0]
    return {**base, **{k: v for k, v in st.items() if k != "from"}}


def recipe_spec(changes: dict) -> dict:
    """The own model's spec with a recipe's changes; a part given as a dict (the tower's "vision")
    changes only the keys it names, e.g. {"vision": {"image_size": 288}}."""
    base = own_spec()
    return {**base, **{k: {**base[k], **v} if isinstance(base.get(k), dict) and isinstance(v, dict) else v
                       for k, v in changes.items()}}


def learning_rate(st: dict, step: int, seconds: float) -> float | None:
    """The stage's learning rate at this step (warm-up, then cosine or constant); None once it is
    done. A stage gives "steps", or "seconds": a time budget (a lent GPU), where the schedule
    follows the clock because the step rate is not known in advance."""
    budget, total, warmup = st.get("seconds"), st.get("steps", 0), st.get("warmup", 0.03)
    done = seconds / budget if budget else step / total
    if done >= 1:
        return None
    ramp = min(1.0, done / warmup if budget else (step + 1) / max(1, int(total * warmup)))
    return st["lr"] * ramp * (1.0 if st.get("schedule", "cosine") == "constant" else 0.5 * (1 + math.cos(math.pi * done)))


# An lm stage's "tower_aux": {"batch": images, "weight": w} adds the tower stage's per-patch loss on
# that many images a step, beside the answers: the tower keeps learning to see from labels at ~10x
# the images an answer step shows it. Its own stream: one scene per sample, a seed block no stage
# draws. Tried once (cpu_tower_aux.json): per-patch shape did not rise in 22 minutes (TRAINING.md).
AUX_SKILLS, AUX_SEED = ["shape", "colour", "count", "relation", "refer"], 500
HELDOUT_IMAGES = 96   # the tower stage's held-out check: a few thousand shape-covered patches


class Trainer:
    def __init__(self, cfg: dict, work: Path, device: str, workers: int = 0):
        self.cfg, self.work, self.device, self.workers = cfg, work, device, workers
        work.mkdir(parents=True, exist_ok=True)
        self.spec = recipe_spec(cfg.get("spec", {}))
        self.dtype = getattr(torch, cfg.get("dtype", "bfloat16"))
        folder = base_folder(work, self.spec, base_gguf())
        self.model = load_for_training(folder, self.spec, self.dtype)
        loras = [x for l in lora_modules(self.model).values() for x in (l.lora_A, l.lora_B)]
        for m in (self.model.vision, self.model.projector, self.model.grounding, *loras):
            m.float()  # trained parts keep float32 masters; the frozen decoder runs in bf16
        for l in lora_modules(self.model).values():
            l.cast_input_dtype_enabled = False  # autocast runs LoRA in bf16: no float32 copies of x
        self.model.to(device)
        self.base_vocab = self.model.cfg.decoder.vocab_size - self.spec["new_rows"]
        self.new_rows = torch.nn.Parameter(self.model.decoder.embed_tokens.weight[self.base_vocab:].detach().float())
        self.heads = TowerHeads(self.model.cfg.vision.hidden).to(device)
        self.prompter = Prompter(folder, self.model.cfg)
        self.state = {"stage": 0, "step": 0, "samples": 0, "seconds": 0.0}
        self.opt_state, self._heldout = None, None
        if (work / ckpt.PARTS).is_file():
            parts, _ = read_parts(work / ckpt.PARTS)
            set_parts(self.model, parts, self.base_vocab)
            self.new_rows.data.copy_(parts["new_token_rows"])
            self.state, heads, self.opt_state = ckpt.load_state(work)
            if heads:
                self.heads.load_state_dict(heads)
        self.log = open(work / "log.jsonl", "a")

    # ---- parameters per stage ---------------------------------------------------------------
    def params(self, names: list[str]) -> list[dict]:
        m, groups = self.model, []
        for entry in names:
            name, _, scale = entry.partition("*")
            ps = list(PARTS_TRAINED[name](self))
            if name == "new_rows":  # their gradient arrives through the (tied) embedding matrix
                m.decoder.embed_tokens.weight.requires_grad_(True)
            for p in ps:
                p.requires_grad_(True)
            groups.append({"params": ps, "lr_scale": float(scale or 1), "name": name})
        return groups

    def run(self):
        while self.state["stage"] < len(self.cfg["stages"]):
            if self.cfg.get("path"):  # re-read: a later stage's length may be edited while one runs
                self.cfg["stages"] = read_config(self.cfg["path"])["stages"]
            st = self.cfg["stages"][self.state["stage"]]
            self.stage(st)
            self.state.update(stage=self.state["stage"] + 1, step=0, stage_seconds=0.0)
            self.opt_state = None
            self.save()
        self.save(final=True)

    def stage(self, st: dict):
        self.model.requires_grad_(False)
        self.new_rows.requires_grad_(False)
        groups = self.params(st["train"])
        opt = torch.optim.AdamW(groups, lr=st["lr"], weight_decay=0.0, betas=(0.9, 0.98))
        if self.opt_state:
            opt.load_state_dict(self.opt_state)
        tower = st["kind"] == "tower"
        if st.get("standardize_projector") and self.state["step"] == 0:
            self._standardize_projector()
        if st.get("init_region_read") and self.state["step"] == 0:
            self._init_region_read(st["init_region_read"])
        if st.get("init_null") and self.state["step"] == 0:
            self._init_null(st["init_null"])
        run = RunConfig(self.spec["ee_mllm"]["attention"], self.spec["ee_mllm"]["visual_mlp"])
        stream_args = (self.state["samples"], self.cfg.get("seed", 0), st.get("skills"),
                       text_answers(self.work, self.cfg.get("text_answers", 300)), st.get("max_objects"))
        pad = self.prompter.tokenizer.pad_token_id or 0
        if tower:
            to_batches = lambda samples: self.tower_batches(samples, st["batch"])
        else:
            tokenize = Tokenize(self.prompter)
            to_batches = lambda samples: batches(samples, tokenize, st["batch"], pad)
        split = "train+null" if self.spec.get("pointer_null") else "train"  # count replies end in the null
        data = (parallel_batches(*stream_args, to_batches, self.workers, split=split) if self.workers else
                to_batches(sample_stream(*stream_args, split=split)))
        aux = None if tower else st.get("tower_aux")
        if aux:
            aux_data = self.tower_batches(sample_stream(self.state["step"] * aux["batch"], self.cfg.get("seed", 0) + AUX_SEED,
                                                        AUX_SKILLS, {}, None), aux["batch"])
        budget, total = st.get("seconds"), st.get("steps", 0)
        last_save, t_start, ema = time.time(), time.time() - self.state["seconds"], {}
        while True:
            s = self.state["step"]
            lr = learning_rate(st, s, self.state.get("stage_seconds", 0.0))
            if lr is None:
                break
            for g in opt.param_groups:
                g["lr"] = lr * g["lr_scale"]
            t0 = time.time()
            batch = next(data)
            aux_batch = next(aux_data) if aux else None
            waited = time.time() - t0  # the generator's share of the step (workers too few?)
            if tower:
                pixels, _ = batch
                losses = self.tower_loss(*batch, weights=st.get("tower_weights"))
                n, tokens = pixels.shape[0], pixels.shape[0] * self.model.cfg.image_seq_length
            else:
                self._sync_rows()
                with self.autocast():
                    losses = batch_losses(self.model, batch.to(self.device), run, st.get("box_weight", 1.0))
                if aux:
                    losses["tower"] = self.tower_loss(*aux_batch, weights=st.get("tower_weights"))["loss"]
                    losses["loss"] = losses["loss"] + aux.get("weight", 1.0) * losses["tower"]
                n, tokens = batch.ids.shape[0], int(batch.ids.numel())
            opt.zero_grad(set_to_none=True)
            losses["loss"].backward()
            self._rows_grad()
            torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
            opt.step()
            self.state["step"] += 1
            self.state["samples"] += n
            self.state["seconds"] = time.time() - t_start
            vals = {k: float(v.detach()) for k, v in losses.items()}  # (waits for the device)
            for k, v in vals.items():  # a per-skill loss keeps its average through batches without it
                ema[k] = 0.95 * ema.get(k, v) + 0.05 * v
            dt = time.time() - t0
            self.state["stage_seconds"] = self.state.get("stage_seconds", 0.0) + dt
            eta = (max(0.0, budget - self.state["stage_seconds"]) if budget else
                   (total - s - 1) * self.state["seconds"] / max(1, s + 1) if s else 0)
            self.progress(st, s + 1, total or f"{budget}s", ema, n / dt, tokens / dt, eta, lr)
            self.log.write(json.dumps({"stage": st["name"], "step": s + 1, **vals, "lr": lr, "s": dt,
                                       "data_s": waited, "samples": self.state["samples"], "t": time.time(),
                                       **({} if tower else {"token_share": batch.token_share})}) + "\n")
            self.log.flush()
            if time.time() - last_save > self.cfg.get("checkpoint_every_s", 300):
                if tower or aux:
                    self.tower_check(st)
                self.opt_state = opt.state_dict()
                self.save()
                last_save = time.time()
        if tower or aux:
            self.tower_check(st)
        self._sync_rows()

    def tower_loss(self, pixels, targets, weights=None) -> dict:
        """The tower's per-patch losses on its own labels (a tower stage's, or an lm stage's tower_aux)."""
        with self.autocast():
            feats = self.model.vision(pixels.to(self.device))[:, 1:]
        return tower_losses(feats, self.heads, {k: v.to(self.device) for k, v in targets.items()}, weights)

    def _standardize_projector(self):
        stream = sample_stream(10**9, self.cfg.get("seed", 0), ["describe"], {})  # images no stage draws
        pixels = next(self.tower_batches(stream, 256))[0].to(self.device)
        print("projector standardized:", standardize_projector(self.model, pixels), file=sys.stderr)

    def _init_region_read(self, n: int):
        """Region reading's data-dependent start (model.init_region_read), from n region questions
        of a seed no stage draws; their answers' colour and shape words are the targets."""
        tok = Tokenize(self.prompter)
        examples, words = [], []
        for i in range(n):
            s = make_sample(10**9 + i, "train", "region")
            examples.append(tok(s))
            words.append(tuple(self.prompter.tokenizer(" " + w, add_special_tokens=False)["input_ids"][0]
                               for w in s.answer.split()))
        with self.autocast():
            fit = init_region_read(self.model, examples, words)
        print("region reading initialised:", fit, file=sys.stderr)

    def _init_null(self, n: int):
        """The null's data-dependent start (model.init_null), from n counts of a seed no stage draws."""
        tok, pad = Tokenize(self.prompter), self.prompter.tokenizer.pad_token_id or 0
        examples = [tok(make_sample(10**9 + i, "train+null", "count")) for i in range(n)]
        run = RunConfig(self.spec["ee_mllm"]["attention"], self.spec["ee_mllm"]["visual_mlp"])
        with self.autocast():
            fit = init_null(self.model, [collate(examples[i:i + 8], pad).to(self.device)
                                         for i in range(0, n, 8)], run)
        print("null initialised:", fit, file=sys.stderr)

    def tower_check(self, st: dict):
        """The tower heads on held-out scenes (a split training never draws), logged beside the loss."""
        if self._heldout is None:
            stream = (make_sample(i, "heldout", ("shape", "colour", "count", "read")[i % 4]) for i in range(10**6))
            self._heldout = next(self.tower_batches(stream, HELDOUT_IMAGES))
        pixels, targets = self._heldout
        with torch.no_grad(), self.autocast():
            feats = self.model.vision(pixels.to(self.device))[:, 1:]
        acc = heldout_accuracy(feats, self.heads, {k: v.to(self.device) for k, v in targets.items()})
        print(f"[{st['name']} {self.state['step']}] held-out patches: " +
              " ".join(f"{k} {v:.1f}%" for k, v in acc.items()), file=sys.stderr, flush=True)
        self.log.write(json.dumps({"stage": st["name"], "step": self.state["step"], "heldout": acc}) + "\n")

    def autocast(self):
        """Matmuls in the frozen decoder's dtype while the trained parts keep float32 masters."""
        return torch.autocast(self.device.split(":")[0], dtype=self.dtype, enabled=self.dtype != torch.float32)

    def _sync_rows(self):
        with torch.no_grad():
            self.model.decoder.embed_tokens.weight[self.base_vocab:] = self.new_rows.to(self.dtype)

    def _rows_grad(self):
        g = self.model.decoder.embed_tokens.weight.grad
        if g is not None:  # the new rows' gradient goes to their float32 master
            self.new_rows.grad = g[self.base_vocab:].float()
            self.model.decoder.embed_tokens.weight.grad = None

    def tower_batches(self, stream, size: int):
        side = self.spec["vision"]["image_size"] // self.spec["vision"]["patch_size"]
        return tower_batches(stream, size, self.prompter.processor.image_processor, side)

    def progress(self, st, step, total, ema, sps, tps, eta, lr):
        keys = " ".join(f"{k} {v:.3f}" for k, v in ema.items() if "." not in k)  # per-skill losses: in the log
        line = (f"[{st['name']} {step}/{total}] {keys} | {sps:.1f} samples/s {tps:.0f} tok/s | lr {lr:.2e} | "
                f"ETA {int(eta // 60)}m{int(eta % 60):02d}s")
        end = "\n" if not sys.stderr.isatty() or step == total or step % 50 == 0 else "\r"
        print(line, end=end, file=sys.stderr, flush=True)

    def save(self, final=False):
        self._sync_rows()
        parts = get_parts(self.model, self.base_vocab)
        spec = {**self.spec, "trained": {"samples": self.state["samples"], "seconds": round(self.state["seconds"]),
                                         "stage": self.state["stage"], "config": self.cfg["name"]}}
        save_parts(self.work / ckpt.PARTS, parts, spec, torch.float32)
        ckpt.save_state(self.work, self.state, self.heads.state_dict(), self.opt_state)
        if final:
            save_parts(self.work / "final.safetensors", parts, spec, torch.bfloat16)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", help="a JSON recipe, e.g. engine/train/configs/own.json")
    ap.add_argument("--work-dir", help="checkpoints and logs (default: <data dir>/train/<config name>)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice)")
    ap.add_argument("--workers", type=int, default=0,
                    help="processes that generate the samples (a GPU host: its cores less one; default: none)")
    a = ap.parse_args(argv)
    cfg = read_config(a.config)
    malloc.rerun_under_jemalloc(argv)  # (returns where it cannot or need not)
    print(malloc.note(), file=sys.stderr)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device
    work = Path(a.work_dir) if a.work_dir else data_dir() / "train" / cfg["name"]
    t = Trainer(cfg, work, device, a.workers)
    t.run()
    print(f"done: {work / 'final.safetensors'}", file=sys.stderr)
    return 0
