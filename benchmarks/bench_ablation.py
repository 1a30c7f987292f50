"""Benchmark: one cumulative-ablation step, all prompts in one forward pass vs one per prompt.

A step of :func:`synergy_utils.stages.ablation.ablation_curves` zeroes a set of heads and
computes the teacher-forced KL on every prompt's clean greedy continuation. Here: the bundled
default model (SmolLM2-135M-Instruct), 16 prompts x 64 generated tokens, 5 % of the heads
zeroed, timed batched (one forward pass, right padding) against per prompt (16 forward
passes), median of ``--repeats`` runs, and the two results compared.

    .venv/bin/python benchmarks/bench_ablation.py [--n-prompts 16] [--max-new-tokens 64]
        [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from synergy_utils.lm.architectures import head_layout
from synergy_utils.lm.decoding import pad_token_id
from synergy_utils.lm.interventions import ablated
from synergy_utils.lm.loading import load_model
from synergy_utils.lm.teacher_forcing import (
    greedy_continuations,
    next_token_logprobs,
    teacher_forced_batch,
    teacher_forced_kl,
)
from synergy_utils.stages.prompts import select_prompts


def timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model name (default: bundled SmolLM2)")
    parser.add_argument("--n-prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--fraction", type=float, default=0.05, help="share of heads zeroed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    model, tokenizer = load_model(args.model)
    layout = head_layout(model)
    texts = [text for _, text in select_prompts(args.n_prompts)]
    start = time.perf_counter()
    cont = greedy_continuations(model, tokenizer, texts, args.max_new_tokens, batch_size=8)
    t_generate = time.perf_counter() - start
    n_prompt_tokens = sum(len(p) for p in cont.prompt_ids)
    n_tokens = n_prompt_tokens + cont.n_prompts * cont.n_new
    print(
        f"model: {model.config.name_or_path}, {layout.n_layers} x {layout.n_heads} heads, "
        f"threads: {torch.get_num_threads()}"
    )
    print(
        f"{cont.n_prompts} prompts, {n_prompt_tokens} prompt tokens + {cont.n_new} generated "
        f"each = {n_tokens} tokens per step; greedy generation took {t_generate:.1f} s"
    )

    rng = np.random.default_rng(args.seed)
    n_heads = max(1, int(args.fraction * layout.n_total))
    flat = rng.choice(layout.n_total, size=n_heads, replace=False)
    heads = [(int(i) // layout.n_heads, int(i) % layout.n_heads) for i in flat]

    batch = teacher_forced_batch(cont, pad_token_id(model, tokenizer))
    singles = [teacher_forced_batch(cont.subset([i]), 0) for i in range(cont.n_prompts)]
    clean = next_token_logprobs(model, batch)
    clean_singles = [next_token_logprobs(model, b) for b in singles]

    def batched():
        with ablated(model, heads):
            return teacher_forced_kl(model, batch, clean)["kl_clean_ablated"]

    def per_prompt():
        with ablated(model, heads):
            return torch.cat(
                [
                    teacher_forced_kl(model, b, c)["kl_clean_ablated"]
                    for b, c in zip(singles, clean_singles, strict=True)
                ]
            )

    t_per, kl_per = timed(per_prompt, args.repeats)
    t_batch, kl_batch = timed(batched, args.repeats)
    gap = float((kl_batch - kl_per).abs().max())
    print(f"one ablation step ({n_heads} heads zeroed), median of {args.repeats}:")
    print(
        f"  per prompt ({cont.n_prompts} forward passes): {t_per:7.2f} s  "
        f"({n_tokens / t_per:6.0f} tokens/s)"
    )
    print(
        f"  batched    (1 forward pass, padded to {batch.input_ids.shape[1]}): {t_batch:7.2f} s"
        f"  ({n_tokens / t_batch:6.0f} tokens/s)"
    )
    print(f"  speed-up batched vs per prompt: {t_per / t_batch:.2f}x")
    print(
        f"  mean KL(clean||ablated) {float(kl_batch.mean()):.4f} nats/token; max |batched - "
        f"per prompt| = {gap:.2e}"
    )


if __name__ == "__main__":
    main()
