"""``python -m shotdesk``: the same entry point as the ``shotdesk`` command."""

from shotdesk.app import main

raise SystemExit(main())
