"""The erasure ledger: salted hashes of the people erased from a base, and nothing else.

A base keeps one (``base.erasures``) so that no later export or suppression list of it can
contain someone erased, without keeping their email or id. Erasure itself is
:func:`segexplore.delivery.privacy.forget`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["ErasureLedger", "identifier_hash"]


def identifier_hash(value: object, salt: str, kind: str = "email") -> str:
    """Salted sha256 of an identifier: ``kind`` is ``"email"`` (normalised) or ``"id"``.

    Examples
    --------
    >>> identifier_hash(" Ann@X.fr", "s") == identifier_hash("ann@x.fr", "s")
    True
    """
    text = str(value).strip()
    if kind == "email":
        text = text.lower()
    return hashlib.sha256(f"{salt}\x00{kind}:{text}".encode()).hexdigest()


class ErasureLedger:
    """Salted hashes of erased emails and ids, with a random salt of its own.

    Examples
    --------
    >>> ledger = ErasureLedger()
    >>> ledger._add([ledger.hash("ann@x.fr")])
    >>> ledger.contains_emails(pd.Series(["ANN@x.fr", "bob@x.fr"])).tolist()
    [True, False]
    """

    __slots__ = ("salt", "_hashes")

    def __init__(self) -> None:
        self.salt = secrets.token_hex(16)
        self._hashes: set[str] = set()

    def hash(self, value: object, kind: str = "email") -> str:
        """The ledger's salted hash of an email (``kind="email"``) or an id (``"id"``)."""
        return identifier_hash(value, self.salt, kind)

    def _add(self, hashes: Iterable[str]) -> None:
        # Only ContactBase._replace_tables calls it, during an erasure.
        self._hashes.update(hashes)

    def __contains__(self, hashed: object) -> bool:
        return hashed in self._hashes

    def __len__(self) -> int:
        return len(self._hashes)

    def __bool__(self) -> bool:
        return bool(self._hashes)

    def contains_emails(self, emails: pd.Series) -> np.ndarray:
        """True where an email belongs to someone erased."""
        if not self._hashes:
            return np.zeros(len(emails), dtype=bool)
        return np.array([isinstance(e, str) and self.hash(e) in self._hashes for e in emails],
                        dtype=bool)

    def contains_ids(self, ids: pd.Series) -> np.ndarray:
        """True where a contact_id belongs to someone erased."""
        if not self._hashes:
            return np.zeros(len(ids), dtype=bool)
        return np.array([self.hash(i, "id") in self._hashes for i in ids], dtype=bool)

    def __repr__(self) -> str:
        return f"ErasureLedger({len(self._hashes):,} salted hashes)"
