"""Fit ToolRAG for the shipped packs and write it where the wheel carries it.

    python scripts/ship_toolrag.py

Run after changing a shipped pack or its examples (a test fails until the shipped fit is
the one the packs would train). The fit depends only on the packs' tools and examples, not
on the backend or on what runs here, so one file serves every machine; a person's own
packs or disabled tools make another catalog, which fits its own model on first use.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    from tinyagent_cli.retrieval.toolrag import ToolRAG, model_key, shipped_model_path
    from tinyagent_cli.settings import Settings
    from tinyagent_cli.tools.spec import load_catalog

    with tempfile.TemporaryDirectory() as home:  # no config, no packs of a person's own
        os.environ["TINYAGENT_HOME"] = home
        settings = Settings.load(backend="macos")
        catalog = load_catalog(settings)
        rag = ToolRAG.train(catalog, settings, progress=lambda message: print(message, file=sys.stderr),
                            key=model_key(catalog))
        target = shipped_model_path()
        rag.save(target)
    print(f"{target}: {target.stat().st_size / 1e6:.1f} MB, {len(rag.examples):,} examples, "
          f"{rag.info['train_seconds']:.1f} s to fit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
