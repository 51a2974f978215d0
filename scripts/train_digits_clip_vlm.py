"""Train `digits-clip`: a small ViT + LLaVA-1.5 projector onto SmolLM2-135M-Instruct, shipped in two formats.

A toy VLM for testing VLM runners end to end against real weights: it answers "Which digit is shown?" about
scikit-learn's 8x8 handwritten digits (rendered by mobeval.vlm.benchmarks.digits.render_digit) and nothing
else. Everything trains on the training pool only (dataset index % 5 != 0); the evaluation pool
(index % 5 == 0) is only ever evaluated.

  1. the vision tower: a SigLIP-architecture ViT (64x64 input, 16x16 patches -> 16 tokens, width 192, 4 layers,
     no class token; see mobeval/vlm/models/llava.py for why not CLIP's) trained from scratch as a digit
     classifier (mean of the last layer's tokens -> post-layernorm -> linear), with +-1-pixel shifts;
  2. LLaVA stage 1, tower and LM frozen, only the projector (Linear-GELU-Linear) trains:
     A. warm start: every image token regressed onto the LM's input embedding of the digit's token (cosine);
     B. through the frozen LM (dequantized from the bundled Q4_1 GGUF by transformers): cross-entropy of the
        answer token (+0.25 x the end-of-turn after it), on both question forms (multiple choice with 4
        shuffled options answered by letter; open answered by the digit), in the ChatML user turn with the
        16 image embeddings exactly where libmtmd puts them (replacing the <image> marker, no extra tokens);
  3. the weights rounded to float16 and written as digits-clip-vision.safetensors (LLaVA names) and
     digits-clip-mmproj.gguf (clip.cpp "mlp" projector), then the held-out pool evaluated twice: in torch
     (the shipped weights, the dequantized LM) and through llama.cpp's libmtmd (the mmproj + the Q4_1 GGUF);
     the card (digits-clip.card.json) records both.

    nice -n 10 python scripts/train_digits_clip_vlm.py --threads 2 --steps 80

Needs torch==2.13.0, transformers, gguf, safetensors, llama-cpp-python==0.3.36 (with libmtmd), scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from mobeval.vlm.benchmarks.digits import is_eval_index, render_digit
from mobeval.measure.environment import cpu_model
from mobeval.vlm.models import llava as V
from mobeval.vlm.models.digits_pixels import pixels, shifted_pixels
from mobeval.vlm.runners.mtmd_probe import MtmdProbe
from mobeval.text.models.registry import resolve as resolve_lm
from mobeval.vlm.models.stage1 import (
    LETTERS,
    llama_tokenizer,
    load_lm,
    make_example,
    mcq_options,
    mcq_prompt,
    open_prompt,
    stage_a,
    stage_b,
    verdict,
)
from mobeval.vlm.runners.base import IMAGE_MARKER
from mobeval.vlm.runners.prompt_layout import CHATML_USER

LM = "smollm2-135m"
NAME = "digits-clip (SigLIP-style ViT + LLaVA-1.5 MLP projector trained here + SmolLM2-135M-Instruct Q4_1; " \
       "a handwritten-digits toy, not a general VLM)"
FILES = {"mmproj": "digits-clip-mmproj.gguf", "hf_vision": "digits-clip-vision.safetensors",
         "hf_config": "digits-clip-vision.json", "card": "digits-clip.card.json", "manifest": "digits-clip.json"}



# -- 1. the vision tower as a classifier ----------------------------------------------------------------
def train_tower(cfg, images, labels, eval_images, eval_labels, args, log):
    import torch

    torch.manual_seed(args.seed)
    tower = V.vision_tower(cfg)
    head = torch.nn.Linear(cfg.hidden, 10)
    params = list(tower.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.tower_lr, weight_decay=0.05)
    steps = args.tower_epochs * (len(images) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.tower_lr, total_steps=steps, pct_start=0.1)
    rng = np.random.default_rng(args.seed)
    bank = torch.from_numpy(shifted_pixels(images, cfg))
    lab = torch.from_numpy(labels)

    def logits(px):
        return head(tower.post_layernorm(V.image_features(tower, px).mean(1)))

    t0 = time.perf_counter()
    for epoch in range(args.tower_epochs):
        order = rng.permutation(len(images))
        for start in range(0, len(order) - 63, 64):
            idx = torch.from_numpy(order[start:start + 64])
            shift = torch.from_numpy(np.where(rng.random(64) < args.shift_share, rng.integers(0, 9, 64), 4))
            loss = torch.nn.functional.cross_entropy(logits(bank[shift, idx].float()), lab[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if (epoch + 1) % 10 == 0 or epoch == 0:
            log(f"tower epoch {epoch + 1}/{args.tower_epochs} loss {float(loss):.3f} ({time.perf_counter() - t0:.0f}s)")
    tower.eval()
    with torch.no_grad():
        acc = float((logits(torch.from_numpy(eval_images)).argmax(-1).numpy() == eval_labels).mean())
    log(f"tower: held-out classification accuracy {acc:.4f} ({len(eval_labels)} images)")
    return tower.requires_grad_(False), {
        "what": "classifier: mean of the last layer's 16 tokens -> post-layernorm -> Linear(192, 10), cross-entropy",
        "epochs": args.tower_epochs, "steps": steps, "batch": 64, "lr": args.tower_lr, "weight_decay": 0.05,
        "schedule": "one-cycle", "augmentation": f"{args.shift_share:.0%} of images shifted by -1..1 source pixels "
        "on each axis", "seconds": round(time.perf_counter() - t0), "held_out_classification_accuracy": round(acc, 4)}


# -- 2. the projector --------------------------------------------------------------------------------------
# -- 3. evaluation ------------------------------------------------------------------------------------------
def eval_questions(indices, labels, seed):
    """The held-out questions, seeded: (index, digit, mcq options) per image."""
    rng = random.Random(seed + 1)
    return [(i, int(labels[i]), mcq_options(int(labels[i]), rng)) for i in indices]


def evaluate_torch(lm, tower, proj, cfg, images8, questions, tokenize, end_id, log) -> dict:
    """Held-out accuracy with the shipped weights in torch: multiple choice = the argmax of the letters'
    logits at the answer position; open = greedy text (up to 3 tokens, to <|im_end|>) equals the digit."""
    import torch

    embed = lm.get_input_embeddings()
    mcq_right = open_right = 0
    with torch.no_grad():
        for start in range(0, len(questions), 24):
            qs = questions[start:start + 24]
            img = proj(V.image_features(tower, torch.from_numpy(pixels(images8[[q[0] for q in qs]], cfg))))
            letters = [tokenize(c, False)[0] for c in LETTERS]
            ex = [make_example(tokenize, mcq_prompt(q[2]), LETTERS[q[2].index(q[1])], end_id, cfg.tokens) for q in qs]
            x = torch.cat([embed(torch.tensor([e.pre for e in ex])), img, embed(torch.tensor([e.post for e in ex]))], 1)
            lg = lm.lm_head(lm.model(inputs_embeds=x).last_hidden_state[:, -1])[:, letters]
            mcq_right += sum(q[2][int(k)] == q[1] for q, k in zip(qs, lg.argmax(-1)))
            ex = make_example(tokenize, open_prompt(), "0", end_id, cfg.tokens)
            x = torch.cat([embed(torch.tensor([ex.pre] * len(qs))), img, embed(torch.tensor([ex.post] * len(qs)))], 1)
            gen: list[list[int]] = [[] for _ in qs]
            for _ in range(3):
                nxt = lm.lm_head(lm.model(inputs_embeds=x).last_hidden_state[:, -1]).argmax(-1)
                for g, t in zip(gen, nxt.tolist()):
                    g.append(t)
                x = torch.cat([x, embed(nxt)[:, None]], 1)
            for q, g in zip(qs, gen):
                g = g[:g.index(end_id)] if end_id in g else g
                open_right += g == tokenize(str(q[1]), False)
    return summary("torch", mcq_right, open_right, len(questions), log)


def evaluate_mtmd(probe, images8, questions, log) -> dict:
    """The same questions through libmtmd: mtmd_tokenize of the ChatML turn with llama.cpp's media marker,
    the image chunk encoded by the mmproj, the Q4_1 LM decoding."""
    letters = [probe.lm.piece_ids(c)[0] for c in LETTERS]
    mcq_right = open_right = 0
    examples = {}
    for i, d, options in questions:
        img = render_digit(images8[i])
        text = CHATML_USER[0] + mcq_prompt(options).replace(IMAGE_MARKER, probe.marker) + CHATML_USER[1]
        k = int(np.argmax(probe.logits(text, img)[letters]))
        mcq_right += options[k] == d
        text = CHATML_USER[0] + open_prompt().replace(IMAGE_MARKER, probe.marker) + CHATML_USER[1]
        answer = probe.greedy(probe.logits(text, img), 3)
        open_right += answer.strip() == str(d)
        if len(examples) < 5:
            examples[f"{i} (digit {d})"] = {"options": options, "mcq_letter": LETTERS[k], "open_text": answer}
    out = summary("libmtmd", mcq_right, open_right, len(questions), log)
    out["examples"] = examples
    return out


def summary(where, mcq_right, open_right, n, log) -> dict:
    log(f"held out via {where} ({n} images): multiple choice {mcq_right}/{n} = {mcq_right / n:.3f} (chance 0.25); "
        f"open {open_right}/{n} = {open_right / n:.3f} (chance 0.10)")
    return {"images": n, "mcq_accuracy": round(mcq_right / n, 4), "open_accuracy": round(open_right / n, 4),
            "mcq_chance": 0.25, "open_chance": 0.1, "verdict": verdict(int(mcq_right), int(open_right), n)}


# -- main ---------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tower-epochs", type=int, default=80)
    ap.add_argument("--tower-lr", type=float, default=2e-3)
    ap.add_argument("--shift-share", type=float, default=0.3, help="share of tower batches' images shifted")
    ap.add_argument("--tower-only", action="store_true", help="train and evaluate the tower, then stop")
    ap.add_argument("--stage-a-steps", type=int, default=400)
    ap.add_argument("--steps", type=int, default=80, help="stage B steps (projector through the LM)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--open-share", type=float, default=0.5, help="share of stage-B batches of open questions")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-limit", type=int, default=0, help="evaluate the first N held-out images (0: all 360)")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--out", type=Path, default=V.parts_dir())
    args = ap.parse_args()

    import torch
    from safetensors.torch import save_file
    from sklearn.datasets import load_digits

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    log = lambda msg: print(msg, flush=True)
    started = time.perf_counter()
    cfg = V.DigitsClipConfig()

    digits = load_digits()
    train_idx = [i for i in range(len(digits.target)) if not is_eval_index(i)]
    eval_idx = [i for i in range(len(digits.target)) if is_eval_index(i)]
    labels = digits.target.astype(np.int64)
    eval_px = pixels(digits.images[eval_idx], cfg)

    tower, tower_card = train_tower(cfg, digits.images[train_idx], labels[train_idx], eval_px, labels[eval_idx],
                                    args, log)
    if args.tower_only:
        return
    with torch.no_grad():
        feats = torch.cat([V.image_features(tower, torch.from_numpy(pixels(digits.images[train_idx[s:s + 128]], cfg)))
                           for s in range(0, len(train_idx), 128)])

    lm_spec, gguf = resolve_lm(LM, fetch=False)
    tokenize = llama_tokenizer(gguf)
    lm = load_lm(gguf)
    end_id = tokenize(CHATML_USER[1].split("\n")[0], False)[0]  # <|im_end|>
    digit_ids = [tokenize(str(d), False)[0] for d in range(10)]
    digit_embeddings = lm.get_input_embeddings().weight[digit_ids].detach()

    torch.manual_seed(args.seed)
    proj = V.projector(cfg)
    t = time.perf_counter()
    cos = stage_a(proj, feats, labels[train_idx], digit_embeddings, args.stage_a_steps, args.seed)
    log(f"stage A: cosine to the digit's token embedding {cos:.3f} ({time.perf_counter() - t:.0f}s)")
    t = time.perf_counter()
    history = stage_b(proj, lm, feats, labels[train_idx], tokenize, end_id, cfg.tokens, args, log) if args.steps else []
    stage_b_s = time.perf_counter() - t

    # ship: float16 weights, the same in both formats
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in V.llava_state(tower, proj).items()}
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / FILES["hf_vision"]), metadata={"format": "pt", "model": "digits-clip"})
    (out / FILES["hf_config"]).write_text(json.dumps({**cfg.to_json(), "vision_tower": "SiglipVisionModel",
                                                     "projector": "LLaVA-1.5 multi_modal_projector, GELU (tanh)",
                                                     "feature_layer": -1, "feature_select": "full (no class token)"},
                                                    indent=2) + "\n", encoding="utf-8")
    V.write_mmproj(out / FILES["mmproj"], state, cfg, NAME,
                   "toy VLM: answers which handwritten digit an 8x8 scikit-learn digit image shows; nothing else")
    manifest = {"name": NAME, "lm": LM, "mmproj": FILES["mmproj"], "hf_vision": FILES["hf_vision"],
                "hf_config": FILES["hf_config"], "card": FILES["card"], "prefix": CHATML_USER[0],
                "suffix": CHATML_USER[1]}
    (out / FILES["manifest"]).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    # evaluate both formats with the shipped weights
    tower_s, proj_s = V.load_torch_parts(out / FILES["hf_vision"], cfg)
    questions = eval_questions(eval_idx[: args.eval_limit or None], labels, args.seed)
    t = time.perf_counter()
    held_torch = evaluate_torch(lm, tower_s, proj_s, cfg, digits.images, questions, tokenize, end_id, log)
    held_torch["seconds"] = round(time.perf_counter() - t)
    probe = MtmdProbe(out / FILES["mmproj"], Path(gguf), threads=args.threads)
    t = time.perf_counter()
    held_mtmd = evaluate_mtmd(probe, digits.images, questions, log)
    held_mtmd["seconds"] = round(time.perf_counter() - t)
    probe.close()

    card = {
        "model": "digits-clip",
        "status": ("above chance on held-out digits (see verdicts)"
                   if "NOT" not in held_mtmd["verdict"] + held_torch["verdict"] else
                   "PARTLY AT CHANCE: see the verdicts (multiple choice needs the 135M LM to match the image to "
                   "an option letter, which it does poorly)"),
        "what_it_is": (
            "A toy vision-language model trained here to test VLM runners end to end on real weights in both "
            "llama.cpp's multimodal format (mmproj GGUF + text GGUF, libmtmd) and transformers' LLaVA format: "
            "a 4-layer SigLIP-architecture ViT (64x64 input, 16 image tokens) trained from scratch on handwritten "
            "digits, LLaVA-1.5's 2-layer MLP projector trained here, and SmolLM2-135M-Instruct (the bundled "
            "Q4_1 GGUF, frozen) as the language model."),
        "can": "answer 'Which digit is shown?' about a scikit-learn-digits-style image (8x8 handwritten digit "
               "rendered 64x64 dark on white), as a letter among given options or as the digit itself",
        "cannot": "anything else: it has seen no other image or question; asked about a photo it will still talk "
                  "about digits or nonsense. It is not a general VLM; its figures say nothing about real VLMs",
        "formats": {
            "mmproj": f"{FILES['mmproj']}: clip.cpp projector type 'mlp' (LLaVA-1.5), f16 matrices, f32 vectors; "
                      "feature layer = the last (clip.vision.feature_layer=[4]), no post-layernorm, no class token",
            "hf_vision": f"{FILES['hf_vision']}: the same f16 weights under LlavaForConditionalGeneration names "
                         "(vision_tower.vision_model.*, multi_modal_projector.linear_1/2.*); config in "
                         f"{FILES['hf_config']}; mobeval.vlm.models.llava.hf_llava_folder() builds the full folder",
            "image_tokens": cfg.tokens, "media_marker": "<__media__> (libmtmd default); <image> in the HF folder",
            "preprocessing": "RGB, resized to 64x64 only if not already (bicubic), /255, (x-0.5)/0.5",
            "chat_turn": {"prefix": CHATML_USER[0], "suffix": CHATML_USER[1], "system_turn": "none"},
        },
        "data": {
            "dataset": "scikit-learn load_digits (UCI Optical Recognition of Handwritten Digits, test part), BSD-3",
            "train": f"dataset indices i % 5 != 0: {len(train_idx)} images (tower, projector)",
            "held_out": f"dataset indices i % 5 == 0 ({len(eval_idx)} images): never trained on",
            "rendering": "mobeval.vlm.benchmarks.digits.render_digit (64x64, dark ink on white)",
            "questions": {"multiple_choice": mcq_prompt([3, 7, 1, 0]), "open": open_prompt()},
        },
        "training": {
            "tower": tower_card,
            "stage_a": {"what": "each image token regressed onto the LM's input embedding of the digit's token "
                                "(cosine + 0.1 x squared norm difference), no LM gradient",
                        "steps": args.stage_a_steps, "batch": 64, "lr": 1e-3, "final_cosine": round(cos, 4)},
            "stage_b": {"what": "LLaVA stage 1: projector only, tower and LM frozen (LM dequantized from the Q4_1 "
                                "GGUF by transformers), cross-entropy of the answer token + 0.25 x that of <|im_end|>",
                        "steps": args.steps, "batch": args.batch, "lr": args.lr, "schedule": "10-step warmup, cosine",
                        "open_share": args.open_share, "seconds": round(stage_b_s),
                        "last_20_steps_loss_answer": round(float(np.mean([h["loss_answer"] for h in history[-20:]])), 4)
                        if history else None},
            "seed": args.seed,
            "shipped_dtype": "float16 (both formats hold the same rounded values)",
        },
        "held_out_accuracy": {"torch": held_torch, "libmtmd": held_mtmd,
                              "note": "torch: the shipped f16 weights in float32 with the LM dequantized from Q4_1; "
                                      "libmtmd: the mmproj + the Q4_1 GGUF in llama.cpp; same questions and options"},
        "command": "python " + " ".join(sys.argv),
        "machine": {"cpu": cpu_model(), "threads": args.threads, "python": platform.python_version()},
        "versions": {p: version(p) for p in ("torch", "transformers", "gguf", "safetensors", "llama_cpp_python",
                                             "scikit-learn")},
        "lm_sha256": lm_spec.sha256,
        "total_seconds": round(time.perf_counter() - started),
    }
    (out / FILES["card"]).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {', '.join(FILES.values())} in {out} ({card['total_seconds']}s in all)")


if __name__ == "__main__":
    main()
