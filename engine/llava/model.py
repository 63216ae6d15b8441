"""LLaVA: vision tower -> projector (linear-act-linear) -> decoder LLM. Also a text-only decoder
when the checkpoint has no vision tower."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..api import EngineError
from ..grounding.geometry import NO_BOX
from . import anyres
from .checkpoint import read_weights
from .config import ModelConfig, read_config
from . import rope
from .decoder import Decoder
from .vision import ACTS, VisionTower


class Projector(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, act: str, bias: bool):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, out_dim, bias=bias)
        self.linear_2 = nn.Linear(out_dim, out_dim, bias=bias)
        self.act = ACTS.get(act, F.gelu)

    def forward(self, x):
        return self.linear_2(self.act(self.linear_1(x)))


class BoxHead(nn.Module):
    """pix2emb (NExT-Chat): a box is decoded from the hidden state of the trigger token <at>, and
    a box enters the model as one embedding. Boxes are x1y1x2y2 normalized to the padded square.

    With a pointer (`"pointer": true` in the grounding block; value_dim > 0), <at> does not
    regress the box from its hidden state alone: it points at visual tokens (softmax of
    point_q(h) . v over the visual rows' values in the first decoder layer, as the KV cache holds
    them) and each token reads its own object's box (patch_box(v)); the box is the weighted sum.
    The location then stays where the vision tower put it, in the visual tokens.

    With region reading (`"region_read": true`, a pointer's), a box also carries what it covers:
    its embedding adds region_read(the mean of the first-layer values of the patches under it,
    weighted by how much of each patch it covers), of the last image before it. A region's
    colour and shape then reach the tokens after it directly, as GPT4RoI and Ferret feed region
    features, instead of through attention that must find the object's patches by content (the
    own model named another object's colour in 34 of 43 wrong answers while its pointer found the
    named object in 78 of 100).

    With a null (`"pointer_null": true`, a pointer's), the pointer may also point at nothing: one
    more column beside the visual rows (null_value . q, plus null_bias), which gives NO_BOX (drawn
    as nothing, fed back as it). Whether anything of a kind is left is then the pointer's call, over
    the objects the answer has not boxed yet, instead of the decoder's: a count is its boxes, then
    a pointer into nothing (the nineteenth, teacher-forced on held-out counts, went on past the last
    object of the asked kind after 32 of 93 last boxes, while its pointer boxed an open object of
    that kind for 89-94% of boxes; with the null, the twentieth: count 56% -> 72%). At inference
    the null is weighed against the pointed-at object's rows together, not its best row: training
    shares an object's target over its patches, so each row may score below the null while the
    object outscores it (the twenty-third said "there are none" in 30 of 300 held-out counts that
    had objects to count; weighed so, count 218 -> 251 of 300, no weights changed).

    With waves (`"loc_waves": n`), a box's embedding also adds loc_waves(box_waves(box, n)): sines
    and cosines of its centre at n frequencies. Joining two boxes by attention (the bar an answer
    boxed and the word under it, of the words the prompt lists with their boxes) needs embeddings
    alike only when the centres are close; sum_k cos(w_k dx) is such a kernel, while a ReLU MLP of
    the four numbers varies slowly with them (Tancik et al. 2020, Fourier features). The twenty-
    second, given the true bar's box, named its label for 63 of 63 two-bar charts and 29 of 48
    with four to six bars. Started at zero they stay small: a feature used only through a query-key
    product gets no gradient at zero (the twenty-third, its waves zeroed, names 135 of the 136
    labels it names with them: TRAINING.md)."""

    def __init__(self, hidden: int, value_dim: int = 0, region_read: bool = False, null: bool = False,
                 waves: int = 0):
        super().__init__()
        self.loc_encoder = nn.Sequential(nn.Linear(4, hidden // 2), nn.ReLU(), nn.Linear(hidden // 2, hidden))
        self.loc_decoder = nn.Sequential(nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Linear(hidden // 2, 4))
        if value_dim:
            self.point_q = nn.Linear(hidden, value_dim)
            self.patch_box = nn.Linear(value_dim, 4)
        if region_read:
            if not value_dim:
                raise EngineError("region_read needs the pointer box head (grounding: pointer).")
            self.region_read = nn.Linear(value_dim, hidden, bias=False)
            nn.init.zeros_(self.region_read.weight)  # added to trained parts: starts as if absent
        if null:
            self.add_null()
        if waves:
            self.add_waves(waves)

    def add_null(self):
        """The pointer's null column; zero, it starts below any object a trained pointer finds."""
        if not hasattr(self, "point_q"):
            raise EngineError("pointer_null needs the pointer box head (grounding: pointer).")
        self.null_value = nn.Parameter(torch.zeros(self.point_q.out_features))
        self.null_bias = nn.Parameter(torch.zeros(1))

    def add_waves(self, n: int):
        """The box centre's waves; zero, it starts as if absent."""
        self.loc_waves = nn.Linear(4 * n, self.loc_encoder[2].out_features, bias=False)
        nn.init.zeros_(self.loc_waves.weight)


def box_waves(boxes: torch.Tensor, n: int) -> torch.Tensor:
    """(..., 4) x1y1x2y2 boxes -> (..., 4n): sin and cos of the centre's x and y at the frequencies
    pi * 2^k, k < n (periods 2 down to 2^(1-n) of the side). In float32: in bf16 an angle of 100
    is off by up to a quarter radian."""
    b = boxes.float()
    centre = torch.stack([b[..., 0] + b[..., 2], b[..., 1] + b[..., 3]], -1) / 2
    angles = (centre[..., None] * (math.pi * 2.0 ** torch.arange(n, device=b.device))).flatten(-2)
    return torch.cat([angles.sin(), angles.cos()], -1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of x1y1x2y2 boxes, broadcast over the leading dimensions: (..., 4), (..., 4) -> (...)."""
    w = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    h = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    area = lambda x: (x[..., 2] - x[..., 0]).clamp(min=0) * (x[..., 3] - x[..., 1]).clamp(min=0)
    inter = w * h
    return inter / (area(a) + area(b) - inter).clamp(min=1e-9)


# A boxed object's rows, for the pointer to pass over: looser than same_object's 0.5, because the rows
# at a thin or jagged shape's edge read only part of it (training passes over every patch of it).
# At 0.5 a second box on one object (0.29-0.49 IoU with its first) was 12 of the twenty-ninth's 36
# wrong held-out counts; at 0.3 the shipped twenty-seventh counts 87 of 100 (84) and 171 of 200 (168),
# its relations and charts word for word as at 0.5.
TAKEN_IOU = 0.3


def same_object(boxes: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """Which of the boxes the visual tokens read (..., N, 4) are `box`'s object: IoU >= 0.5."""
    return box_iou(boxes, box) >= 0.5


def cover(boxes: torch.Tensor, side: int) -> torch.Tensor:
    """(M, 4) boxes x1y1x2y2 in 0..1 -> (M, side*side): the share of each patch of a side x side
    grid (row-major, as the tower's tokens) that the box covers."""
    edges = torch.arange(side + 1, device=boxes.device, dtype=boxes.dtype) / side
    lo, hi = edges[:-1], edges[1:]
    along = lambda a, b: (torch.minimum(boxes[:, b:b + 1], hi) - torch.maximum(boxes[:, a:a + 1], lo)).clamp(min=0) * side
    return (along(1, 3)[:, :, None] * along(0, 2)[:, None, :]).flatten(1)


def region_mean(box: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A box (4,) on an image's square grid of patch values (P, V) -> the mean of the values it
    covers, each patch weighted by the share of it under the box (V,)."""
    c = cover(box[None].float(), math.isqrt(values.shape[0]))[0]
    return (c / c.sum().clamp(min=1e-6)).to(values) @ values


class LlavaModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.decoder
        if cfg.vision is not None:
            self.vision = VisionTower(cfg.vision, cfg.feature_layers)
            self.projector = Projector(cfg.vision.hidden * len(cfg.feature_layers), d.hidden,
                                       cfg.projector_act, cfg.projector_bias)
            if cfg.grid_pinpoints is not None:  # LLaVA-NeXT: ends each row of a tiled image
                self.image_newline = nn.Parameter(torch.zeros(d.hidden))
        self.decoder = Decoder(d)
        if cfg.grounding is not None:
            self.grounding = BoxHead(d.hidden, d.n_kv_heads * d.head_dim if cfg.grounding.get("pointer") else 0,
                                     bool(cfg.grounding.get("region_read")), bool(cfg.grounding.get("pointer_null")),
                                     int(cfg.grounding.get("loc_waves", 0)))
        if not d.tie_embeddings:
            self.lm_head = nn.Linear(d.hidden, d.vocab_size, bias=False)

    @property
    def sees_images(self) -> bool:
        return self.cfg.vision is not None

    def image_features(self, pixels):
        """(n_images, 3, H, W) -> (n_images, image_seq_length, hidden); tiled images
        (anyres.TiledPixels) -> a list of (tokens of that image, hidden), packed (anyres.pack)."""
        tiled = isinstance(pixels, anyres.TiledPixels)
        feats = self.vision(pixels.views() if tiled else pixels)
        if self.cfg.select_strategy == "default":
            feats = feats[:, 1:]
        feats = self.projector(feats)
        to = self.decoder.embed_tokens.weight.dtype  # a small tower runs in float32 (small_tower)
        if not tiled:
            return feats.to(to)
        return [anyres.pack(f, g, self.image_newline).to(to)
                for f, g in zip(feats.split([g.views for g in pixels.grids]), pixels.grids)]

    @property
    def has_box_head(self) -> bool:
        return self.cfg.grounding is not None

    def embed(self, input_ids: torch.Tensor, features: torch.Tensor | None, boxes=None, image_values=None):
        """input_ids (T,) or (B,T) -> embeddings (B,T,D) with image features placed at the image
        tokens in order (row by row), the box embeddings at the <boxes> tokens, and the visual-row
        mask (T,): every row of a batch must have its images at the same positions.
        image_values (region reading): the first-layer values (N, V) of each image a box may read,
        in order, this call's images last (a prefill that reuses a cached prefix, or whose visual
        rows are placeholders); by default those of this call's images, from their features."""
        ids2 = input_ids if input_ids.dim() == 2 else input_ids[None]
        is_visual = ids2 == self.cfg.image_token_id if self.sees_images else torch.zeros_like(ids2, dtype=torch.bool)
        if not bool((is_visual == is_visual[:1]).all()):
            raise EngineError("The rows of a batch have their images at different positions.")
        n_slots = int(is_visual.sum())
        if isinstance(features, (list, tuple)):  # tiled images: a length of their own each
            features = torch.cat(list(features))
        n_feats = 0 if features is None else features.numel() // features.shape[-1]
        if n_slots != n_feats:
            raise EngineError(f"The prompt has {n_slots} image-token slots but the images give {n_feats} "
                              "features: the image count and the prompt's image placeholders disagree.")
        x = self.decoder.embed_tokens(ids2.masked_fill(is_visual, 0))
        if n_slots:  # out of place: training differentiates through the placed features
            x = x.masked_scatter(is_visual[..., None], features.reshape(-1, x.shape[-1]).to(x.dtype))
        if self.has_box_head:
            at = ids2 == self.cfg.grounding["boxes_token_id"]
            if int(at.sum()) != len(boxes if boxes is not None else []):
                raise EngineError(f"The prompt has {int(at.sum())} region placeholders but "
                                  f"{len(boxes if boxes is not None else [])} regions.")
            if int(at.sum()):
                values = self._box_images(x, is_visual, at, image_values) if self.has_region_read else None
                x = x.masked_scatter(at[..., None], self.box_embeddings(boxes, values).to(x.dtype))
        return x, is_visual[0]

    def _box_images(self, x, is_visual, at, image_values) -> list:
        """Each <boxes> token's image values (row-major order): the last image starting before it
        in its row; None where there is none."""
        starts = is_visual & ~F.pad(is_visual[:, :-1], (1, 0))
        per_row = int(starts[0].sum())
        if image_values is None:
            first = starts[0].nonzero()[:, 0].tolist()
            ends = (is_visual[0] & ~F.pad(is_visual[0, 1:], (0, 1))).nonzero()[:, 0].tolist()
            sizes = [e + 1 - s for s, e in zip(first, ends)] * x.shape[0]
            image_values = list(self.visual_values(x[is_visual]).split(sizes)) if per_row else []
        prior = len(image_values) - per_row * x.shape[0]  # images before this call (one row then)
        out = []
        for b, t in at.nonzero().tolist():
            k = int(starts[b, :t].sum())
            idx = prior + b * per_row + k - 1
            out.append(image_values[idx] if idx >= 0 else None)
        return out

    def box_embeddings(self, boxes, values=None) -> torch.Tensor:
        """boxes: a list of 4-tuples, or a (N,4) tensor (training: ground-truth boxes). values
        (region reading): per box, the first-layer values (P, V) of the image it is on, or None."""
        w = self.grounding.loc_encoder[0].weight
        boxes = torch.as_tensor(boxes, dtype=w.dtype, device=w.device) if not torch.is_tensor(boxes) else boxes.to(w)
        boxes = boxes.reshape(-1, 4)
        emb = self.grounding.loc_encoder(boxes)
        if hasattr(self.grounding, "loc_waves"):
            lw = self.grounding.loc_waves
            emb = emb + lw(box_waves(boxes, lw.in_features // 4).to(lw.weight.dtype)).to(emb.dtype)
        if values is not None and self.has_region_read:
            r = self.grounding.region_read
            read = []
            for box, v in zip(boxes, values):
                if v is None or v.shape[0] == 0:
                    read.append(torch.zeros(r.in_features, dtype=r.weight.dtype, device=w.device))
                    continue
                read.append(region_mean(box, v))
            emb = emb + r(torch.stack(read).to(r.weight.dtype)).to(emb.dtype)
        return emb.to(self.decoder.embed_tokens.weight.dtype)  # the head is float32 (BOX_HEAD)

    @property
    def has_region_read(self) -> bool:
        return self.has_box_head and hasattr(self.grounding, "region_read")

    @property
    def has_pointer(self) -> bool:
        return self.has_box_head and hasattr(self.grounding, "point_q")

    def visual_values(self, x: torch.Tensor) -> torch.Tensor:
        """Visual rows' embeddings (..., D) -> their values in the first decoder layer
        (..., kv heads * head dim), head-major as the KV cache holds them (the same in full and
        composite attention: the first layer's input is the embedding itself)."""
        first = self.decoder.layers[0]
        return first.self_attn.v_proj(first.input_layernorm(x))

    def box_from_hidden(self, h: torch.Tensor, values: torch.Tensor | None = None,
                        taken: torch.Tensor | None = None) -> torch.Tensor:
        """pix2emb: the box (padded-square x1y1x2y2) that <at>'s final hidden state points at, read
        after the decoder's final norm, as NExT-Chat reads transformers' last hidden state.
        values: the visual rows' first-layer values, (N, V) or per box (M, N, V) (the pointer);
        taken: (N,) rows the pointer may not pick (objects this answer has boxed already)."""
        if self.has_pointer:
            if values is None or values.shape[-2] == 0:  # nothing to point into: no box (dropped, said)
                return torch.full((*h.shape[:-1], 4), float("nan"), device=h.device)
            return self.point(h, values, one_object=True, taken=taken)[0]
        w = self.grounding.loc_decoder[0].weight
        return self.grounding.loc_decoder(self.decoder.norm(h).to(w.dtype))

    def point(self, h: torch.Tensor, values: torch.Tensor, one_object: bool = False,
              taken: torch.Tensor | None = None):
        """The pointer: (boxes (..., 4), the attention logits over the visual rows (..., N), and
        with a null one more column: nothing).
        one_object: weigh only the tokens that read the same box as the most pointed-at one
        (IoU >= 0.5), so attention split between two objects gives one of them, not a box
        between them (training keeps the plain weighted sum its loss was shaped on); NO_BOX where
        the null outscores that object's rows together (their logsumexp).
        taken: rows left out (bool, (N,) or per box (..., N)), unless that leaves none."""
        g = self.grounding
        q = g.point_q(self.decoder.norm(h).to(g.point_q.weight.dtype))
        v = values.to(q.dtype)
        if v.dim() == 2 and q.dim() == 2:  # one set of visual rows for every box
            v = v.expand(q.shape[0], *v.shape)
        logits = (v @ q.unsqueeze(-1)).squeeze(-1) / v.shape[-1] ** 0.5
        if taken is not None and not bool(taken.all()):
            logits = logits.masked_fill(taken, float("-inf"))
        per_token = g.patch_box(v)
        weights = logits.softmax(-1)
        if one_object:
            best = logits.argmax(-1, keepdim=True)
            top = per_token.gather(-2, best[..., None].expand(*best.shape, 4))
            same = same_object(per_token, top).scatter(-1, best, True)
            weights = weights * same
            weights = weights / weights.sum(-1, keepdim=True)
        boxes = (weights.unsqueeze(-1) * per_token).sum(-2)
        if hasattr(g, "null_value"):
            null = q @ g.null_value / v.shape[-1] ** 0.5 + g.null_bias[0]
            if one_object:
                # the chosen object's mass against nothing's: its rows share the pointer's score
                # (training spreads the target evenly over an object's patches), so a row's own
                # score understates the object
                mass = logits.masked_fill(~same, float("-inf")).logsumexp(-1)
                nothing = (null > mass).unsqueeze(-1)
                boxes = torch.where(nothing, torch.tensor(NO_BOX, dtype=boxes.dtype, device=boxes.device), boxes)
            logits = torch.cat([logits, null.unsqueeze(-1)], -1)
        return boxes, logits

    def rows_of(self, box: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """The visual rows (N,) whose own box (what each reads of its object) overlaps `box` by at
        least TAKEN_IOU: the object a box of this answer took, which its next box should not take
        again."""
        w = self.grounding.patch_box.weight
        return box_iou(self.grounding.patch_box(values.to(w.dtype)), box.to(w.dtype)) >= TAKEN_IOU

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """Logits. In bf16 or int8 they come out rounded (bf16 keeps ~3 significant digits: steps
        of 0.06 at 16), coarser than the margins a small model's greedy answers turn on, so at
        inference the top candidates are recomputed in float32 from the float table (the own
        model, teacher-forced on float32's answers: 158 -> 185 of 200 held-out items token for
        token). Training keeps the plain logits: rounding there is only noise in the loss."""
        h = self.decoder.norm(h)
        lm = getattr(self, "lm_head", None)  # untied; or, quantized, an int8/bf16 copy of the tied table
        logits = F.linear(h, self.decoder.embed_tokens.weight) if lm is None else lm(h)
        # The float table the top candidates are recomputed from: the tied embeddings (kept in the
        # model's dtype when the head is quantized), else the head's own weight where it is float.
        table = self.decoder.embed_tokens.weight if self.cfg.decoder.tie_embeddings else getattr(lm, "weight", None)
        # Exact already: float32 logits from a float32 table. A quantized head's logits are rounded
        # whatever dtype it hands back.
        exact = logits.dtype == torch.float32 and (lm is None or isinstance(lm, nn.Linear))
        if exact or table is None or not table.is_floating_point() or torch.is_grad_enabled():
            return logits
        return exact_top(logits, h, table)


def exact_top(logits: torch.Tensor, h: torch.Tensor, table: torch.Tensor, k: int = 16) -> torch.Tensor:
    """float32 logits whose k largest are recomputed exactly (h . row in float32)."""
    top = logits.topk(k, -1).indices
    exact = torch.einsum("...kd,...d->...k", table[top].float(), h.float())
    return logits.float().scatter(-1, top, exact)


def _unused(key: str) -> bool:
    # Weights LLaVA never reads: the vision tower's final norm and pooling head, RoPE buffers.
    return key.startswith(("vision.post_layernorm.", "vision.head.")) or key.endswith("rotary_emb.inv_freq")


# The image's side of the model: the vision tower, the projector and LLaVA-NeXT's row-end vector.
VISION_PARTS = ("vision.", "projector.", "image_newline")
# A tower this small runs in float32 whatever the compute dtype: beside the decoder it costs little
# (the own model's, 5.7M parameters), and its bf16 rounding moved the own model's answers
# (`bench precision --n 100`: bf16 within 1 point of float32 on 10 of 15 rows, 14 with the tower
# in float32). A large tower (CLIP ViT-L, 300M) is most of a CPU's first token: it keeps the dtype.
SMALL_TOWER = 20_000_000
# The box head always runs in float32: bf16 keeps 8 significant bits, so a coordinate near 1 would
# move in steps of 1/256 of the image side (2-4 px on a photo); the head is small beside any
# decoder (the own model's: 0.45M parameters).
BOX_HEAD = ("grounding.",)


def meta_model(cfg: ModelConfig) -> LlavaModel:
    """The model's shapes, no memory: for counting parameters before any weight is read."""
    with torch.device("meta"):
        return LlavaModel(cfg)


def vision_params(model: LlavaModel) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if n.startswith(VISION_PARTS))


def small_tower(model: LlavaModel) -> bool:
    """Whether the image's side runs in float32 whatever the compute dtype."""
    return 0 < vision_params(model) <= SMALL_TOWER


def load_model(folder, dtype=torch.float32, device="cpu", quant: str | None = None,
               cfg: ModelConfig | None = None, progress=None) -> LlavaModel:
    """Weights are read to CPU memory; with `quant`, the decoder's linears are quantized layer by
    layer on their way to `device`, so its full-precision copy never reaches the GPU. Every path
    (plain, quantized at load, saved quantized) reads them here: progress(done, total) in bytes."""
    cfg = cfg or read_config(folder)
    # Read at the compute dtype even when quantizing: reading a float32 checkpoint as stored would
    # double the peak memory of a bf16 load, and int8's step is several times bf16's rounding.
    model = meta_model(cfg)
    weights = read_weights(folder, dtype, progress,
                           float32=(VISION_PARTS if small_tower(model) else ()) + BOX_HEAD)
    done = ()
    if cfg.quantization:  # a bitsandbytes checkpoint: its quantized linears load as saved
        from .quant import load_prequantized, prequantized_modules
        if quant:
            raise EngineError(f"{folder} is already quantized ({cfg.quantization}); load it without --quant.")
        used = load_prequantized(model, weights, device, dtype)
        done = tuple(f"{m}." for m in prequantized_modules(weights) if f"{m}.weight" in used)
        for key in used:
            weights.pop(key, None)
    wanted = {k for k in model.state_dict() if not k.startswith(done)} if done else set(model.state_dict())
    missing = sorted(wanted - set(weights))
    if missing:
        raise EngineError(f"{folder}: the checkpoint lacks {len(missing)} weights this model needs, "
                          f"e.g. {', '.join(missing[:4])}.")
    extra = [k for k in weights if k not in wanted and not _unused(k)
             and not (k.startswith("vision.encoder.layers.") and cfg.vision is not None)]
    if extra:
        raise EngineError(f"{folder}: the checkpoint has weights this engine does not know "
                          f"({', '.join(extra[:4])}): an unsupported architecture variant.")
    model.load_state_dict({k: weights[k] for k in wanted}, assign=True, strict=not done)
    # Non-persistent buffers were made on the meta device: compute them for real.
    model.decoder.register_buffer("inv_freq", rope.inv_freq(cfg.decoder.rope, cfg.decoder.head_dim),
                                  persistent=False)
    del weights
    if quant:
        from .quant import quantize_decoder
        counts = quantize_decoder(model, quant, device, dtype)
        if isinstance(counts, dict):  # the CPU modes: what each linear became, for the notes
            model.quant_counts = counts
    return model.to(device).eval()
