#!/bin/bash
# The device side of a training run on a lent GPU (run there from the repository root, $OUT set;
# lent_gpu_prepare.sh fills the carry folders and says the calls). Nothing can be downloaded there
# and one call carries at most 64 MiB, so the SmolLM2 GGUF comes as two xz halves: part1 with the
# wheels in a first call (copied to /root/stash), part2 with the shipped parts (asset.safetensors),
# text_answers.json and this script in the next, while the machine is still warm. It checks the
# GGUF, installs gguf and platformdirs (the image lacks them; transformers/peft wheels as the
# fallback), trains engine/train/configs/gpu.json from the shipped parts for the time left under
# LIMIT seconds with 14 sample workers (its stages share that time as the config shares its
# seconds), and returns the parts (bf16) in 15 MB pieces (cat parts.* > parts.safetensors).
set -u
T0=$(date +%s); LIMIT=${LIMIT:-560}
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
S=/root/stash; W=/tmp/work; mkdir -p $S $W
cp .dev/b/* $S/
cat $S/gguf.xz.part1 $S/gguf.xz.part2 | xz -d > $S/SmolLM2-135M-Instruct.Q4_1.gguf || exit 3
echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $S/SmolLM2-135M-Instruct.Q4_1.gguf" | sha256sum -c || exit 4
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site1 $S/gguf-*.whl $S/platformdirs-*.whl
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site2 $S/*.whl
nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm --format=csv
cp $S/asset.safetensors $W/parts.safetensors; cp $S/text_answers.json $W/
base() { python3 -c "
from pathlib import Path
from engine.own.spec import spec; from engine.train.model import base_folder
print(base_folder(Path('$W'), spec(), Path('$S/SmolLM2-135M-Instruct.Q4_1.gguf')))"; }
export PYTHONPATH=/tmp/site1
python3 -c "import torch, transformers, peft; print('env', torch.__version__, transformers.__version__, peft.__version__)"
if ! base; then export PYTHONPATH=/tmp/site2; rm -rf $W/base; base || exit 5; fi
train() {
  left=$(( LIMIT - ($(date +%s) - T0) - 75 ))
  python3 - "$left" <<PY
import json, sys
c = json.load(open("engine/train/configs/gpu.json"))  # the stages share the time left as gpu.json shares it
total = sum(st["seconds"] for st in c["stages"])
for st in c["stages"]:
    st["seconds"] = int(int(sys.argv[1]) * st["seconds"] / total)
json.dump(c, open("/tmp/gpu.json", "w"))
PY
  echo "training for ${left}s with PYTHONPATH=$PYTHONPATH"
  timeout $(( left + 50 )) python3 -m engine train /tmp/gpu.json --work-dir $W --workers 14 2>&1 | tee -a $OUT/train.log | grep -E "^\[gpu-[a-z]* [0-9]*0/|held-out|Error|error|Traceback|done" 
}
train
if [ ! -f $W/final.safetensors ] && [ $(grep -c "^\[gpu-" $OUT/train.log) -lt 20 ] && [ "$PYTHONPATH" = /tmp/site1 ]; then
  export PYTHONPATH=/tmp/site2; echo "retry with carried transformers/peft"; train
fi
python3 - <<PY
import torch
from pathlib import Path
from engine.own.build import read_parts
from engine.train.model import save_parts
w = Path("$W")
src = w / "final.safetensors" if (w / "final.safetensors").is_file() else w / "parts.safetensors"
parts, spec = read_parts(src)
save_parts(Path("/tmp/gpu-parts.safetensors"), parts, spec, torch.bfloat16)
print("parts from", src.name, spec.get("trained"))
PY
split -b 15000000 /tmp/gpu-parts.safetensors $OUT/parts.
cp $W/log.jsonl $OUT/ 2>/dev/null; gzip -f $OUT/train.log
sha256sum /tmp/gpu-parts.safetensors; ls -la $OUT; echo "total $(( $(date +%s) - T0 ))s"
