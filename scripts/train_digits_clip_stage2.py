"""Stage 2 of `digits-clip` (LLaVA's instruction tuning): the language model tuned too, so the bundled VLM answers.

Stage 1 (scripts/train_digits_clip_vlm.py) trained the vision tower and the projector with SmolLM2-135M frozen;
the frozen 135M model could not match a digit to its option letter even given the digit as text. Here the
projector (from the shipped weights) and a LoRA on every linear of every SmolLM2 layer (q, k, v, o, gate, up,
down) train together on instruction data built from the training digits only (dataset index % 5 != 0):

  - multiple choice: the 4 options shuffled afresh for every example (no letter favoured), answered by letter;
  - open: "Which digit is shown? Answer with the digit only.", answered by the digit;
  - loss: cross-entropy of the answer token + 0.25 x that of <|im_end|> after it, one question form per batch;
  - images: the frozen tower's features of each training image under 9 one-pixel shifts (augmentation);
  - an oracle image: for a share of batches the image slot holds the digit's own token embedding at every
    image position (a perfect projector); the first --oracle-warmup steps are multiple choice with it only,
    so the LM learns to match a digit to its option letter first (straight from stage 1 that stayed at
    chance: loss ln 4 for 350 steps, twice);
  - an anchor: at the end of the warm-up the projector alone is pulled toward the digits' token embeddings
    (--anchor-steps, no LM), then the pull stays as a small loss term (--anchor) in image batches;
  - a validation pool carved from the training pool ((index // 5) % 8 == 1) picks nothing and stops nothing:
    it is logged, with the training loss, as the curve in the card.

The LM trains in float32 weights dequantized from the bundled Q4_1 GGUF (bf16 autocast for speed), the
adapter the runners load is the LoRA alone: llama.cpp applies it to the same Q4_1 weights at load.

Writes, in mobeval/vlm/models/parts/: digits-clip-lora.gguf (the adapter, f16), the projector rewritten in
digits-clip-vision.safetensors and digits-clip-mmproj.gguf (tower unchanged) and written as the hybrid
runner's digits-clip-projector.npz, the manifest's "lora", "encoder" and "projector" entries, and
the card's "stage_2" section (curve, held-out accuracy in torch with the shipped f16 weights, the text control
through llama.cpp with the adapter). Checkpoints every --eval-every steps in --work; --resume continues.

The shipped adapter, in two phases (the card's "commands"; 1,128 s on 2 cores of an AMD EPYC):

    python scripts/train_digits_clip_stage2.py --steps 300 --stop-at 175 --oracle-share 1 --mcq-share 1 \
        --eval-every 25 --val-images 24 --threads 2
    python scripts/train_digits_clip_stage2.py --resume --steps 625 --oracle-warmup 175 --oracle-share 0.25 \
        --mcq-share 0.7 --anchor 0.5 --eval-every 25 --threads 2

Needs torch==2.13.0, transformers, gguf, safetensors, llama-cpp-python==0.3.36, scikit-learn.
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

from mobeval.measure.environment import cpu_model
from mobeval.text.models.registry import resolve as resolve_lm
from mobeval.vlm.benchmarks.digits import is_eval_index
from mobeval.vlm.models import llava as V
from mobeval.vlm.models import lora as L
from mobeval.vlm.models.digits_pixels import pixels, shifted_pixels
from mobeval.vlm.models.stage1 import (
    LETTERS,
    anchor_loss,
    llama_tokenizer,
    load_lm,
    make_example,
    mcq_options,
    mcq_prompt,
    open_prompt,
    text_control,
)
from mobeval.vlm.runners.prompt_layout import CHATML_USER

MANIFEST = "digits-clip.json"
TEXT_CONTROL = "the LM alone in llama.cpp, the digit given as text in place of the image, same options and instruction"
LORA_FILE = "digits-clip-lora.gguf"
PROJECTOR_FILE = "digits-clip-projector.npz"  # the hybrid runner's copy of the projector


def is_val_index(i: int) -> bool:
    """The validation pool: part of the training pool, never trained on here."""
    return not is_eval_index(i) and (i // 5) % 8 == 1


class Batches:
    """Seeded training batches: indices into the (shift, image) feature bank and the question examples."""

    def __init__(self, tokenize, end_id, tokens, labels, n_images, args):
        self.tokenize, self.end_id, self.tokens = tokenize, end_id, tokens
        self.labels, self.n, self.args = labels, n_images, args
        self.rng = random.Random(args.seed)
        self.open = {d: make_example(tokenize, open_prompt(), str(d), end_id, tokens) for d in range(10)}

    def next(self, step: int):
        warm = step < self.args.oracle_warmup  # warm-up: multiple choice with the oracle image only
        oracle = self.rng.random() < (1.0 if warm else self.args.oracle_share)
        is_open = self.rng.random() >= (1.0 if warm else self.args.mcq_share)
        idx = [self.rng.randrange(self.n) for _ in range(self.args.batch)]
        shift = [self.rng.randrange(9) for _ in idx]
        examples = []
        for i in idx:
            d = int(self.labels[i])
            if is_open:
                examples.append(self.open[d])
            else:
                options = mcq_options(d, self.rng)
                examples.append(make_example(self.tokenize, mcq_prompt(options), LETTERS[options.index(d)],
                                             self.end_id, self.tokens))
        return ("oracle-" if oracle else "") + ("open" if is_open else "mcq"), idx, shift, examples


def forward(lm, image, examples, last: int, teacher_forced: bool = False):
    """Logits of the last `last` positions of [pre, image embeddings, post (+ the answer token when
    teacher_forced: then the last two positions predict the answer and the end of turn)] (B, last, vocab)."""
    import torch

    embed = lm.get_input_embeddings()
    post = [e.post + [e.targets[0]] if teacher_forced else e.post for e in examples]
    x = torch.cat([embed(torch.tensor([e.pre for e in examples])), image, embed(torch.tensor(post))], 1)
    return lm.lm_head(lm.model(inputs_embeds=x).last_hidden_state[:, -last:])


def held_out(lm, proj, feats, labels, tokenize, end_id, tokens, seed: int, orderings: int = 4) -> dict:
    """Multiple choice under `orderings` cyclic rotations of each image's seeded options (argmax over the
    letters), and the open answer's first token (argmax over the whole vocabulary) against the digit."""
    import torch

    rng = random.Random(seed)
    letters = [tokenize(c, False)[0] for c in LETTERS]
    digit_ids = [tokenize(str(d), False)[0] for d in range(10)]
    open_ex = make_example(tokenize, open_prompt(), "0", end_id, tokens)
    right = np.zeros((len(labels), orderings), bool)
    open_right = np.zeros(len(labels), bool)
    options = [mcq_options(int(d), rng) for d in labels]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for s in range(0, len(labels), 24):
            sl = slice(s, s + 24)
            image = proj(torch.as_tensor(feats[sl]).float())
            for k in range(orderings):
                opts = [o[k:] + o[:k] for o in options[sl]]
                ex = [make_example(tokenize, mcq_prompt(o), LETTERS[o.index(int(d))], end_id, tokens)
                      for o, d in zip(opts, labels[sl])]
                pick = forward(lm, image, ex, 1)[:, 0, letters].float().argmax(-1).tolist()
                right[sl, k] = [o[p] == int(d) for o, p, d in zip(opts, pick, labels[sl])]
            top = forward(lm, image, [open_ex] * len(image), 1)[:, 0].float().argmax(-1).tolist()
            open_right[sl] = [t == digit_ids[int(d)] for t, d in zip(top, labels[sl])]
    return {"images": len(labels), "orderings": orderings, "mcq_mean_accuracy": round(float(right.mean()), 4),
            "mcq_strict_accuracy": round(float(right.all(1).mean()), 4),
            "mcq_first_ordering_accuracy": round(float(right[:, 0].mean()), 4),
            "open_first_token_accuracy": round(float(open_right.mean()), 4)}


