"""`python -m engine bench prefill --family llava_next`: one LLaVA-NeXT (llava-v1.6) image at its
real any-resolution token counts: the vision tower on the image's views (base view + tiles, 577
tokens each; tower, projector and packing) timed on its own, then the decoder prefill full vs
composite (visual MLP on and off) at the image's packed token count + 64 text tokens, round-robin,
side by side in one run. Also with --max-tiles 2 and the base view only.

Random weights of realistic shape: the real CLIP ViT-L/14-336 tower (23 of its 24 layers run, as
LLaVA reads layer -2) and, on the CPU, the `small` decoder (hidden 1024, 16 layers; a 7B decoder
in float32 does not fit this machine's memory); `--shape 7b` on a GPU."""
from __future__ import annotations

import json

import torch

from ..llava import anyres
from ..llava.tiny import v16_pinpoints
from .common import interleaved, print_table
from .prefill import SHAPES, _decoder_rows, _synced, build, common_args, dtype_name, no_cuda, shapes, vision_flops

TILE = 336
# (image H x W, tile cap): llava-v1.6's largest grid, a photo's 3:4, and the two caps.
CASES = [((672, 672), None), ((750, 1000), None), ((672, 672), 2), ((672, 672), 0)]


def _label(size, cap) -> str:
    return f"{size[0]}x{size[1]}" + ("" if cap is None else f", --max-tiles {'base' if cap == 0 else cap}")


def run(repeats=3, shape="small", device="cpu", dtype=torch.float32, cases=CASES, vision_layers=24):
    cfg = shapes(**SHAPES[shape], vision_layers=vision_layers)
    cfg.grid_pinpoints = v16_pinpoints(TILE)
    model = build(cfg, device, dtype, None)
    rows, speedup = [], {}
    for size, cap in cases:
        g = anyres.grid(size, anyres.cap_pinpoints(cfg.grid_pinpoints, TILE, cap), TILE, 14, cfg.image_seq_length)
        pixels = anyres.TiledPixels(torch.randn(1, g.views, 3, TILE, TILE, device=device, dtype=dtype), [g])
        tower = _synced(lambda: model.image_features(pixels), device)
        with torch.inference_mode():
            vis_s = interleaved({"tower": tower}, repeats=max(1, repeats - 1))["tower"]
        vf = g.views * vision_flops(cfg.vision, len(model.vision.encoder.layers), cfg.vision.n_patches + 1)
        label = _label(size, cap)
        rows.append(dict(image=label, visual=g.tokens, views=g.views, stage="vision tower", ms=vis_s * 1e3,
                         gflop=vf / 1e9))
        for r in _decoder_rows(model, cfg, g.tokens, device, dtype, None, ("sdpa",), repeats, False, vis_s):
            rows.append(dict(r, image=label, views=g.views))
        times = {r["stage"]: r["ttft_ms"] for r in rows if r["image"] == label and r.get("ttft_ms")}
        prefill = {r["stage"]: r["ms"] for r in rows if r["image"] == label and r["stage"].startswith("decoder")}
        speedup[label] = dict(decoder=prefill["decoder full"] / prefill["decoder composite (visual MLP off)"],
                              first_token=times["decoder full"] / times["decoder composite (visual MLP off)"])
    return dict(rows=rows, speedup=speedup, shape=SHAPES[shape], dtype=dtype_name(dtype),
                threads=torch.get_num_threads())


def report(res) -> None:
    print(f"LLaVA-NeXT anyres prefill: decoder {res['shape']}, CLIP ViT-L/14-336 tower, {res['dtype']}, "
          f"{res['threads']} threads; 64 text tokens")
    print_table(res["rows"], [("image", "image (H x W)", "s"), ("visual", "visual tokens", "d"),
                              ("views", "views", "d"), ("stage", "stage", "s"), ("ms", "ms", ".0f"),
                              ("gflop", "GFLOP", ".0f"), ("ttft_ms", "first token ms", ".0f")])
    for label, s in res["speedup"].items():
        print(f"{label}: decoder prefill full / composite (visual MLP off) {s['decoder']:.2f}x; "
              f"first token with the tower {s['first_token']:.2f}x")


def main(argv: list[str]) -> int:
    ap = common_args("python -m engine bench prefill --family llava_next", __doc__)
    ap.add_argument("--dtype", choices=["float32", "bfloat16", "float16"],
                    help="default: float32 on the CPU, bfloat16 on CUDA")
    a = ap.parse_args(argv)
    cuda = a.device.startswith("cuda")
    if no_cuda(a.device):
        return 1
    res = run(a.repeats, a.shape or ("7b" if cuda else "small"), a.device,
              getattr(torch, a.dtype or ("bfloat16" if cuda else "float32")))
    print(json.dumps(res, indent=2)) if a.json else report(res)
    return 0
