#!/usr/bin/env bash
# Refresh the translation catalogue: extract -> update (init the first time) -> compile.
#
#   scripts/i18n.sh            # run from anywhere; works on the repository this script is in
#
# Then translate every entry it lists as untranslated or fuzzy in
# translations/zh/LC_MESSAGES/messages.po, run this script again (it recompiles messages.mo),
# and commit messages.pot, messages.po and messages.mo together.
# tests/core/test_translations.py fails while a msgid in the code lacks a translation or the
# .mo is stale. Msgids are English; Chinese (zh) is the default locale, English needs no catalogue.
set -euo pipefail

cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
PYTHON="${PYTHON:-.venv/bin/python}"
PO=translations/zh/LC_MESSAGES/messages.po

# 1. Extract. Only the source directories: never ".", which would scan .venv.
"$PYBABEL" extract -F babel.cfg -k _l -k lazy_gettext -k _lp:1c,2 -k lazy_pgettext:1c,2 \
    --project=qibiao --no-wrap --sort-by-file \
    -o translations/messages.pot app core benchmarks declare ranking supervision templates

# 2. Merge into the Chinese catalogue (create it the first time).
if [ -f "$PO" ]; then
    "$PYBABEL" update -i translations/messages.pot -d translations -D messages -l zh \
        --no-wrap --ignore-obsolete --previous
else
    "$PYBABEL" init -i translations/messages.pot -d translations -D messages -l zh --no-wrap
fi

# 3. Compile translations/zh/LC_MESSAGES/messages.mo (fuzzy entries are left out of it).
"$PYBABEL" compile -d translations -D messages --statistics

# 4. What still needs a translator.
"$PYTHON" - "$PO" <<'PY'
import sys
from babel.messages.pofile import read_po

with open(sys.argv[1], "rb") as fh:
    catalog = read_po(fh)
todo = [
    ("fuzzy" if m.fuzzy else "untranslated", m.id)
    for m in catalog
    if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string]))
]
for state, msgid in todo:
    print(f"{state}: {msgid!r}")
print(f"{len([m for m in catalog if m.id])} msgids, {len(todo)} to translate")
PY
