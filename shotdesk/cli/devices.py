"""``shotdesk devices``: the device presets with their output sizes."""

from __future__ import annotations

import argparse
import json

from shotdesk.core.devices import devices


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("devices", help="list device presets for --device")
    p.add_argument("--json", action="store_true", help="print the presets as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    presets = devices()
    if args.json:
        print(json.dumps([
            {"name": d.name, "kind": d.kind, "width": d.width, "height": d.height, "scale": d.scale,
             "output_width": d.output_size[0], "output_height": d.output_size[1]}
            for d in presets], indent=2))
        return 0
    width = max(len(d.name) for d in presets)
    for d in presets:
        ow, oh = d.output_size
        print(f"{d.name:<{width}}  {d.kind:<7}  {d.width}×{d.height} @{d.scale:g}×  → {ow}×{oh} px")
    return 0
