"""Benchmark: what recording head series costs on top of plain greedy generation.

On the bundled default model (SmolLM2-135M-Instruct), for the same prompts and number of new
tokens, times in one run:

- ``plain loop``: our greedy KV-cache loop (:func:`synergy_utils.lm.decoding.greedy_decode`)
  without hooks: the baseline;
- ``hooked loop``: the same loop with the recording hooks on every output projection;
- ``record_head_series``: the whole public call (templating, hooks, result assembly, provenance);
- ``model.generate``: Hugging Face's greedy generation (EOS held back with ``min_new_tokens``);

each batched (``--batch-size``, left padding) and one prompt at a time. Conditions are
interleaved over ``--repeats`` rounds and the median time is reported (the machine is shared,
so single timings are noisy). Prints a Markdown table with ratios to the plain loop and of
batched to one-at-a-time throughput, and checks that all methods produce the same tokens.

Run: ``.venv/bin/python benchmarks/bench_extraction.py [--n-prompts 8] [--max-new-tokens 32]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synergy_utils.lm.architectures import head_layout  # noqa: E402
from synergy_utils.lm.decoding import (  # noqa: E402
    eos_token_ids,
    greedy_decode,
    pad_token_id,
    render_prompt,
)
from synergy_utils.lm.loading import load_model  # noqa: E402
from synergy_utils.lm.recording import _HeadRecorder, record_head_series  # noqa: E402
from synergy_utils.stages.prompts import select_prompts  # noqa: E402


def batches_of(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def make_runners(model, tokenizer, prompts, max_new_tokens: int, batch_size: int):
    """name -> function returning the generated token lists, in prompt order."""
    texts = [text for _, text in prompts]
    ids = [render_prompt(tokenizer, text, "auto") for text in texts]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # as record_head_series does
    eos = eos_token_ids(model, tokenizer)
    pad = pad_token_id(model, tokenizer)
    recorder = _HeadRecorder(model, head_layout(model), "l2")

    def loop(hooked: bool) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for batch in batches_of(order, batch_size):
            if hooked:
                recorder.start(len(batch), max_new_tokens)
                with recorder.attached():
                    result = greedy_decode(
                        model,
                        [ids[i] for i in batch],
                        max_new_tokens,
                        eos_token_ids=eos,
                        pad_token_id=pad,
                        on_step=recorder.set_step,
                    )
            else:
                result = greedy_decode(
                    model,
                    [ids[i] for i in batch],
                    max_new_tokens,
                    eos_token_ids=eos,
                    pad_token_id=pad,
                )
            out.update(zip(batch, result.generated, strict=True))
        return [out[i] for i in range(len(ids))]

    def record() -> list[list[int]]:
        series = record_head_series(
            model, tokenizer, prompts, max_new_tokens, batch_size=batch_size, progress=False
        )
        return [series.generated_ids(i).tolist() for i in range(len(texts))]

    def generate() -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for batch in batches_of(order, batch_size):
            width = max(len(ids[i]) for i in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros_like(input_ids)
            for row, i in enumerate(batch):
                input_ids[row, width - len(ids[i]) :] = torch.tensor(ids[i])
                mask[row, width - len(ids[i]) :] = 1
            with torch.inference_mode():
                generated = model.generate(
                    input_ids=input_ids.to(model.device),
                    attention_mask=mask.to(model.device),
                    max_new_tokens=max_new_tokens,
                    min_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=pad,
                    eos_token_id=eos,
                    top_p=None,
                    top_k=None,
                    temperature=None,
                )
            for row, i in enumerate(batch):
                out[i] = generated[row, width:].tolist()
        return [out[i] for i in range(len(ids))]

    return {
        "plain loop": lambda: loop(False),
        "hooked loop": lambda: loop(True),
        "record_head_series": record,
        "model.generate": generate,
    }


def timed(fn: Callable[[], list[list[int]]]) -> tuple[float, list[list[int]]]:
    start = time.perf_counter()
    tokens = fn()
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-prompts", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default=None, help="load_model name (default: bundled)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, tokenizer = load_model(args.model)
    prompts = select_prompts(args.n_prompts)
    n_tokens = args.n_prompts * args.max_new_tokens
    runners = {
        batch: make_runners(model, tokenizer, prompts, args.max_new_tokens, batch)
        for batch in (args.batch_size, 1)
    }
    # Warm up (allocator, kernels, lazy imports) on a short run.
    make_runners(model, tokenizer, prompts[:2], 4, 2)["hooked loop"]()
    make_runners(model, tokenizer, prompts[:2], 4, 2)["model.generate"]()

    times: dict[tuple[str, int], list[float]] = {}
    tokens: dict[tuple[str, int], list[list[int]]] = {}
    for _ in range(args.repeats):
        for batch, named in runners.items():
            for name, fn in named.items():
                seconds, out = timed(fn)
                times.setdefault((name, batch), []).append(seconds)
                tokens[(name, batch)] = out

    reference = tokens[("plain loop", args.batch_size)]
    same = {key: value == reference for key, value in tokens.items()}
    median = {key: statistics.median(value) for key, value in times.items()}

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\nModel: {model.config.name_or_path}; device {model.device}; "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the end; "
        f"{torch.get_num_threads()} torch threads; {args.n_prompts} prompts x "
        f"{args.max_new_tokens} new tokens = {n_tokens} tokens per condition; median of "
        f"{args.repeats} interleaved rounds.\n"
    )
    print(
        "| method | batch | median s | tokens/s | time / plain loop (same batch) | "
        "batched speed-up | same tokens |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for batch in (args.batch_size, 1):
        for name in runners[batch]:
            seconds = median[(name, batch)]
            ratio = seconds / median[("plain loop", batch)]
            speedup = f"{median[(name, 1)] / seconds:.2f}x" if batch == args.batch_size else "1.00x"
            print(
                f"| {name} | {batch} | {seconds:.2f} | {n_tokens / seconds:.1f} | "
                f"{ratio:.3f} | {speedup} | {'yes' if same[(name, batch)] else 'NO'} |"
            )
    spread = {key: (min(v), max(v)) for key, v in times.items()}
    print(
        "\nMin-max seconds per condition: "
        + "; ".join(
            f"{name} b={batch}: {lo:.2f}-{hi:.2f}" for (name, batch), (lo, hi) in spread.items()
        )
    )


if __name__ == "__main__":
    main()
