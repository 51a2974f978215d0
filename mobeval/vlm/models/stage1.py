"""LLaVA stage-1 training of a projector through a frozen language model, for the toy digits VLMs
(scripts/train_digits_vlm.py: digits-vlm; scripts/train_digits_clip_vlm.py: digits-clip).

The bundled vlm-digits set's two questions (multiple choice with 4 shuffled options answered by the letter;
open, answered by the digit) laid out as the runners lay them out (`prompt_layout.layout`, the ChatML user
turn), the language model in torch (dequantized from its GGUF by transformers) with llama.cpp's own token
ids, and the two stages:

  A. warm start, no language-model gradient: every image token regressed onto the LM's input embedding of
     the image's digit (cosine + 0.1 x squared norm difference);
  B. the projector trained through the frozen LM on the cross-entropy of the answer token + 0.25 x that of
     the end-of-turn token after it (one question form per batch; 10-step warmup, cosine decay).

Needs torch and transformers (the transformers extra); the scripts say the rest.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np

from mobeval.vlm.benchmarks.digits import OPEN_QUESTION, QUESTION
from mobeval.vlm.runners.base import IMAGE_MARKER
from mobeval.vlm.runners.prompt_layout import CHATML_USER, layout
from mobeval.measure.stats import wilson_interval
from mobeval.vlm.task.prompt import INSTRUCTION

LETTERS = "ABCD"


def mcq_prompt(options: list[int]) -> str:
    lines = [IMAGE_MARKER, QUESTION] + [f"{LETTERS[i]}. {o}" for i, o in enumerate(options)] + [INSTRUCTION]
    return "\n".join(lines)


def open_prompt() -> str:
    return f"{IMAGE_MARKER}\n{OPEN_QUESTION}"


def mcq_options(digit: int, rng: random.Random) -> list[int]:
    options = rng.sample([d for d in range(10) if d != digit], 3) + [digit]
    rng.shuffle(options)
    return options


def load_lm(gguf: Path):
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                              dtype="float32")
    model.eval().requires_grad_(False)
    return model


def llama_tokenizer(gguf: Path):
    """llama.cpp's own tokenizer of the GGUF (vocab only): the ids the runner will feed."""
    import llama_cpp

    llm = llama_cpp.Llama(str(gguf), vocab_only=True, verbose=False)
    return lambda text, first: llm.tokenize(text.encode("utf-8"), add_bos=first, special=True)


class Example:
    """One question's token runs around the image slot, and its two target ids (answer, end of turn)."""

    def __init__(self, runs, targets: tuple[int, int]):
        self.pre = runs[0]
        self.post = runs[2]
        self.targets = targets
        if not (isinstance(runs[0], list) and runs[1] == 0 and isinstance(runs[2], list) and len(runs) == 3):
            raise ValueError(f"unexpected prompt layout {runs}")


def make_example(tokenize, prompt: str, answer: str, end_id: int, tokens_each: int) -> Example:
    lay = layout(prompt, 1, tokenize, tokens_each)
    answer_ids = tokenize(answer, False)
    if len(answer_ids) != 1:
        raise ValueError(f"answer {answer!r} is {len(answer_ids)} tokens")
    return Example(lay.runs, (answer_ids[0], end_id))


def anchor_loss(image, target):
    """Stage A's loss: every image token (B, tokens, n_embd) pulled toward its digit's token embedding (B, n_embd):
    cosine for the direction, a small squared-norm term for the length."""
    import torch

    cos = torch.nn.functional.cosine_similarity(image, target[:, None, :], dim=-1).mean()
    return (1 - cos) + 0.1 * ((image.norm(dim=-1) - target[:, None, :].norm(dim=-1)) ** 2).mean()


def last_logits(llm) -> np.ndarray:
    """The logits after the last evaluated token, read from llama.cpp's context: with logits_all off,
    llama-cpp-python 0.3.36 leaves `Llama.scores` zero (an argmax over it always picks the first candidate)."""
    import llama_cpp

    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),)).copy()


