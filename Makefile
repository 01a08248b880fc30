# The README's two commands: `make demo` (set up + main job on the offline toy) and `make test`.
VENV ?= .venv
SYSTEMS ?= reference,shuffled,musicgen,dyvim

.PHONY: setup demo test perf clean

setup:
	bash scripts/setup.sh $(VENV)

demo: setup
	$(VENV)/bin/bench run --systems $(SYSTEMS) --dataset toy

test: setup
	bash scripts/test_deps.sh || [ -z "$$CI" ]
	$(VENV)/bin/pytest -q

perf: setup
	$(VENV)/bin/bench perf run

clean:
	rm -rf runs data
