"""The DICOM information model as a tree: patient -> study -> series -> instance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from course_utils.validation import check_int, describe

__all__ = ["format_tree"]

_LEVELS = ("Patient", "Study", "Series", "Instance")
_NOUNS = (("study", "studies"), ("series", "series"), ("instance", "instances"))


def _short(uid: str, width: int) -> str:
    uid = str(uid)
    return uid if len(uid) <= width else "..." + uid[-(width - 3) :]


def format_tree(
    tree: Mapping[str, Any], *, uid_width: int = 30, max_instances: int | None = None
) -> str:
    """Draw a nested ``{patient: {study: {series: [instances]}}}`` mapping as text.

    Parameters
    ----------
    tree : mapping
        Patient ID -> Study Instance UID -> Series Instance UID -> list of SOP Instance
        UIDs (the shape returned by the lesson's ``information_tree``).
    uid_width : int, default 30
        Long UIDs are shortened to their last characters.
    max_instances : int, optional
        Show at most this many instances per series (then "... and N more").

    Returns
    -------
    str
        One line per node, indented with box-drawing characters, with counts.

    Raises
    ------
    TypeError
        If ``tree`` does not have that shape.

    Examples
    --------
    >>> print(format_tree({"P1": {"1.2": {"1.2.3": ["1.2.3.4"]}}}))
    Patient P1  (1 study)
    └── Study 1.2  (1 series)
        └── Series 1.2.3  (1 instance)
            └── Instance 1.2.3.4
    """
    if not isinstance(tree, Mapping):
        raise TypeError(f"tree must be a dict of dicts, got {describe(tree)}")
    if max_instances is not None:
        max_instances = check_int(max_instances, "max_instances", minimum=1)
    lines: list[str] = []

    def walk(node: Any, depth: int, prefix: str) -> None:
        if depth == 3:
            items = list(node) if isinstance(node, (list, tuple)) else None
            if items is None:
                raise TypeError(f"instances must be a list of UIDs, got {describe(node)}")
            shown = items if max_instances is None else items[:max_instances]
            hidden = len(items) - len(shown)
            for k, uid in enumerate(shown):
                last = k == len(shown) - 1 and not hidden
                lines.append(
                    f"{prefix}{'└── ' if last else '├── '}Instance {_short(uid, uid_width)}"
                )
            if hidden:
                lines.append(f"{prefix}└── ... and {hidden} more")
            return
        if not isinstance(node, Mapping):
            raise TypeError(f"level {_LEVELS[depth]} must be a dict, got {describe(node)}")
        keys = list(node)
        for k, key in enumerate(keys):
            child = node[key]
            count = len(child) if hasattr(child, "__len__") else 0
            noun = _NOUNS[depth][0 if count == 1 else 1]
            label = f"{_LEVELS[depth]} {_short(key, uid_width)}  ({count} {noun})"
            if depth == 0:
                lines.append(label)
                walk(child, depth + 1, "")
            else:
                last = k == len(keys) - 1
                lines.append(f"{prefix}{'└── ' if last else '├── '}{label}")
                walk(child, depth + 1, prefix + ("    " if last else "│   "))

    walk(tree, 0, "")
    return "\n".join(lines)
