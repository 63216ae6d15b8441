"""Write samples to look at: python -m engine.train.data.preview OUT_DIR N [SPLIT] [SKILL]
Each sample gives NNNN_skill_k.png (its images, with any Region boxes drawn in magenta) and
NNNN_skill.txt (the conversation, Regions as [box x1,y1,x2,y2], and the canonical answer)."""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import ImageDraw

from ...api import Image, Region, Text
from .tasks import make_sample


def conversation(sample) -> str:
    lines, n = [], 0
    for m in sample.messages:
        out = []
        for p in m.parts:
            if isinstance(p, Text):
                out.append(p.text)
            elif isinstance(p, Image):
                out.append(f"<image {n}>")
                n += 1
            elif isinstance(p, Region):
                out.append(f"[box {p.image_index}: " + ",".join(f"{v:.3f}" for v in p.box) + "]")
        lines.append(f"{m.role}: {''.join(out)}")
    lines.append(f"-- answer={sample.answer!r} options={sample.options} ask={sample.ask} box={sample.box}")
    return "\n".join(lines) + "\n"


def write(sample, out: Path, stem: str):
    regions = [p for m in sample.messages for p in m.parts if isinstance(p, Region)]
    for k, scene in enumerate(sample.scenes):
        img = scene.image.copy()
        d = ImageDraw.Draw(img)
        for r in regions:
            if r.image_index == k:
                x1, y1, x2, y2 = r.box
                d.rectangle((x1 * img.width, y1 * img.height, x2 * img.width - 1, y2 * img.height - 1),
                            outline=(255, 0, 255))
        img.save(out / f"{stem}_{k}.png")
    (out / f"{stem}.txt").write_text(conversation(sample))


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    out, n = Path(argv[0]), int(argv[1])
    split = argv[2] if len(argv) > 2 else "train"
    skill = argv[3] if len(argv) > 3 else None
    out.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        s = make_sample(i, split, skill)
        write(s, out, f"{i:04d}_{s.skill}")
    print(f"wrote {n} samples to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
