"""The boundaries import contracts cannot see: Twilio's vocabulary, client construction, one E.164.

`lint-imports` (run by `make test` before the suite) checks who imports what; these check the
source text for what imports do not show.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PRODUCT = Path(__file__).resolve().parents[2] / "receptionist"
WORKERS = PRODUCT.parent / "workers"

# Twilio's form parameters and error codes: only the telephony package may spell them.
TWILIO_WORDS = re.compile(r"\b(?:CallSid|CallStatus|RecordingSid|RecordingStatus|RecordingUrl|SessionStatus|"
                          r"HandoffData|DialCallStatus|AccountSid|StirVerstat|voicePrompt|callSid|21610|21614)\b")


def product_files(*, outside: str | None = None) -> list[Path]:
    files = sorted(list(PRODUCT.rglob("*.py")) + list(WORKERS.rglob("*.py")))
    return [f for f in files if outside is None or outside not in f.relative_to(PRODUCT.parent).parts]


def test_twilio_vocabulary_stays_in_the_telephony_package():
    leaks = [f"{path.relative_to(PRODUCT.parent)}:{number}: {line.strip()}"
             for path in product_files(outside="telephony")
             for number, line in enumerate(path.read_text().splitlines(), 1) if TWILIO_WORDS.search(line)]
    assert leaks == []


def test_outside_clients_are_constructed_only_by_the_wiring():
    built = re.compile(r"\b(?:TwilioRest|LlmClients|JobQueue\.from_url|ObjectStore\.from_settings)\(")
    places = sorted({str(path.relative_to(PRODUCT.parent)) for path in product_files()
                     if built.search(path.read_text())})
    assert places == ["receptionist/wiring.py"]


def test_the_e164_pattern_is_defined_once():
    pattern = re.compile(r"1-9\]\\d\{6,14\}")
    places = [str(path.relative_to(PRODUCT.parent)) for path in product_files() if pattern.search(path.read_text())]
    assert places == ["receptionist/core/phone.py"]


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=PRODUCT.parent, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
