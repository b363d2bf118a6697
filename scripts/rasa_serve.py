"""`rasa run` whose HTTP API is on only behind MIYUN_RASA_TOKEN: `python -m scripts.rasa_serve <rasa run args>`.

Rasa takes its API token only as `--auth-token` on the command line, and every local user can read a
process's command line (`ps`). This wrapper reads the token from the environment (readable only by the
same user), adds `--enable-api --auth-token` inside the process, and runs Rasa's own entry point, so the
token never appears in `/proc/<pid>/cmdline`. Without a token the API stays off: only the REST channel
(`/webhooks/rest/webhook`) and `/` answer.
"""
from __future__ import annotations

import os
import sys


def rasa_argv(args: list[str], token: str) -> list[str]:
    """The argv Rasa's parser sees."""
    if any(a in ("--enable-api", "--auth-token") or a.startswith("--auth-token=") for a in args):
        raise SystemExit("rasa_serve: set MIYUN_RASA_TOKEN instead of passing --enable-api / --auth-token")
    return ["rasa", "run", *args, *(["--enable-api", f"--auth-token={token}"] if token else [])]  # "=": a token may start with "-"


def main() -> None:
    from miyun import settings

    token = settings.load().rasa_token
    os.environ.pop("MIYUN_RASA_TOKEN", None)       # Rasa needs it only in argv; keep it out of its children
    sys.argv = rasa_argv(sys.argv[1:], token)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