def fit_anchor(proj, feats, labels, digit_emb, steps: int, lr: float, seed: int) -> float:
    """The projector alone on the anchor loss (no LM), batches of 64 over images and shifts: where the image
    tokens enter the mixed phase, so the letter-matching learned on oracle images applies to them at once."""
    import torch

    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(proj.parameters(), lr=lr, weight_decay=0.0)
    cos = torch.tensor(0.0)
    for _ in range(steps):
        idx = torch.randint(0, feats.shape[1], (64,), generator=g)
        shift = torch.randint(0, feats.shape[0], (64,), generator=g)
        image = proj(feats[shift, idx])
        target = digit_emb[labels[idx]]
        loss = anchor_loss(image, target)
        cos = torch.nn.functional.cosine_similarity(image, target[:, None, :], dim=-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(cos)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3, help="LoRA learning rate (peak)")
    ap.add_argument("--proj-lr", type=float, default=5e-4, help="projector learning rate (peak)")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--mcq-share", type=float, default=0.7, help="share of image batches of multiple-choice questions")
    ap.add_argument("--oracle-share", type=float, default=0.3,
                    help="share of batches whose image slot holds the digit's own token embedding (a perfect projector)")
    ap.add_argument("--oracle-warmup", type=int, default=200,
                    help="first steps: multiple choice with the oracle image only (the letter-matching skill first)")
    ap.add_argument("--anchor-steps", type=int, default=2000,
                    help="at the end of the warm-up: projector-only steps on the anchor loss (batch 64, no LM)")
    ap.add_argument("--anchor", type=float, default=0.5, help="weight of the anchor loss (image tokens to the digit's "
                    "token embedding) in image batches")
    ap.add_argument("--fp32", action="store_true", help="train in float32 (default: bfloat16 autocast)")
    ap.add_argument("--layers", type=int, default=0, help="adapt only the last N layers (0: all)")
    ap.add_argument("--targets", default="q,k,v,o,gate,up,down", help="which linears of a layer get a LoRA")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--val-images", type=int, default=96, help="validation images scored at each checkpoint")
    ap.add_argument("--work", type=Path, default=Path(".stage2"), help="checkpoints and the curve")
    ap.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --work")
    ap.add_argument("--stop-at", type=int, default=0, help="stop after this step's checkpoint (a phase; then --resume)")
    ap.add_argument("--out", type=Path, default=V.parts_dir())
    ap.add_argument("--control-only", action="store_true", help="measure the text control again into the card, then stop")
    args = ap.parse_args()
    if args.control_only:
        files = V.load_manifest(str(args.out / MANIFEST))
        gguf = resolve_lm(files.lm_alias, fetch=False)[1]
        card = json.loads(files.card.read_text(encoding="utf-8"))
        card["training"]["stage_2"]["text_control"] = {
            "what": TEXT_CONTROL, "base": text_control(gguf, 160, args.seed + 2, args.threads),
            "with_adapter": text_control(gguf, 160, args.seed + 2, args.threads, lora=files.lora),
            "command": "python " + " ".join(sys.argv)}
        files.card.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        print(card["training"]["stage_2"]["text_control"])
        return

    import torch
    from safetensors.torch import load_file, save_file
    from sklearn.datasets import load_digits

    torch.set_num_threads(args.threads)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    started = time.perf_counter()
    manifest = json.loads((args.out / MANIFEST).read_text(encoding="utf-8"))
    files = V.load_manifest(str(args.out / MANIFEST))
    cfg = files.config
    tower, proj = V.load_torch_parts(files.hf_vision, cfg)
    proj.requires_grad_(True).train()

    digits = load_digits()
    labels_all = digits.target.astype(np.int64)
    train_idx = [i for i in range(len(labels_all)) if not is_eval_index(i) and not is_val_index(i)]
    val_idx = [i for i in range(len(labels_all)) if is_val_index(i)]
    eval_idx = [i for i in range(len(labels_all)) if is_eval_index(i)]
    t = time.perf_counter()
    with torch.no_grad():
        bank = torch.from_numpy(shifted_pixels(digits.images[train_idx], cfg))  # (9, N, 3, H, W)
        feats = torch.stack([torch.cat([V.image_features(tower, bank[s, i:i + 256].float())
                                        for i in range(0, bank.shape[1], 256)]) for s in range(9)])
        val_feats = V.image_features(tower, torch.from_numpy(pixels(digits.images[val_idx], cfg)))
    del bank
    log(f"tower features: {len(train_idx)} training images x 9 shifts, {len(val_idx)} validation "
        f"({time.perf_counter() - t:.0f}s)")

    lm_spec, gguf = resolve_lm(files.lm_alias, fetch=False)
    tokenize = llama_tokenizer(gguf)
    lm = load_lm(gguf)
    end_id = tokenize(CHATML_USER[1].split("\n")[0], False)[0]
    digit_emb = lm.get_input_embeddings().weight[[tokenize(str(d), False)[0] for d in range(10)]].detach()
    lora_params = L.attach(lm, args.rank, args.alpha, args.seed, last=args.layers or None,
                           names=tuple(args.targets.split(",")))
    opt = torch.optim.AdamW([{"params": lora_params, "lr": args.lr, "weight_decay": 0.0},
                             {"params": list(proj.parameters()), "lr": args.proj_lr, "weight_decay": 0.0}])
    warm = 20
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (0.1 + 0.45 * (1 + np.cos(np.pi * min(s, args.steps) / args.steps))))
    batches = Batches(tokenize, end_id, cfg.tokens, labels_all[train_idx], len(train_idx), args)
    args.work.mkdir(parents=True, exist_ok=True)
    ckpt = args.work / "checkpoint.pt"
    curve: list[dict] = []
    step0, seconds0 = 0, 0.0
    if args.resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        for p, v in zip(lora_params, state["lora"]):
            p.data.copy_(v)
        proj.load_state_dict(state["proj"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        batches.rng.setstate(state["rng"])
        step0, curve, seconds0 = state["step"], state["curve"], state["seconds"]
        log(f"resumed at step {step0}")
    anchored = state.get("anchored") if args.resume and ckpt.is_file() else None
    lm.train()
    t0 = time.perf_counter() - seconds0
    window: list[dict] = []
    for step in range(step0, args.steps):
        if step == args.oracle_warmup and args.anchor_steps:
            cos = fit_anchor(proj, feats, torch.from_numpy(labels_all[train_idx]), digit_emb, args.anchor_steps,
                             args.proj_lr, args.seed)
            log(f"step {step}: projector pulled to the digits' token embeddings alone, {args.anchor_steps} steps, "
                f"cosine {cos:.3f}")
            anchored = {"at_step": step, "steps": args.anchor_steps, "final_cosine": round(cos, 4)}
        kind, idx, shift, examples = batches.next(step)
        digits_ = torch.from_numpy(labels_all[train_idx][idx])
        targets = torch.tensor([e.targets for e in examples])
        anchor = torch.tensor(0.0)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not args.fp32):
            if kind.startswith("oracle"):  # the image slot holds the digit's own token embedding, every position
                image = digit_emb[digits_][:, None, :].expand(-1, cfg.tokens, -1)
            else:
                image = proj(feats[shift, idx])
                anchor = anchor_loss(image.float(), digit_emb[digits_])
            logits = forward(lm, image, examples, 2, teacher_forced=True).float()
        loss_answer = torch.nn.functional.cross_entropy(logits[:, 0], targets[:, 0])
        loss = loss_answer + 0.25 * torch.nn.functional.cross_entropy(logits[:, 1], targets[:, 1]) + args.anchor * anchor
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        window.append({"kind": kind, "loss": loss_answer.item(), "anchor": anchor.item(),
                       "acc": float((logits[:, 0].argmax(-1) == targets[:, 0]).float().mean())})
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            val = held_out(lm, proj, val_feats[:args.val_images], labels_all[val_idx][:args.val_images], tokenize, end_id, cfg.tokens, args.seed, 1)
            point = {"step": step + 1, "seconds": round(time.perf_counter() - t0),
                     "train_mcq_loss": _mean(window, "mcq", "loss"), "train_open_loss": _mean(window, "open", "loss"),
                     "train_oracle_mcq_loss": _mean(window, "oracle-mcq", "loss"),
                     "train_anchor": _mean(window, "mcq", "anchor", _mean(window, "open", "anchor")),
                     "train_mcq_batch_accuracy": _mean(window, "mcq", "acc"),
                     "val_mcq_accuracy": val["mcq_mean_accuracy"], "val_open_first_token": val["open_first_token_accuracy"]}
            curve.append(point)
            window = []
            log(json.dumps(point))
            torch.save({"step": step + 1, "lora": [p.detach().clone() for p in lora_params],
                        "proj": proj.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "rng": batches.rng.getstate(), "curve": curve, "anchored": anchored, "seconds": time.perf_counter() - t0}, ckpt)
        if args.stop_at and step + 1 >= args.stop_at:
            log(f"stopped after step {step + 1} (--stop-at): continue with --resume")
            return
    train_s = time.perf_counter() - t0
    lm.eval()
    proj.eval()

    # ship: the projector (f16, as stage 1 shipped it) into both vision files, the adapter as GGUF
    vision = load_file(str(files.hf_vision))
    for k, v in proj.state_dict().items():
        vision[V.PROJECTOR + k] = v.detach().to(torch.float16).contiguous()
    save_file(vision, str(files.hf_vision), metadata={"format": "pt", "model": "digits-clip"})
    V.write_mmproj(files.mmproj, vision, cfg, manifest["name"],
                   "toy VLM: answers which handwritten digit an 8x8 scikit-learn digit image shows; nothing else")
    adapter = L.write_gguf(args.out / LORA_FILE, L.adapter_arrays(lm), args.alpha, lm.config.num_attention_heads,
                           lm.config.num_key_value_heads, "digits-clip LoRA (stage 2) for SmolLM2-135M-Instruct")
    V.write_hybrid_projector(args.out / PROJECTOR_FILE, vision, cfg, files.lm_alias, lm_spec.sha256,
                             manifest["prefix"], manifest["suffix"])
    manifest.update({"encoder": "digits-clip-tower", "projector": PROJECTOR_FILE, "lora": LORA_FILE})
    (args.out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    # held out, with the shipped (f16-rounded) weights: the merged adapter as the transformers runner reads it
    lm_eval = load_lm(gguf)
    L.merge_into(lm_eval, adapter)
    _, proj_s = V.load_torch_parts(files.hf_vision, cfg)
    with torch.no_grad():
        eval_feats = V.image_features(tower, torch.from_numpy(pixels(digits.images[eval_idx], cfg)))
    t = time.perf_counter()
    result = held_out(lm_eval, proj_s, eval_feats, labels_all[eval_idx], tokenize, end_id, cfg.tokens,
                      args.seed + 1)
    result["seconds"] = round(time.perf_counter() - t)
    log(f"held out (torch, shipped weights): {result}")
    control = {"what": TEXT_CONTROL, "base": text_control(gguf, 160, args.seed + 2, args.threads),
               "with_adapter": text_control(gguf, 160, args.seed + 2, args.threads, lora=adapter)}
    log(f"text control: {control}")

    card_path = args.out / files.card.name
    card = json.loads(card_path.read_text(encoding="utf-8"))
    if "stage_1_held_out_accuracy" not in card["training"]:  # stage 1's figures, kept beside its training
        card["training"]["stage_1_held_out_accuracy"] = card.pop("held_out_accuracy", None)
    card["held_out_accuracy"] = {"torch": result, "note": "the shipped weights in torch: the f16 tower and projector in "
                                 "float32, the LM dequantized from Q4_1 with the adapter merged (as the transformers "
                                 "runner loads it); the runners' own figures are in docs/tasks/vlm.md"}
    card["status"] = status(result)
    card["what_it_is"] = card["what_it_is"].replace("(the bundled Q4_1 GGUF, frozen)",
                                                    "(the bundled Q4_1 GGUF) with a LoRA adapter trained here")
    card["formats"]["lora"] = (f"{LORA_FILE}: llama.cpp LoRA adapter GGUF (rank {args.rank}, alpha {args.alpha:g}, f16; "
                               "q/k rows in llama.cpp's RoPE order), loaded with the Q4_1 LM by llama.cpp and merged "
                               "into the LM of the transformers folder")
    card["formats"]["hybrid"] = (f"the tower exported to ONNX from {files.hf_vision.name} at first use (cached) and "
                                 f"{PROJECTOR_FILE} (the same f16 projector), appended to it by the hybrid runner")
    card["training"]["stage_2"] = {
        "what": "LLaVA stage 2: the projector (from stage 1) and a LoRA on every linear of every SmolLM2 layer "
                "(q, k, v, o, gate, up, down) trained together, tower frozen; cross-entropy of the answer token "
                "+ 0.25 x that of <|im_end|>; options shuffled afresh per example; features of 9 one-pixel shifts",
        "train": f"{len(train_idx)} images of the training pool (index % 5 != 0, (index // 5) % 8 != 1)",
        "validation": f"the first {args.val_images} of the {len(val_idx)} images of the training pool with "
                      "(index // 5) % 8 == 1, one ordering: logged only",
        "steps": args.steps, "batch": args.batch, "lora_rank": args.rank, "lora_alpha": args.alpha,
        "lr": args.lr, "projector_lr": args.proj_lr, "mcq_share": args.mcq_share, "oracle_share": args.oracle_share, "oracle_warmup": args.oracle_warmup, "anchor_fit": anchored,
        "anchor": args.anchor,
        "schedule": f"{warm}-step warmup, cosine to 0.1x", "precision": "float32 weights, bfloat16 autocast",
        "seed": args.seed, "seconds": round(train_s), "curve": curve, "adapter": LORA_FILE,
        "held_out_torch": result, "text_control": control,
        "command": "python " + " ".join(sys.argv),
        "machine": {"cpu": cpu_model(), "threads": args.threads, "python": platform.python_version()},
        "versions": {p: version(p) for p in ("torch", "transformers", "gguf", "llama_cpp_python")},
        "lm_sha256": lm_spec.sha256,
        "total_seconds": round(time.perf_counter() - started),
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {LORA_FILE}, {PROJECTOR_FILE}, {files.hf_vision.name}, {files.mmproj.name}, {MANIFEST}, "
        f"{card_path.name}")


def status(result: dict) -> str:
    mean, open_ = result["mcq_mean_accuracy"], result["open_first_token_accuracy"]
    works = mean >= 0.6
    return (f"{'ANSWERS' if works else 'PARTLY WORKING'}: on the 360 held-out digits, multiple choice "
            f"{mean:.1%} mean over 4 orderings of the options ({result['mcq_strict_accuracy']:.1%} right under all "
            f"4; chance 25%), open question {open_:.1%} (first answer token; chance 10%), in torch with the shipped "
            "weights. A handwritten-digits toy, not a general VLM")


def _mean(window: list[dict], kind: str, key: str, default: float | None = None) -> float | None:
    vals = [w[key] for w in window if w["kind"] == kind]
    return round(float(np.mean(vals)), 4) if vals else default


if __name__ == "__main__":
    main()
