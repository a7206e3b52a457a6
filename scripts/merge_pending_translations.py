"""Fill translations/zh/LC_MESSAGES/messages.po from translations/pending/*.po (or the pending
files named as arguments), then delete them.

Parallel work writes new translations to its own pending file (docs/CONVENTIONS.md) so nobody
edits the shared catalogue at the same time. Run after ``scripts/i18n.sh`` has added the new
msgids; then run ``scripts/i18n.sh`` again to compile and list what is still untranslated.
A pending entry never overwrites an existing translation.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
PENDING = ROOT / "translations" / "pending"


def main() -> int:
    with PO.open("rb") as fh:
        catalog = read_po(fh)
    filled, unused = 0, []
    files = [Path(a) for a in sys.argv[1:]] or sorted(PENDING.glob("*.po"))
    for path in files:
        with path.open("rb") as fh:
            pending = read_po(fh)
        for msg in pending:
            if not msg.id or not msg.string:
                continue
            target = catalog.get(msg.id, msg.context)
            if target is None:
                unused.append((path.name, msg.id))
            elif not target.string or target.fuzzy:
                target.string = msg.string
                target.flags.discard("fuzzy")
                target.previous_id = ()
                filled += 1
    with PO.open("wb") as fh:
        write_po(fh, catalog, width=0, include_previous=False)
    for name, msgid in unused:
        print(f"not in the catalogue (stale?) {name}: {msgid!r}")
    print(f"filled {filled} translations from {len(files)} pending files")
    for path in files:
        path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
