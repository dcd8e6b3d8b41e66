#!/usr/bin/python3
"""vtc inside a PyTorch VLM: the vision tower and the decoder run in PyTorch, vtc
only prunes the visual tokens between them.

    PYTHONPATH=python /usr/bin/python3 examples/python/llava_torch.py \
        [--image samples/scene.png] [--question "where is the bag ?"] [--method divprune] [--keep 64]

The model is samples/vlm (vtc's small trained VLM of LLaVA-1.5's shape), loaded
into the repository's PyTorch references: tools/vtc_ref.py's CLIP ViT + LLaVA
projector (float64; transformers' semantics) and tools/ref_llama.py's Llama
decoder (float64, Hugging Face layout), whose weights and vocabulary come from
lm.bin as tools/quality_ref.py reads it. The steps:

1. preprocess the image as the model's image processor does and run the vision
   tower: features of the feature layer, CLS attention, keys and the projected
   embeddings, as torch tensors;
2. hand those tensors to vtc.prune (numpy/torch in, numpy out; no vtc model is
   loaded): the method picks the rows to keep;
3. feed [BOS, kept rows, the question's tokens] to the PyTorch decoder at
   consecutive positions and print the argmax of the last row's logits.

The answer with every visual token is printed beside it.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "python"))  # the binding from the source tree, if not installed
import quality_ref  # noqa: E402
import quality_train  # noqa: E402
import ref_llama  # noqa: E402
import vtc  # noqa: E402
import vtc_ref  # noqa: E402


def load_vision(model_dir):
    """The LLaVA vision tower and projector of a llava-hf directory for tools/vtc_ref.py."""
    cfg_json = json.load(open(os.path.join(model_dir, "config.json")))
    vc = cfg_json["vision_config"]
    tensors, _ = vtc_ref.read_safetensors(os.path.join(model_dir, "model.safetensors"))
    tower, proj = "vision_tower.vision_model.", "multi_modal_projector."
    w = {k[len(tower):]: torch.from_numpy(v.astype(np.float64)) for k, v in tensors.items() if k.startswith(tower)}
    p = {k[len(proj):]: torch.from_numpy(v.astype(np.float64)) for k, v in tensors.items() if k.startswith(proj)}
    cfg = dict(arch="clip", hidden=vc["hidden_size"], heads=vc["num_attention_heads"], layers=vc["num_hidden_layers"],
               patch=vc["patch_size"], act=vc["hidden_act"], eps=vc["layer_norm_eps"], image_size=vc["image_size"],
               ffn=vc["intermediate_size"])
    pre = json.load(open(os.path.join(model_dir, "preprocessor_config.json")))
    return cfg, w, p, cfg_json, pre


def load_decoder(model_dir):
    """lm.bin and the vocabulary as tools/quality_ref.py loads them (quality_train's
    model: llama2.c/Meta layout, shared classifier), as a tools/ref_llama.py Ref."""
    m, ids, pieces = quality_ref.load(model_dir)
    sd = {k: v.numpy() for k, v in m.lm.state_dict().items()}
    names = dict(attn_norm="n1.w", wq="wq.weight", wk="wk.weight", wv="wv.weight", wo="wo.weight", ffn_norm="n2.w",
                 w1="w1.weight", w2="w2.weight", w3="w3.weight")
    L, heads = len(m.lm.blocks), m.lm.blocks[0].h
    W = dict(tok=sd["tok.weight"], norm=sd["norm.w"], cls=sd["tok.weight"],
             layers=[{k: sd[f"blocks.{i}.{n}"] for k, n in names.items()} for i in range(L)])
    ref_llama.CFG.update(dim=W["tok"].shape[1], hidden=sd["blocks.0.w1.weight"].shape[0], layers=L, heads=heads,
                         kv_heads=sd["blocks.0.wk.weight"].shape[0] * heads // W["tok"].shape[1],
                         vocab=W["tok"].shape[0])
    return ref_llama.Ref(W), ids, pieces


@torch.no_grad()
def answer(lm, ids, pieces, visual, question):
    """[BOS, visual rows, the question's word tokens] at positions 0.. -> the argmax word."""
    try:
        words = quality_train.encode(question, ids)
    except KeyError as e:
        raise SystemExit(f"llava_torch: {e} is not in the model's vocabulary")
    x = torch.cat([lm.tok[1][None], torch.as_tensor(visual, dtype=torch.float64), lm.tok[words]])
    lm.reset()
    h = lm.forward(x, torch.arange(x.shape[0]))
    return pieces[int(lm.logits(h[-1:])[0].argmax())].strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "samples", "vlm"))
    ap.add_argument("--image", default=os.path.join(ROOT, "samples", "scene.png"))
    ap.add_argument("--question", default="where is the bag ?")
    ap.add_argument("--method", default="divprune")
    ap.add_argument("--keep", default="64", help="a count (64) or a fraction (0.25)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    keep = float(a.keep) if "." in a.keep else int(a.keep)

    # 1. the vision tower, in PyTorch
    cfg, w, proj, cfg_json, pre = load_vision(a.model)
    aspect = "pad" if cfg_json.get("image_aspect_ratio") == "pad" else "crop"
    pixels = vtc_ref.preprocess(vtc_ref.load_rgb(a.image), cfg["image_size"], aspect, pre["image_mean"],
                                pre["image_std"])
    out, _ = vtc_ref.encoder_outputs(w, cfg, pixels, cfg_json.get("vision_feature_layer", -2), proj)
    feats = {k: torch.from_numpy(v) for k, v in out.items()}  # float64 tensors: features [576, 128], ...

    # 2. vtc prunes them (the tensors are copied in as float32)
    kept = vtc.prune(feats, a.method, keep)
    rows = kept.data
    if kept.space == "features":  # merged tokens left in encoder space: project them with the PyTorch projector
        rows = vtc_ref.project(proj, torch.from_numpy(rows.astype(np.float64))).numpy()
    print(f"vtc {vtc.version()}: {a.method} kept {kept.n} of {kept.n_input} tokens "
          f"(retained ratio {kept.retained_ratio:.4f}), space {kept.space}")
    print("kept index:", " ".join(map(str, kept.index[:16])), "..." if kept.n > 16 else "")

    # 3. the decoder, in PyTorch
    lm, ids, pieces = load_decoder(a.model)
    full = answer(lm, ids, pieces, feats["embeds"], a.question)
    pruned = answer(lm, ids, pieces, rows, a.question)
    print(f"question: {a.question}")
    print(f"answer ({kept.n} tokens): {pruned}")
    print(f"answer (all {kept.n_input} tokens): {full}")


if __name__ == "__main__":
    main()
