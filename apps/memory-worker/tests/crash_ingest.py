"""Helper run as a subprocess: ingest batches forever, print each committed batch's ids."""

from __future__ import annotations

import sys
from pathlib import Path

from tars_memory import HnswMemoryStore, NewMemory, StoreConfig
from tars_memory.testing import HashingEmbedder


def main() -> None:
    path, offset = Path(sys.argv[1]), int(sys.argv[2])
    cfg = StoreConfig(path=path, flush_every=40, flush_interval_s=3600)
    store = HnswMemoryStore(cfg, HashingEmbedder(dim=64))
    batch = 0
    while True:
        items = [NewMemory(f"memory {offset + batch} item {j} zeta{offset + batch}x{j}",
                           site=f"site{j % 3}") for j in range(8)]
        result = store.add(items)
        print(" ".join(map(str, result.ids)), flush=True)
        batch += 1


if __name__ == "__main__":
    main()
