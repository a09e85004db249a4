"""Command line for maintainers and instructors: ``python -m autograder COMMAND``."""

from autograder.cli import main

raise SystemExit(main())
