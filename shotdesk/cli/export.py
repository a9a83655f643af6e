"""``shotdesk export``: hand a selection of captures to someone else.

    shotdesk export (--ids 1,2 | --query Q | --tag T | --all) --to folder|zip|html|sheet PATH
                    [--template "{domain}_{width}x{height}_{date}.{ext}"] [--title TEXT]

* ``folder``: the files, named by the template (default: the Settings' file-name template);
  existing files are never overwritten (``name-2.png``).
* ``zip``: the same files plus ``manifest.json`` in one zip.
* ``html``: a self-contained contact sheet, ``PATH/index.html`` with thumbnails linking to the
  full pictures and each capture's metadata.
* ``sheet``: a responsive sheet — the selected captures (typically one URL on several devices)
  side by side as one labelled image (PATH ends in .png, .jpg or .webp).

Exit status: 0 exported, 2 invalid input, 3 nothing could be exported (e.g. files missing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shotdesk.cli.refresh import parse_ids
from shotdesk.core import export
from shotdesk.core.errors import InvalidSpec, StorageError
from shotdesk.core.library import Capture, Library

KINDS = ("folder", "zip", "html", "sheet")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="export captures to a folder, a zip, an HTML contact sheet or a "
                       "responsive sheet", description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--ids", metavar="1,2,3", help="these captures")
    which.add_argument("--query", "-q", metavar="Q", help="captures matching this search (URL, title, note)")
    which.add_argument("--tag", metavar="TAG", help="captures with this tag")
    which.add_argument("--all", action="store_true", help="every capture in the gallery")
    p.add_argument("--to", nargs=2, metavar=("KIND", "PATH"), required=True,
                   help="KIND is folder, zip, html or sheet; PATH the folder or file to write")
    p.add_argument("--template", metavar="T",
                   help="file-name template; tokens: " + " ".join("{" + t + "}" for t in export.TOKENS))
    p.add_argument("--title", help="title of the HTML contact sheet or the responsive sheet")
    p.set_defaults(func=run)


def _selection(library: Library, args: argparse.Namespace) -> list[Capture]:
    if args.ids:
        ids = parse_ids(args.ids)
        found = library.get_many(ids)
        unknown = sorted(set(ids) - {c.id for c in found})
        if unknown:
            raise InvalidSpec("ids", f"No capture #{', #'.join(map(str, unknown))} in the gallery",
                              hint="see `shotdesk gallery list` for the numbers")
        return found
    if args.query:
        return library.get_many(library.ids(query=args.query))
    if args.tag:
        return library.get_many(library.ids(tag=args.tag))
    return library.get_many(library.ids())


def _default_template() -> str:
    try:
        from shotdesk.core.settings import load_settings

        return load_settings().filename_template or export.DEFAULT_TEMPLATE
    except Exception:  # settings are a convenience here; a broken file must not block an export
        return export.DEFAULT_TEMPLATE


def run(args: argparse.Namespace) -> int:
    kind, target = args.to[0].lower(), args.to[1]
    if kind not in KINDS:
        raise InvalidSpec("to", f"--to must be one of {', '.join(KINDS)}, got {args.to[0]!r}")
    template = export.check_template(args.template) if args.template else _default_template()
    path = Path(target).expanduser()
    library = Library()
    try:
        captures = _selection(library, args)
        if not captures:
            print("shotdesk: Nothing to export: no capture matches the selection — see "
                  "`shotdesk gallery list` for what the gallery holds", file=sys.stderr)
            return 3
        if kind == "sheet":
            out = export.responsive_sheet(captures, path, title=args.title)
            library.touch(c.id for c in captures)
            print(f"Wrote a responsive sheet of {len(captures)} captures: {out}")
            return 0
        if kind == "folder":
            report = export.export_folder(captures, path, template=template)
        elif kind == "zip":
            report = export.export_zip(captures, path, template=template)
        else:
            report = export.export_html(captures, path, template=template,
                                        title=args.title or "ShotDesk contact sheet")
        library.touch(report.files)
    finally:
        library.close()
    for capture_id, reason in report.skipped:
        print(f"skipped #{capture_id}: {reason}", file=sys.stderr)
    if not report.files:
        raise StorageError("Nothing was exported: none of the selected captures has a file",
                           hint="re-capture the missing ones (shotdesk refresh --ids …) and export again")
    print(f"Exported {report.count} capture{'s' if report.count != 1 else ''} to {report.target}")
    return 0
