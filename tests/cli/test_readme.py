"""The README's first-account walk-through, pasted into a shell in the directory of a `.env`, works
against a served app (the README promises it)."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import textwrap
from pathlib import Path

import httpx

from receptionist.core.models import Account
from sandbox.ports import free_port
from sandbox.served_app import ServedApp
from tests.support.service import clean, own_numbers

README = Path(__file__).resolve().parents[2] / "README.md"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def first_account_block() -> str:
    text = README.read_text()
    start = text.index("3. **Create the business's account**")
    block = re.search(r"```sh\n(.*?)```", text[start:], re.S)
    assert block, "the README's step 3 has no sh block"
    return textwrap.dedent(block.group(1))


def test_the_readmes_first_account_walk_through_works_when_pasted(make_settings, pg_database, twilio_api, tmp_path):
    from receptionist.app import create_app

    port = free_port()
    settings = make_settings(pg_database, public_url=f"http://127.0.0.1:{port}", allow_plain_http=True,
                             admin_token=secrets.token_hex(32))
    clean(settings.database_url)
    own_numbers(settings, ["+15550100200"])
    # The operator's .env as .env.example lays it out (the walk-through reads it from the current directory).
    (tmp_path / ".env").write_text(f"# made with openssl rand -hex 32\nRECEPTIONIST_ADMIN_TOKEN={settings.admin_token}\n"
                                   f"RECEPTIONIST_PUBLIC_URL={settings.public_url}\n")
    app = create_app(settings)
    with ServedApp(app, port=port):
        shell = subprocess.run(["bash", "-euo", "pipefail", "-c", first_account_block()], cwd=tmp_path,
                               env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, capture_output=True, text=True,
                               timeout=60)
        assert shell.returncode == 0, shell.stderr + shell.stdout
        account_line, owner_json = shell.stdout.strip().splitlines()[-2:]
        account_id = account_line.removeprefix("account ")
        token = json.loads(owner_json)["token"]
        owner = httpx.get(f"{settings.public_url}/api/accounts/{account_id}", headers={"Authorization": f"Bearer {token}"})
        assert owner.status_code == 200 and owner.json()["name"] == "Rivertown Plumbing"
        with app.state.services.db.session() as session:
            account = session.get(Account, account_id)
            assert set(account.business["hours"]) == set(WEEKDAYS), "the example leaves a weekday unset"
