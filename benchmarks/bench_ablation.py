"""Benchmark: one cumulative-ablation step, plain against the stage's three speed-ups.

A step of :func:`synergy_utils.stages.ablation.ablation_curves` zeroes a set of heads and
computes the teacher-forced KL on every held-out prompt's clean greedy continuation, in one
batched forward pass. Timed here on the bundled default model (SmolLM2-135M-Instruct), in the
same run and against the plain float32 pass as the baseline:

1. ``plain``: the whole padded batch, float32 (the stage before issue 14);
2. ``+prefix``: the chat template's shared system prompt computed once per pass;
3. ``+replay``: also the clean residual stream replayed below the first ablated layer;
4. ``bf16``: all three in bfloat16 (a copy of the model).

Two head sets of 5 % of the heads: a random one (its lowest layer is near the input, so the
replay saves little) and one drawn from the middle third of the layers (the replay skips the
first third). Each variant is run ``--repeats`` times; the median wall time, the process CPU
time (less sensitive to other jobs on a shared machine) and the largest KL difference from the
baseline are printed.

    .venv/bin/python benchmarks/bench_ablation.py [--n-prompts 42] [--max-new-tokens 32]
        [--threads 1] [--repeats 3]

``--stage`` times the claim-4 stage given norm and layer instead
(:func:`synergy_utils.stages.given_norm.given_norm_study`: every head removed alone, then the
core order and its matched random orders over 0-40 % of heads removed, zeroing), once as the
plain fp32 stage (no shared prefix, every pass from the embeddings: "before") and once with the
speed-ups the chapter uses (shared prefix, clean layers replayed below the first ablated one,
bfloat16: "after"), on the same prompts, scores and orders; the synergy coefficient and the
matched ratio of both runs are printed beside the times. The scores are seeded random numbers
(the stage's speed does not depend on their values, only on the layers of the heads removed).

    .venv/bin/python benchmarks/bench_ablation.py --stage [--n-prompts 12] [--single-heads 60]
        [--n-rankings 2] [--n-matched 3] [--max-new-tokens 24]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from synergy_utils.lm.architectures import head_layout
from synergy_utils.lm.decoding import pad_token_id
from synergy_utils.lm.interventions import cast_copy
from synergy_utils.lm.loading import load_model
from synergy_utils.lm.teacher_forcing import (
    clean_pass,
    greedy_continuations,
    kl_under_ablation,
    teacher_forced_batch,
)
from synergy_utils.stages.prompts import select_held_out_prompts


def timed(fn, repeats: int) -> tuple[float, float, object]:
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def head_sets(layout, fraction: float, seed: int) -> dict[str, list[tuple[int, int]]]:
    rng = np.random.default_rng(seed)
    k = max(1, int(fraction * layout.n_total))
    flat = rng.choice(layout.n_total, size=k, replace=False)
    middle = [
        (layer, head)
        for layer in range(layout.n_layers // 3, 2 * layout.n_layers // 3)
        for head in range(layout.n_heads)
    ]
    picked = rng.choice(len(middle), size=min(k, len(middle)), replace=False)
    return {
        "random": [(int(i) // layout.n_heads, int(i) % layout.n_heads) for i in flat],
        "middle third": [middle[int(i)] for i in picked],
    }


def stage_benchmark(model, tokenizer, cont, layout, args) -> None:
    """The given-norm stage, plain fp32 against the chapter's speed-ups (module notes)."""
    from synergy_utils.stages.given_norm import given_norm_study

    rng = np.random.default_rng(args.seed)
    grid = (layout.n_layers, layout.n_heads)
    core = rng.normal(size=(args.n_rankings,) + grid)
    norm, info = rng.lognormal(size=grid), rng.random(grid)
    pad = pad_token_id(model, tokenizer)
    variants = {
        "before: plain fp32": (model, teacher_forced_batch(cont, pad), False),
        "after: prefix+replay bf16": (
            cast_copy(model, "bfloat16"),
            teacher_forced_batch(cont, pad, share_prefix=True),
            True,
        ),
    }
    print(
        f"given-norm stage: {args.n_rankings} rankings x (core + {args.n_matched} matched "
        f"orders), 0-40 % in steps of 10 %; {args.single_heads or layout.n_total} heads alone"
    )
    base = None
    for label, (m, batch, reuse) in variants.items():
        wall, cpu, result = timed(
            lambda m=m, b=batch, r=reuse: given_norm_study(
                m, b, core, norm, info, n_matched=args.n_matched, modes=("zero",),
                n_single_heads=args.single_heads, n_bootstrap=200, seed=args.seed,
                reuse_residual=r,
            ),
            1,
        )  # fmt: skip
        base = base or (wall, cpu)
        print(
            f"  {label:26s} wall {wall:7.1f} s ({base[0] / wall:4.2f}x)  cpu {cpu:7.1f} s "
            f"({base[1] / cpu:4.2f}x)  parts {result.seconds}  coefficient "
            f"{result.coefficient.value:+.3f}  matched ratio {result.contrasts['zero'].ratio:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model name (default: bundled SmolLM2)")
    parser.add_argument("--n-prompts", type=int, default=42)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--fraction", type=float, default=0.05, help="share of heads zeroed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--stage", action="store_true", help="time the given-norm stage")
    parser.add_argument("--single-heads", type=int, default=60, help="--stage: heads alone")
    parser.add_argument("--n-rankings", type=int, default=2, help="--stage: core rankings")
    parser.add_argument("--n-matched", type=int, default=3, help="--stage: matched orders")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    model, tokenizer = load_model(args.model)
    fast = cast_copy(model, "bfloat16")
    layout = head_layout(model)
    texts = [text for _, text in select_held_out_prompts(args.n_prompts)]
    start = time.perf_counter()
    cont = greedy_continuations(model, tokenizer, texts, args.max_new_tokens, len(texts))
    print(
        f"model: {model.config.name_or_path}, {layout.n_layers} x {layout.n_heads} heads, "
        f"threads: {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{cont.n_prompts} held-out prompts x {cont.n_new} generated tokens "
        f"(greedy generation {time.perf_counter() - start:.1f} s)"
    )
    if args.stage:
        stage_benchmark(model, tokenizer, cont, layout, args)
        return
    pad = pad_token_id(model, tokenizer)
    plain = teacher_forced_batch(cont, pad)
    shared = teacher_forced_batch(cont, pad, share_prefix=True)
    print(
        f"token positions per pass: plain {plain.n_tokens}, shared prefix {shared.n_tokens} "
        f"({shared.prefix_length} prefix tokens once)"
    )
    variants = {
        "plain fp32": (model, plain, False),
        "+prefix fp32": (model, shared, False),
        "+replay fp32": (model, shared, True),
        "+replay bf16": (fast, shared, True),
    }
    for name, heads in head_sets(layout, args.fraction, args.seed).items():
        print(f"\nhead set {name!r}: {len(heads)} heads, lowest layer {min(h[0] for h in heads)}")
        base = None
        for label, (m, batch, reuse) in variants.items():
            clean = clean_pass(m, batch, record_layers=reuse)
            wall, cpu, kl = timed(
                lambda m=m, b=batch, c=clean, r=reuse, h=heads: kl_under_ablation(
                    m, b, [h], clean=c, reuse_residual=r
                ),
                args.repeats,
            )
            if base is None:
                base = (wall, cpu, kl)
            gap = float(np.abs(kl - base[2]).max())
            print(
                f"  {label:13s} wall {wall:6.2f} s ({base[0] / wall:4.2f}x)  cpu {cpu:6.2f} s "
                f"({base[1] / cpu:4.2f}x)  mean KL {float(kl[..., 0].mean()):.4f}  "
                f"max |diff| {gap:.1e}"
            )


if __name__ == "__main__":
    main()
