"""Ownership links: owners the venue knows act together (one beneficial owner,
an affiliate, a desk and its parent), loaded as data.

A links file is JSON: `{"groups": [["alice", "alice-2"], ["fund-x", "fund-x-sub"]]}`,
each group a set of owners linked to one another. An account is linked to every
account of its own owner as well (`owner:label` accounts share the owner).
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from clearhouse.core.authority import owner_of


class _LinksFile(msgspec.Struct, forbid_unknown_fields=True):
    groups: list[list[str]]


class Links:
    def __init__(self, groups: list[list[str]] | None = None) -> None:
        self._group: dict[str, int] = {}
        for number, group in enumerate(groups or []):
            for owner in group:
                self._group[owner] = number

    @classmethod
    def read(cls, path: Path) -> Links:
        """The links of a file; ValueError naming what is wrong with it."""
        try:
            return cls(msgspec.json.decode(path.read_bytes(), type=_LinksFile).groups)
        except OSError as exc:
            raise ValueError(f"{path}: {exc.strerror}") from None
        except msgspec.DecodeError as exc:
            raise ValueError(
                f'{path}: not a links file ({{"groups": [[owner, ...]]}}): {exc}'
            ) from None

    def linked(self, account: str, other: str) -> bool:
        """Whether two accounts are one owner's or their owners are linked."""
        a, b = owner_of(account), owner_of(other)
        if a == b:
            return True
        group = self._group.get(a)
        return group is not None and group == self._group.get(b)
