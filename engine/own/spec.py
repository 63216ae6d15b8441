"""What the own model is: the shapes a fresh training run starts from. A trained parts file
carries its own copy of this (its metadata), so the builder reads the file, not these constants."""
from __future__ import annotations

IMAGE_TOKEN, AT_TOKEN, BOXES_TOKEN = "<image>", "<at>", "<boxes>"
NEW_TOKENS = [IMAGE_TOKEN, AT_TOKEN, BOXES_TOKEN]

# A CLIP-architecture tower trained from scratch, sized for a 2-core CPU: 192 px in 24 px patches
# gives 8x8 = 64 visual tokens (CLS dropped, as LLaVA does).
VISION = dict(model_type="clip_vision_model", hidden_size=256, intermediate_size=1024, num_hidden_layers=6,
              num_attention_heads=4, image_size=192, patch_size=24, hidden_act="gelu", layer_norm_eps=1e-5)

# SmolLM2-135M's width, and the rows appended to its 49,152-token vocabulary for the new tokens
# (3 used, padded to a multiple of 64 as LLaVA checkpoints pad theirs).
DECODER_HIDDEN, NEW_ROWS = 576, 64
# Its K/V width (3 KV heads x 64): a pointer box head reads the visual rows' first-layer values.
DECODER_KV = 192

# The box head points into the visual tokens (engine/llava/model.py BoxHead): the regressing head
# alone stayed at a constant box's loss through ~2,000 box samples (TRAINING.md).
POINTER = True
# A box may also carry what it covers (BoxHead's region reading; a config turns it on with
# "spec": {"region_read": true}). Off: in two CPU runs the decoder learned to ignore it (TRAINING.md).
REGION_READ = False
# The pointer may point at nothing (BoxHead.add_null; a config turns it on with "spec":
# {"pointer_null": true}): counts then end by pointing into nothing, the pointer's call.
POINTER_NULL = False
# A box's embedding may also carry waves of its centre at this many frequencies (BoxHead.add_waves;
# a config turns it on with "spec": {"loc_waves": 6}): a bar's box joined to the word under it
# (zero-started, they grew little in their first run: TRAINING.md).
LOC_WAVES = 0
# The words an OCR reads, given after each image with their boxes (engine/llava/words.py; a config
# turns it on with "spec": {"ocr_words": true}).
OCR_WORDS = False

# LoRA on every linear of the decoder (peft while training; merged into the weights at build).
LORA = dict(rank=16, alpha=32, targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])

# Composite attention from the first step; visual tokens skip the MLP (EE-MLLM's speed setting:
# a visual token then costs only its K, V and O projections).
EE_MLLM = {"attention": "composite", "visual_mlp": False}

# ChatML over content parts (an image part is "<image>\n"); no default system prompt, so a prompt
# carries only what the user gave (SmolLM2's own template adds one on every turn).
CHAT_TEMPLATE = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
                 "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
                 "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>\n"
                 "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
                 "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

# CLIP's pixel statistics: the tower is trained from scratch, any fixed choice works.
IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073]
IMAGE_STD = [0.26862954, 0.26130258, 0.27577711]


def spec() -> dict:
    return dict(vision=VISION, lora=LORA, ee_mllm=EE_MLLM, new_tokens=NEW_TOKENS, chat_template=CHAT_TEMPLATE,
                image_mean=IMAGE_MEAN, image_std=IMAGE_STD, vision_feature_layer=-1, new_rows=NEW_ROWS,
                pointer=POINTER, region_read=REGION_READ, pointer_null=POINTER_NULL, ocr_words=OCR_WORDS,
                loc_waves=LOC_WAVES)
