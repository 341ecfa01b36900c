"""The generator's output is pinned: any change to what a seed generates fails here.

The hashes were computed with the generator as it was before it moved out of the linker
package (``linker/synth`` at b60ae0d), so the move and the split into group, tier and
data modules are checked to be byte-for-byte neutral. A deliberate change to the world
updates them (and says so in the changelog: every benchmark figure depends on them).
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from synth import TABLE_NAMES, World, generate_world

pytestmark = pytest.mark.xdist_group("synth")

PINNED = {
    (300, 3): {
        "accounts": "5cd88de089087848c3990be18bd1dc40db10cb63c402d8bb6b66fe90f7c2d0ca",
        "signals": "729df98bbd9faa54fd0466b03789159b84fac224a92d4cbd80414c517b46f072",
        "prompts": "40f5bfa7f3ab0524cfa88f70a574312fd6522a868b74e82aa30a4296539e40c5",
        "ip_info": "7ffc8af4a3037bd3fbfe9f0408c3e34556055e51f573e881211ebb70c89c4a13",
        "labels": "c98b5553baadaeff9ffc098c192a18d638810f2bc7357c105f958944bcc10ad1",
    },
    (2000, 5): {
        "accounts": "f627f75418ea61df7ea7bf45737a6de4c996a4fa16504ad36cfc2bd2a174304d",
        "signals": "a7f00cd6c941340370e762445c11e289f3f8556467a1b7c41373852b141b8fef",
        "prompts": "067eb1d0453497036d0ef3d583f119995e495d7c9ed67e3b4da41edfbb224c71",
        "ip_info": "f774a200a78d28597ea8729aef949fd1e9567eb3786e4a30531a78ca88a35556",
        "labels": "9724deecd14f1c7335a9707e5a3a07dea75524fed39a2dbed09f9781348ab73e",
    },
}


def content_hashes(world: World) -> dict[str, str]:
    """sha256 per table of its column names and values (timestamps as epoch
    milliseconds, missing values as null): independent of file formats and of the
    pandas/pyarrow versions that write them."""
    out = {}
    for name, df in world.tables().items():
        h = hashlib.sha256()
        for col in df.columns:
            s = df[col]
            if isinstance(s.dtype, pd.DatetimeTZDtype):
                ms = s.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ms]")
                values = ms.astype("int64").tolist()
            else:
                values = [None if pd.isna(v) else v for v in s.tolist()]
            h.update(json.dumps([col, values], ensure_ascii=False).encode())
        out[name] = h.hexdigest()
    return out


@pytest.mark.parametrize(("n", "seed"), sorted(PINNED))
def test_world_content_is_pinned(n: int, seed: int) -> None:
    world = generate_world(n, seed)
    assert set(PINNED[(n, seed)]) == set(TABLE_NAMES)
    assert content_hashes(world) == PINNED[(n, seed)]
