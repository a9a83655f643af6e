"""The command-line root: builds the parser from each command module and maps errors to exit codes.

Each command module exposes ``register(subparsers)`` and sets ``func`` on its parser: a callable
taking the parsed namespace and returning an exit status. Exit statuses: 0 success, 2 invalid
input (the message names the option and its allowed range), 3 the capture or operation failed
(the message says what failed and what to try).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from shotdesk import __version__
from shotdesk.core.errors import ShotDeskError

EXIT_OK = 0
EXIT_INVALID = 2
EXIT_FAILED = 3

#: Command modules, in the order ``--help`` lists them. A module missing from an install is
#: skipped (each registers its own sub-commands).
COMMAND_MODULES = (
    "shotdesk.cli.capture",
    "shotdesk.cli.gallery",
    "shotdesk.cli.devices",
    "shotdesk.cli.keys",
    "shotdesk.cli.refresh",
    "shotdesk.cli.export",
    "shotdesk.cli.serve",
)


class _Parser(argparse.ArgumentParser):
    """argparse exits with status 2 on bad input already; keep its message but prefix the program."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"shotdesk: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="shotdesk", description="Capture web pages and keep the pictures. "
                     "Without a command, the window opens.")
    parser.add_argument("--version", action="version", version=f"ShotDesk {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def run_cli(argv: Sequence[str]) -> int:
    parser = build_parser()
    # -v/--verbose is accepted anywhere on the line, not only before the command.
    words = list(argv)
    verbose = any(w in ("-v", "--verbose") for w in words)
    args = parser.parse_args([w for w in words if w not in ("-v", "--verbose")])
    args.verbose = verbose
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_INVALID
    try:
        return func(args)
    except ShotDeskError as exc:
        print(f"shotdesk: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("shotdesk: interrupted", file=sys.stderr)
        return 130


def main() -> int:
    return run_cli(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
