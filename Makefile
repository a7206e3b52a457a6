# The two commands of the README: `make run` (fresh machine: SQLite, inline jobs, demo data)
# and `make test` (the whole suite). Everything else here serves those two.
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run install test demo-data worker perf

run: install demo-data
	$(FLASK) run --host $(HOST) --port $(PORT)

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[test]"
	touch $@

demo-data: install
	$(FLASK) setup-db
	# The seed shipped with the code is a reviewed change: write it (kept as catalogue history).
	$(FLASK) catalogue load --confirm
	$(FLASK) demo load

test: install
	$(PY) -m pytest

worker: install
	$(FLASK) worker

perf: install
	$(PY) -m perf.run