def text_control(gguf: Path, n: int, seed: int, threads: int | None, lora: Path | None = None) -> dict:
    """The language model alone in llama.cpp (with a LoRA adapter when given) on the multiple-choice question
    with the digit given as TEXT in place of the image (same chat turn, options and instruction): how well it
    matches a digit to its option letter at all."""
    from mobeval.text.runners.llamacpp_params import open_guarded

    llm = open_guarded(str(gguf), n_threads=threads or 1, n_ctx=512, **({"lora_path": str(lora)} if lora else {}))
    letter_ids = [llm.tokenize(letter.encode(), add_bos=False, special=False)[0] for letter in LETTERS]
    rng = random.Random(seed)
    right = 0
    for _ in range(n):
        d = rng.randrange(10)
        options = mcq_options(d, rng)
        prompt = mcq_prompt(options).replace(IMAGE_MARKER, str(d))
        llm.reset()
        llm.eval(llm.tokenize((CHATML_USER[0] + prompt + CHATML_USER[1]).encode(), add_bos=False, special=True))
        right += options[int(np.argmax(last_logits(llm)[letter_ids]))] == d
    llm.close()
    return {"questions": n, "mcq_accuracy": round(right / n, 4), "mcq_chance": 0.25}


def stage_a(proj, feats, labels, digit_embeddings, steps: int, seed: int) -> float:
    """Regress each image token onto the embedding of its digit's token; returns the final cosine."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(feats)
    target = digit_embeddings[torch.from_numpy(labels)]  # (N, n_embd)
    opt = torch.optim.AdamW(proj.parameters(), lr=1e-3, weight_decay=0.0)
    cos = torch.tensor(0.0)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        out = proj(x[idx])  # (B, tokens, n_embd)
        loss = anchor_loss(out, target[idx])
        cos = torch.nn.functional.cosine_similarity(out, target[idx, None, :], dim=-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(cos)


def stage_b(proj, lm, feats, labels, tokenize, end_id, tokens_each, args, log) -> list[dict]:
    """The projector trained through the frozen LM on the answer's next-token loss."""
    import torch

    rng = random.Random(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    embed = lm.get_input_embeddings()
    open_ex = {d: make_example(tokenize, open_prompt(), str(d), end_id, tokens_each) for d in range(10)}
    opt = torch.optim.AdamW(proj.parameters(), lr=args.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 10) * 0.5 * (1 + np.cos(np.pi * min(s, args.steps) / args.steps)))
    history = []
    t0 = time.perf_counter()
    for step in range(args.steps):
        idx = torch.randint(0, len(feats), (args.batch,), generator=g).tolist()
        is_open = rng.random() < args.open_share  # a batch is all one question type: equal lengths, no padding
        examples = []
        for i in idx:
            d = int(labels[i])
            if is_open:
                examples.append(open_ex[d])
            else:
                options = mcq_options(d, rng)
                examples.append(make_example(tokenize, mcq_prompt(options), LETTERS[options.index(d)], end_id,
                                             tokens_each))
        pre = torch.tensor([e.pre for e in examples])
        post = torch.tensor([e.post + [e.targets[0]] for e in examples])  # teacher-forced answer
        targets = torch.tensor([e.targets for e in examples])
        image = proj(torch.as_tensor(feats[idx]))
        inputs = torch.cat([embed(pre), image, embed(post)], dim=1)
        hidden = lm.model(inputs_embeds=inputs).last_hidden_state[:, -2:]
        logits = lm.lm_head(hidden)  # (B, 2, vocab): the answer, then the end of turn
        loss_answer = torch.nn.functional.cross_entropy(logits[:, 0], targets[:, 0])
        loss_end = torch.nn.functional.cross_entropy(logits[:, 1], targets[:, 1])
        loss = loss_answer + 0.25 * loss_end
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        acc = float((logits[:, 0].argmax(-1) == targets[:, 0]).float().mean())
        history.append({"step": step + 1, "type": "open" if is_open else "mcq", "loss_answer": round(float(loss_answer), 4),
                        "loss_end": round(float(loss_end), 4), "batch_accuracy": acc})
        if (step + 1) % args.log_every == 0 or step == 0:
            recent = history[-args.log_every:]
            log(f"step {step + 1}/{args.steps} {time.perf_counter() - t0:.0f}s loss_answer "
                f"{np.mean([h['loss_answer'] for h in recent]):.3f} batch acc "
                f"{np.mean([h['batch_accuracy'] for h in recent]):.2f}")
    return history


def verdict(mcq_right: int, open_right: int, n: int) -> str:
    """Above chance only where the 95% Wilson interval's lower bound clears it."""
    parts = []
    for name, right, chance in (("multiple choice", mcq_right, 0.25), ("open", open_right, 0.1)):
        low = wilson_interval(right, n)[0]
        parts.append(f"{name}: {'above' if low > chance else 'NOT above'} chance (95% lower bound {low:.2f} vs {chance})")
    return "; ".join(parts)
