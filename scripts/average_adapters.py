"""Average trained planner adapters: one adapter whose change to the base is their mean.

    python scripts/average_adapters.py A.gguf B.gguf [C.gguf ...] --out AVERAGE.gguf

The parents must adapt the same base for the same tools and prompt (runs of `tinyagent
train` that differ in seed, steps or data). The average's rank is the sum of theirs, exactly
(see `tinyagent_cli.train.export.average_adapters`); it prints the sha256 that `models.yaml`
names the adapter by. Needs the `train` extra (gguf).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from tinyagent_cli.errors import TinyAgentError
    from tinyagent_cli.llm.files import sha256_file
    from tinyagent_cli.train.export import average_adapters

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("adapters", nargs="+", type=Path, metavar="ADAPTER.gguf")
    parser.add_argument("--out", "-o", type=Path, required=True, metavar="AVERAGE.gguf")
    args = parser.parse_args(argv)
    try:
        out = average_adapters(args.adapters, args.out)
    except TinyAgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB, sha256 {sha256_file(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
