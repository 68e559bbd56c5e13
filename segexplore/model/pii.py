"""Personal data in what stakeholders see: which columns are personal, and their masks.

:func:`mask_pii` pseudonymises emails, names and phones in a frame; :func:`mask_emails` does
the same to free text. A rule's personal values are masked by
:func:`segexplore.rules.mask.mask_rule`; erasure and subject access are
:mod:`segexplore.delivery.privacy`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence

import pandas as pd

__all__ = ["PII_COLUMNS", "EMAIL_SHAPE", "mask_pii", "mask_emails"]


#: Columns :func:`mask_pii` pseudonymises by default (those absent from a frame are skipped).
PII_COLUMNS = ("email", "email_original", "first_name", "last_name", "phone", "mobile",
               "telephone", "address", "street")
#: What a reader would take for an email address inside any text (lenient on purpose:
#: invalid addresses identify people too). The masked form ``j***@x.fr`` does not match.
EMAIL_SHAPE = re.compile(r"[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")
#: A salt drawn once per Python session: masked values are stable within a session only,
#: so nobody can confirm a guessed email against a dashboard shared later.
_SESSION_SALT = secrets.token_hex(16)


def _short_hash(text: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}\x00{text.strip().lower()}".encode()).hexdigest()[:6]


def _mask_email(text: str, salt: str) -> str:
    local, at, domain = text.strip().lower().partition("@")
    head = (local[:1] + "***") if local else "***"
    return f"{head}{at}{domain} #{_short_hash(text, salt)}"


def _mask_name(text: str, salt: str) -> str:
    stripped = text.strip()
    return f"{stripped[:1].upper()}." if stripped else stripped


def _mask_phone(text: str, salt: str) -> str:
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    hide = set(digits[:-2])
    return "".join("*" if i in hide else c for i, c in enumerate(text))


def _mask_other(text: str, salt: str) -> str:
    return f"{text.strip()[:1]}*** #{_short_hash(text, salt)}"


def mask_pii(frame: pd.DataFrame, columns: Sequence[str] = PII_COLUMNS, *,
             salt: str | None = None) -> pd.DataFrame:
    """A copy of ``frame`` with personal data pseudonymised, for stakeholders.

    Emails become ``j***@gmail.com #1a2b3c`` (first letter, domain and a short salted
    hash that is the same for the same address, so rows can still be told apart and
    joined); first and last names become their initial (``"J."``); phones keep their
    last two digits (``+** * ** ** ** 78``); other listed columns keep a first letter and
    the hash. Missing values stay missing; columns absent from ``frame`` are skipped.

    Parameters
    ----------
    frame : DataFrame
        Not modified.
    columns : sequence of str
    salt : str, optional
        Default: a random salt drawn once per Python session (hashes are stable within
        a session, and cannot be matched against a guessed email afterwards).

    Examples
    --------
    >>> import pandas as pd
    >>> masked = mask_pii(pd.DataFrame({"email": ["jean@gmail.com"],
    ...                                 "first_name": ["jean"]}), salt="s")
    >>> masked["email"].iloc[0].startswith("j***@gmail.com #"), masked["first_name"].iloc[0]
    (True, 'J.')
    """
    salt = _SESSION_SALT if salt is None else salt
    out = frame.copy()
    for column in columns:
        if column not in out.columns:
            continue
        if "email" in column:
            mask = _mask_email
        elif column in ("first_name", "last_name"):
            mask = _mask_name
        elif column in ("phone", "mobile", "telephone"):
            mask = _mask_phone
        else:
            mask = _mask_other
        values = out[column].astype("object")
        distinct = {v: mask(str(v), salt) for v in values.dropna().unique()}
        out[column] = values.map(distinct).astype("str")
    return out


def mask_emails(text: str, *, salt: str | None = None) -> str:
    """``text`` with every email-shaped part pseudonymised as :func:`mask_pii` does.

    Examples
    --------
    >>> mask_emails("asked by Jean@Gmail.com today", salt="s").startswith("asked by j***@gmail.com #")
    True
    """
    salt = _SESSION_SALT if salt is None else salt
    return EMAIL_SHAPE.sub(lambda match: _mask_email(match.group(0), salt), text)
