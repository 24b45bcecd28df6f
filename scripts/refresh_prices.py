#!/usr/bin/env python3
"""Regenerate data/prices.json from litellm's model price table.

Usage:
    python3 scripts/refresh_prices.py PATH/model_prices_and_context_window_backup.json \
        [--litellm-version X.Y.Z] [--date YYYY-MM-DD] [--out data/prices.json]

Selection rules:
  * only entries with mode == "chat" from the first-party providers in PROVIDERS;
  * the bare model id (provider prefix stripped) must match the vendor's family
    pattern, and must not match EXCLUDE (fine-tunes, audio/search/tts/image
    variants, computer-use, experimental ids);
  * the entry must carry an input and an output price.  For entries that only
    have "tiered_pricing" (some dashscope models) the lowest tier is used.
  * when a bare id occurs several times, the earlier provider in PROVIDERS wins,
    and within one provider the explicitly prefixed key ("deepseek/...") wins.
Prices are converted from USD per token to USD per 1M tokens.
"""

import argparse
import datetime
import glob
import json
import os
import re
import sys

# (litellm_provider, key prefix, OpenTelemetry provider name, bare-id pattern)
PROVIDERS = [
    ("openai", "openai/", "openai", r"^(gpt-|o[1-9]|chatgpt-)"),
    ("anthropic", "anthropic/", "anthropic", r"^claude-"),
    ("gemini", "gemini/", "gcp.gemini", r"^gemini-"),
    ("mistral", "mistral/", "mistral_ai",
     r"^(mistral-|open-mistral|codestral|ministral|magistral|devstral|pixtral)"),
    ("deepseek", "deepseek/", "deepseek", r"^deepseek-"),
    ("dashscope", "dashscope/", "qwen", r"^(qwen|qwq)"),
]

EXCLUDE = re.compile(
    r"^ft:|audio|(^|-)search(-|$)|tts|image|realtime|live|computer-use|gemma|(^|-)exp(-|$)")

# our key -> litellm field (USD per token)
FIELDS = [
    ("input", "input_cost_per_token"),
    ("output", "output_cost_per_token"),
    ("cache_read", "cache_read_input_token_cost"),
    ("cache_write", "cache_creation_input_token_cost"),
    ("reasoning", "output_cost_per_reasoning_token"),
]


def per_million(value):
    """USD/token -> USD/1M tokens, rounded to 6 significant digits."""
    return float("%.6g" % (value * 1_000_000))


def price_fields(entry):
    src = dict(entry)
    tiers = entry.get("tiered_pricing")
    if src.get("input_cost_per_token") is None and tiers:
        lowest = min(tiers, key=lambda t: t.get("range", [0])[0])
        src.update(lowest)
    out = {}
    for ours, theirs in FIELDS:
        value = src.get(theirs)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[ours] = per_million(value)
    # A zero cache-write price means "not billed separately" (DeepSeek), not "free": leaving
    # it out makes cache writes fall back to the input price.
    if out.get("cache_write") == 0.0:
        del out["cache_write"]
    return out


def select(table):
    chosen = {}  # bare id -> (rank, record)
    for rank_p, (litellm_provider, prefix, otel, family) in enumerate(PROVIDERS):
        pattern = re.compile(family)
        for key, entry in table.items():
            if not isinstance(entry, dict):
                continue
            if entry.get("litellm_provider") != litellm_provider:
                continue
            if entry.get("mode") != "chat":
                continue
            prefixed = key.startswith(prefix)
            bare = key[len(prefix):] if prefixed else key
            if "/" in bare or not pattern.search(bare) or EXCLUDE.search(bare):
                continue
            prices = price_fields(entry)
            if "input" not in prices or "output" not in prices:
                continue
            rank = (rank_p, 0 if prefixed else 1)
            if bare in chosen and chosen[bare][0] <= rank:
                continue
            chosen[bare] = (rank, dict(provider=otel, **prices))
    return {bare: chosen[bare][1] for bare in sorted(chosen)}


def guess_version(path):
    """Read the version from a litellm-*.dist-info next to the package dir."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    for meta in glob.glob(os.path.join(root, "litellm-*.dist-info", "METADATA")):
        with open(meta, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
    return None


def render(doc):
    """2-space indented JSON with one line per model."""
    lines = ["{"]
    for key in ("version", "currency", "unit", "source"):
        lines.append("  %s: %s," % (json.dumps(key), json.dumps(doc[key], ensure_ascii=False)))
    lines.append('  "models": {')
    models = doc["models"]
    for i, (name, rec) in enumerate(models.items()):
        sep = "," if i < len(models) - 1 else ""
        lines.append("    %s: %s%s" % (json.dumps(name), json.dumps(rec, ensure_ascii=False), sep))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="litellm model_prices_and_context_window_backup.json")
    ap.add_argument("--litellm-version", help="litellm version the file came from")
    ap.add_argument("--date", default=datetime.datetime.now(datetime.timezone.utc).date().isoformat())
    ap.add_argument("--out", default=os.path.join(here, "..", "data", "prices.json"))
    args = ap.parse_args()

    version = args.litellm_version or guess_version(args.source)
    if not version:
        sys.exit("cannot determine litellm version; pass --litellm-version")

    with open(args.source, encoding="utf-8") as fh:
        table = json.load(fh)

    doc = {
        "version": args.date,
        "currency": "USD",
        "unit": "per_million_tokens",
        "source": "litellm %s %s, transcribed %s"
                  % (version, os.path.basename(args.source), args.date),
        "models": select(table),
    }
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(render(doc))

    counts = {}
    for rec in doc["models"].values():
        counts[rec["provider"]] = counts.get(rec["provider"], 0) + 1
    print("wrote %d models to %s: %s" % (len(doc["models"]), os.path.normpath(args.out),
          ", ".join("%s=%d" % kv for kv in sorted(counts.items()))))


if __name__ == "__main__":
    main()
