# The course's two commands:  `make lab` (set up, open JupyterLab)  and  `make test`.
# Instructors: `make instructor` (JupyterLab with nbgrader's tools, in autograder/).
# Setup is idempotent: it creates .venv once and re-installs only when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2

# A CPU build of PyTorch locally: on Linux a plain `pip install torch` pulls several GB of
# CUDA packages. The package itself only asks for a range (so Colab keeps its own torch).
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
ifeq ($(shell uname -s),Linux)
TORCH_INSTALL = "$(TORCH_SPEC)" --extra-index-url $(TORCH_INDEX) --retries 1
else
TORCH_INSTALL = "$(TORCH_SPEC)"
endif

# JupyterLab refuses to run as root unless told (containers, CI machines).
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

# Students work on copies: `make lab` copies each lesson from notebooks/ into $(WORK)/ the
# first time it sees it and never overwrites a copy, so `git pull` (which updates
# notebooks/) never touches a student's work. $(WORK)/ ignores itself (a .gitignore of "*").
WORK ?= work
# The students' lab reads .jupyter/ (an extra config path): the course's environment first
# on PATH (kernels and terminals), lesson 00 opens, no nbgrader instructor tools.
LAB_ENV = COURSE_WORK="$(WORK)" JUPYTER_CONFIG_PATH="$(CURDIR)/.jupyter$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))" PATH="$(CURDIR)/$(BIN):$$PATH"

.PHONY: setup lab work instructor test build check-notebooks benchmarks clean-grading

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet $(TORCH_INSTALL)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

lab: $(STAMP) work
	$(LAB_ENV) $(BIN)/jupyter lab $(LAB_FLAGS) --ServerApp.root_dir="$(CURDIR)"

work:
	@mkdir -p "$(WORK)"
	@test -e "$(WORK)/.gitignore" || printf '# your copies of the lessons: never committed\n*\n' > "$(WORK)/.gitignore"
	@for nb in notebooks/*.ipynb; do \
	  name=$${nb##*/}; \
	  if [ ! -e "$(WORK)/$$name" ]; then cp "$$nb" "$(WORK)/$$name" && echo "new lesson: $(WORK)/$$name"; fi; \
	done

# Instructors: JupyterLab in the nbgrader course (autograder/) with nbgrader's tools.
instructor: $(STAMP)
	cd autograder && PATH="$(CURDIR)/$(BIN):$$PATH" "$(CURDIR)/$(BIN)/jupyter" lab $(LAB_FLAGS)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -q

build: $(STAMP)
	$(BIN)/python -m autograder build

check-notebooks: $(STAMP)
	$(BIN)/python -m autograder check

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/notebooks.py
	$(BIN)/python benchmarks/grading.py

clean-grading:
	rm -rf autograder/submitted autograder/autograded autograder/feedback \
	       autograder/.feedback_src autograder/grading_reports autograder/gradebook.db
