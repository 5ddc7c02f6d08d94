"""How often the lead is right, field by field, on the scripted calls of tests/postcall/lead_calls.jsonl.

Prints the accuracy of each field (name, callback number, address, reason, urgency) and of whole
leads for:

- baseline: the extraction as it was before issue 16 (`bench/lead_baseline.py`), measured in the same run;
- extraction: the post-call extraction alone, from the conversation as heard;
- live: what the offline receptionist captured during the call (fields it left empty count as wrong);
- owner's lead: the extraction merged with the live capture, as the owner gets it;
- llm: the LLM summary's lead (with the live capture merged, as the worker does), when an LLM is
  configured (OPENAI_API_KEY, OPENAI_BASE_URL, RECEPTIONIST_LLM_MODEL in the environment or .env).

Each row ends with its ratio to the baseline's whole-lead accuracy. `--show` lists the misses.

    .venv/bin/python bench/leads.py [--show]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.lead_baseline import baseline_lead  # noqa: E402
from receptionist.agent.llm import LlmClients  # noqa: E402
from receptionist.core.templates import Templates  # noqa: E402
from receptionist.postcall.summary import LlmSummarizer  # noqa: E402
from receptionist.settings import Settings  # noqa: E402
from tests.support.lead_calls import (  # noqa: E402
    BUSINESS,
    BUSINESS_NAME,
    FIELDS,
    accuracy,
    extracted,
    load,
    play_live,
    score,
)


def table(rows: dict[str, tuple[dict[str, float], float]], baseline: float) -> None:
    columns = [*FIELDS, "all fields"]
    print(f"{'reading':<14}" + "".join(f"{c:>17}" for c in columns) + f"{'vs baseline':>13}{'ms/call':>9}")
    for name, (figures, ms) in rows.items():
        ratio = f"{figures['all fields'] / baseline:.2f}x" if baseline else "n/a"
        print(f"{name:<14}" + "".join(f"{figures[c]:>16.1%} " for c in columns) + f"{ratio:>13}{ms:>9.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="list every field a reading got wrong")
    args = parser.parse_args()
    calls = load()
    played = {c["id"]: play_live(c) for c in calls}
    readers = {
        "baseline": lambda c: baseline_lead(caller_id=c["caller_id"], conversation=played[c["id"]][1],
                                            service_areas=BUSINESS["service_areas"], services=BUSINESS["services"]),
        "extraction": lambda c: extracted(c, played[c["id"]][1]).model_dump(),
        "live": lambda c: play_live(c)[0],
        "owner's lead": lambda c: extracted(c, played[c["id"]][1], played[c["id"]][0]).model_dump(),
    }
    settings = Settings()
    llm = LlmClients(settings) if settings.llm_configured else None
    if llm is not None:
        summarizer = LlmSummarizer(llm.json_model(), Templates.packaged())
        readers["llm"] = lambda c: summarizer.summarize(
            business_name=BUSINESS_NAME, caller_id=c["caller_id"], conversation=played[c["id"]][1], transcript=None,
            live_lead=played[c["id"]][0]).lead.model_dump()

    rows, misses = {}, []
    for name, read in readers.items():
        started = time.perf_counter()
        results = []
        for call in calls:
            lead = read(call)
            result = score(call["lead"], lead)
            results.append(result)
            misses += [(name, call["id"], f, call["lead"].get(f), lead.get(f)) for f, ok in result.items() if not ok]
        rows[name] = (accuracy(results), (time.perf_counter() - started) * 1000 / len(calls))
    if llm is not None:
        llm.close()

    print(f"{len(calls)} scripted calls ({Path('tests/postcall/lead_calls.jsonl')}); accuracy per field")
    table(rows, rows["baseline"][0]["all fields"])
    if llm is None:
        print("llm: not measured (no LLM configured: set OPENAI_API_KEY or OPENAI_BASE_URL)")
    if args.show:
        for name, call_id, field, expected, got in misses:
            print(f"  {name:<13} {call_id:<18} {field:<16} expected {expected!r}, got {got!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
