#!/usr/bin/env python3
"""A stand-in for programs (osascript, mdfind, open, kdeconnect-cli) in tests; called through symlinks.

It appends what it received to the JSON-lines file named by FAKEBIN_LOG, one object a
call: {"prog": name, "argv": [...], "stdin": text}. Its answer comes from FAKEBIN_ANSWERS,
a JSON file {"osascript": [answer, ...], ...}: the Nth call of a program gets its Nth
answer (the last one again once they run out); an answer is {"out": text, "err": text,
"rc": int, "sleep": seconds}, each optional. With no answer it prints nothing and exits 0.
"""

import json
import os
import sys
import time
from pathlib import Path

prog = Path(sys.argv[0]).name
# osascript reads its script from stdin; the others get none (reading would block on a tty).
stdin = sys.stdin.buffer.read().decode("utf-8", "surrogateescape") if prog == "osascript" else None

log = Path(os.environ["FAKEBIN_LOG"])
earlier = 0
if log.exists():
    earlier = sum(1 for line in log.read_text(encoding="utf-8").splitlines() if json.loads(line)["prog"] == prog)
with log.open("a", encoding="utf-8") as f:
    f.write(json.dumps({"prog": prog, "argv": sys.argv[1:], "stdin": stdin}) + "\n")

answers_file = os.environ.get("FAKEBIN_ANSWERS")
answers = json.loads(Path(answers_file).read_text(encoding="utf-8")).get(prog, []) if answers_file else []
answer = answers[min(earlier, len(answers) - 1)] if answers else {}
time.sleep(answer.get("sleep", 0))
sys.stdout.write(answer.get("out", ""))
sys.stderr.write(answer.get("err", ""))
sys.exit(answer.get("rc", 0))
