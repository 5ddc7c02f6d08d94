"""How well the training export's redaction removes personal details, on the generated corpus.

Prints, for the redactor and for a baseline measured in the same run (removing only the call's
own values, exactly as the lead has them: what a plain search-and-replace would do):
recall (planted details removed whole, and their words), false redaction (ordinary words
removed), the details missed, and the speed in utterances per second.

    .venv/bin/python bench/redaction.py [--show 20]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from receptionist.privacy.redaction import redactor_for_call  # noqa: E402
from tests.support.redaction_corpus import load, score  # noqa: E402


def redactor_spans(record: dict) -> list[tuple[int, int]]:
    redactor = redactor_for_call(record["from_number"], record["lead"], "Acme Plumbing",
                                 {"service_areas": ["Springfield", "Shelbyville"]})
    return [(s.start, s.end) for s in redactor.spans(record["text"])]


def known_values_only(record: dict) -> list[tuple[int, int]]:
    values = [v for v in (record["lead"].get("name"), record["lead"].get("callback_number"),
                          record["lead"].get("address"), record["from_number"]) if v]
    values += (record["lead"].get("name") or "").split()
    spans = []
    for value in values:
        spans += [(m.start(), m.end()) for m in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", record["text"], re.I)]
    return spans


def measure(records, spans_of):
    started = time.perf_counter()
    result = score(records, spans_of)
    return result, len(records) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=10, help="how many misses and over-redactions to print")
    args = parser.parse_args()
    records = load()
    planted = sum(len(r["pii"]) for r in records)
    print(f"corpus: {len(records)} utterances, {planted} planted details, "
          f"{sum(1 for r in records if not r['pii'])} with none")
    results = {}
    for name, spans_of in (("baseline: the lead's values only", known_values_only), ("redactor", redactor_spans)):
        result, rate = measure(records, spans_of)
        results[name] = result
        print(f"{name:34s} recall {result.recall:7.2%} (words {result.word_recall:7.2%})   "
              f"false redaction {result.false_redaction:6.2%} "
              f"({result.ordinary_words_redacted}/{result.ordinary_words} ordinary words)   {rate:8.0f} utterances/s")
    ours, base = results["redactor"], results["baseline: the lead's values only"]
    print(f"ratio: the redactor misses {1 - ours.recall:.2%} of details, the baseline {1 - base.recall:.2%} "
          f"({(1 - base.recall) / max(1 - ours.recall, 1e-9):.0f}x fewer misses)")
    for record_id, value, text in ours.missed[:args.show]:
        print(f"  missed {record_id}: {value!r} in {text!r}")
    for record_id, word, text in ours.over[:args.show]:
        print(f"  over   {record_id}: {word!r} in {text!r}")


if __name__ == "__main__":
    main()
