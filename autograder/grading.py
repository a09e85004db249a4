"""Grade a class with nbgrader, one module per instructor command.

* :mod:`autograder.collect` -- import submissions (``collect``);
* :mod:`autograder.autograde` -- grade them, each in its own sandbox (``autograde``);
* :mod:`autograder.feedback` -- one offline HTML page per student (``feedback``);
* :mod:`autograder.export` -- the CSV gradebook (``export``);
* :mod:`autograder.results` -- the report they share (:class:`Result`, :class:`Status`);
* :mod:`autograder.sandbox`, :mod:`autograder.worker`, :mod:`autograder.verdicts` -- the
  sandbox, what runs inside it, and where the points are decided.

This module gathers the four commands under one name.
"""

from __future__ import annotations

from autograder.autograde import autograde
from autograder.collect import collect
from autograder.export import export
from autograder.feedback import feedback
from autograder.results import Result, Status

__all__ = ["Result", "Status", "collect", "autograde", "feedback", "export"]
