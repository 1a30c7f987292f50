"""Record the small head-series fixture ``head_series_smollm2.npy`` used by the ΦID tests.

Run once from the repository root (needs the bundled default model, about a minute on a
laptop CPU)::

    python tests/data/make_head_series.py

It writes a (2, 100, 270) float32 array: two prompts, 100 decoding steps, the 270 attention
heads of SmolLM2-135M-Instruct (30 layers x 9 heads, flattened layer-major), each value the
L2 norm of the head's attention output at the newest position (greedy decoding, EOS
suppressed). The tests only read the committed ``.npy`` file; this script is not needed to
run them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PROMPTS = (
    "Correct the grammar of this sentence: 'She go to school every days.'",
    "How would you comfort a friend who has just lost their job?",
)
OUT = Path(__file__).with_name("head_series_smollm2.npy")


def main() -> None:
    from synergy_utils import load_model, record_head_series

    model, tokenizer = load_model(device="cpu")
    series = record_head_series(model, tokenizer, PROMPTS, max_new_tokens=100, progress=False)
    values = np.asarray(series.flat(), dtype=np.float32)  # (P, T, L * H)
    if not np.all(np.isfinite(values)):
        raise RuntimeError("the recorded series contain NaN (early end of generation?)")
    np.save(OUT, values, allow_pickle=False)
    print(f"wrote {OUT} {values.shape} {values.dtype}, {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
