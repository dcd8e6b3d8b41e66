#!/usr/bin/python3
"""Writes a CLIP ViT-L/14-336 vision tower (LLaVA-1.5's shape: 24 blocks, width 1024,
16 heads, MLP 4096) with seeded random F16 weights as a Hugging Face directory, for
timing (bench/batch.sh --vitl): the encoder's cost does not depend on the weights.

    /usr/bin/python3 bench/vitl_model.py DIR
"""
import json
import os
import struct
import sys

import numpy as np

SIZE, PATCH, D, HEADS, F, LAYERS = 336, 14, 1024, 16, 4096, 24
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)

    def normal(shape, s):
        return (rng.standard_normal(shape, dtype=np.float32) * s).astype(np.float16)

    g = SIZE // PATCH
    w = {"vision_model.embeddings.patch_embedding.weight": normal((D, 3, PATCH, PATCH), 0.02),
         "vision_model.embeddings.class_embedding": normal((D,), 0.02),
         "vision_model.embeddings.position_embedding.weight": normal((g * g + 1, D), 0.02),
         "vision_model.pre_layrnorm.weight": np.ones(D, np.float16),
         "vision_model.pre_layrnorm.bias": np.zeros(D, np.float16),
         "vision_model.post_layernorm.weight": np.ones(D, np.float16),
         "vision_model.post_layernorm.bias": np.zeros(D, np.float16)}
    for layer in range(LAYERS):
        p = f"vision_model.encoder.layers.{layer}."
        for nm in ("q_proj", "k_proj", "v_proj", "out_proj"):
            w[p + f"self_attn.{nm}.weight"] = normal((D, D), D ** -0.5)
            w[p + f"self_attn.{nm}.bias"] = np.zeros(D, np.float16)
        for ln in ("layer_norm1", "layer_norm2"):
            w[p + ln + ".weight"] = np.ones(D, np.float16)
            w[p + ln + ".bias"] = np.zeros(D, np.float16)
        w[p + "mlp.fc1.weight"] = normal((F, D), D ** -0.5)
        w[p + "mlp.fc1.bias"] = np.zeros(F, np.float16)
        w[p + "mlp.fc2.weight"] = normal((D, F), F ** -0.5)
        w[p + "mlp.fc2.bias"] = np.zeros(D, np.float16)

    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for k, v in w.items():
        header[k] = {"dtype": "F16", "shape": list(v.shape), "data_offsets": [offset, offset + v.nbytes]}
        offset += v.nbytes
    hj = json.dumps(header).encode()
    hj += b" " * (-len(hj) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for v in w.values():
            f.write(v.tobytes())
    config = {"architectures": ["CLIPVisionModel"], "model_type": "clip_vision_model", "torch_dtype": "float16",
              "hidden_size": D, "intermediate_size": F, "num_attention_heads": HEADS, "num_hidden_layers": LAYERS,
              "image_size": SIZE, "patch_size": PATCH, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
              "num_channels": 3, "projection_dim": 768, "attention_dropout": 0.0}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    pre = {"crop_size": {"height": SIZE, "width": SIZE}, "do_center_crop": True, "do_convert_rgb": True,
           "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": MEAN,
           "image_processor_type": "CLIPImageProcessor", "image_std": STD, "resample": 3,
           "rescale_factor": 1 / 255, "size": {"shortest_edge": SIZE}}
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=2)


if __name__ == "__main__":
    main()
