"""The branches' narrative statements, said once: identical or near-identical statements of
several branches become one, naming all of them ("Chi bộ A, B và C: ...").

Two statements are the same when they are equal once case, spaces and punctuation are set
aside; near-identical when, besides, they hold the same figures (digits) and difflib finds
them at least :data:`NEAR` alike: "Kết nạp 2 đảng viên" and "Kết nạp 3 đảng viên" say
different things and stay apart. Each group keeps the words of its first branch, in the order
the branches come (the configuration's).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

NEAR = 0.9  # difflib ratio from which two statements with the same figures are one
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The statement as compared: NFC, case-folded, punctuation and symbols as spaces, single
    spaces, no leading or trailing space."""
    folded = unicodedata.normalize("NFC", text).casefold()
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in folded)
    return _SPACES.sub(" ", kept).strip()


@dataclass
class Statement:
    """One statement and the branches (names, in order) that made it."""

    text: str
    branches: list[str] = field(default_factory=list)
    key: str = ""  # the normalised text of the first branch
    order: int = 0
    variants: set[str] = field(default_factory=set)  # every normalised text it holds

    def as_context(self) -> dict[str, object]:
        return {"text": self.text, "branches": list(self.branches), "branch": self.branches[0]}


def _shingles(key: str) -> set[str]:
    words = key.split()
    if len(words) < 3:
        return set(words)
    return {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}


def group_statements(items: Iterable[tuple[str, str]], near: float = NEAR) -> list[Statement]:
    """``(branch name, text)`` pairs grouped into statements, in order of first appearance.
    Empty texts (nothing but spaces or punctuation) are left out."""
    groups: list[Statement] = []
    exact: dict[str, Statement] = {}
    # Near matches are looked for among the groups with the same figures that share at least
    # one run of three words, not among all of them: 5,000 distinct statements stay quick.
    by_figures: dict[tuple[str, ...], dict[str, list[Statement]]] = {}
    for branch, text in items:
        key = normalise(text)
        if not key:
            continue
        found = exact.get(key)
        if found is None:
            figures = tuple(_DIGITS.findall(key))
            index = by_figures.setdefault(figures, {})
            shingles = _shingles(key)
            found = _nearest(key, shingles, index, near)
            if found is None:
                found = Statement(text.strip(), key=key, order=len(groups))
                groups.append(found)
                for shingle in shingles:
                    index.setdefault(shingle, []).append(found)
            exact[key] = found
            found.variants.add(key)
        if branch not in found.branches:
            found.branches.append(branch)
    return groups


def _nearest(
    key: str, shingles: set[str], index: dict[str, list[Statement]], near: float
) -> Statement | None:
    """The first group (in order) whose statement is at least ``near`` alike. Only groups
    sharing a third of the runs of three words are compared: statements 90% alike share far
    more (one word changed in fifteen breaks three runs of thirteen)."""
    shared: Counter[int] = Counter()
    groups: dict[int, Statement] = {}
    for shingle in shingles:
        for candidate in index.get(shingle, ()):
            shared[candidate.order] += 1
            groups[candidate.order] = candidate
    enough = max(1, len(shingles) // 3)
    for order in sorted(o for o, count in shared.items() if count >= enough):
        candidate = groups[order]
        matcher = difflib.SequenceMatcher(None, candidate.key, key, autojunk=False)
        if (
            matcher.real_quick_ratio() >= near
            and matcher.quick_ratio() >= near
            and matcher.ratio() >= near
        ):
            return candidate
    return None
