"""Who must never be emailed: suppression lists (unsubscribes, bounces, complaints).

:func:`read_suppressions` reads a list from a file, a DataFrame or plain emails;
``base.with_suppressions(list)`` gives a base whose every export and waterfall removes
those people (``base.suppressions`` shows them).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from segexplore.errors import ExportError, SchemaError
from segexplore.io.parsing import parse_datetimes
from segexplore.io.read import read_table
from segexplore.model import hooks

__all__ = ["SUPPRESSION_REASONS", "read_suppressions"]

#: Reasons a suppression list row may give; anything else is read as "other".
SUPPRESSION_REASONS = ("unsubscribe", "bounce", "complaint", "other")


_SUPPRESSION_COLUMNS = {
    "email": ("email", "e_mail", "mail", "email_address", "adresse_email", "adresse_mail",
              "courriel"),
    "reason": ("reason", "type", "motif", "raison", "cause", "status"),
    "date": ("date", "timestamp", "ts", "created_at", "suppressed_at", "date_suppression"),
}


_REASON_ALIASES = {
    **dict.fromkeys(["unsubscribe", "unsubscribed", "unsub", "opt-out", "optout", "opt_out",
                     "desabonnement", "désabonnement", "désabonné", "desabonne"], "unsubscribe"),
    **dict.fromkeys(["bounce", "bounced", "hard bounce", "hard_bounce", "hardbounce",
                     "soft bounce", "soft_bounce", "rebond", "npai"], "bounce"),
    **dict.fromkeys(["complaint", "spam", "spam complaint", "spam_complaint", "abuse",
                     "plainte"], "complaint"),
}


@hooks.implements("read_suppressions")
def read_suppressions(source: Any, **read_options: Any) -> pd.DataFrame:
    """Read a suppression list (unsubscribes, bounces, complaints) from a file or DataFrame.

    Columns are recognised under common names (``email``/``e-mail``/``mail``,
    ``reason``/``type``/``motif``, ``date``/``timestamp``); emails are normalised like
    the contacts' (trimmed, lower-cased) so ``" Jean@X.fr"`` suppresses ``jean@x.fr``.

    Parameters
    ----------
    source : path, DataFrame or list of emails
        CSV, Parquet or Excel file (read with :func:`~segexplore.io.read.read_table`),
        a DataFrame, or plain emails.
    **read_options
        Passed to ``read_table`` (``sep``, ``encoding``, ``sheet_name``...).

    Returns
    -------
    DataFrame
        ``email, reason, date``: ``reason`` is one of :data:`SUPPRESSION_REASONS`
        (unrecognised or missing -> ``"other"``); rows without an email are dropped.

    Raises
    ------
    SchemaError
        No email column; the message lists the columns there are.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"E-mail": [" Ann@X.fr"], "Motif": ["hard bounce"]})
    >>> read_suppressions(raw)[["email", "reason"]].to_dict("records")
    [{'email': 'ann@x.fr', 'reason': 'bounce'}]
    """
    from segexplore.io.clean.contacts import normalise_emails
    from segexplore.model.columns import normalise_name

    if not isinstance(source, (str, Path, pd.DataFrame)) and isinstance(source, Iterable):
        source = pd.DataFrame({"email": list(source)})
    frame, _ = read_table(source, **read_options)
    by_name = {normalise_name(c): c for c in frame.columns}
    found = {}
    for canonical, aliases in _SUPPRESSION_COLUMNS.items():
        found[canonical] = next((by_name[a] for a in aliases if a in by_name), None)
    where = "the DataFrame" if isinstance(source, pd.DataFrame) else str(source)
    if found["email"] is None:
        raise SchemaError(f"suppression list {where}: no email column (looked for "
                          f"email, e-mail, mail...); columns are {list(map(str, frame.columns))}")
    emails = normalise_emails(frame[found["email"]])
    if found["reason"] is not None:
        text = frame[found["reason"]].astype("string").str.strip().str.lower()
        known = text.where(text.isin(SUPPRESSION_REASONS))
        reason = known.fillna(text.map(_REASON_ALIASES)).fillna("other").astype("str")
    else:
        reason = pd.Series("other", index=frame.index, dtype="str")
    if found["date"] is not None:
        date, _ = parse_datetimes(frame[found["date"]], column=str(found["date"]), path=where)
    else:
        date = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    out = pd.DataFrame({"email": emails.to_numpy(), "reason": reason.to_numpy(),
                        "date": date.to_numpy()})
    return out[out["email"].notna()].reset_index(drop=True)


def _prepare_suppressions(suppressions: Any) -> tuple[pd.DataFrame | None, str | None]:
    """Read ``suppressions`` once: (``email, reason, date`` frame or None, its source)."""
    if suppressions is None:
        return None, None
    if isinstance(suppressions, (str, Path)):
        return read_suppressions(suppressions), str(suppressions)
    if isinstance(suppressions, pd.DataFrame):
        return read_suppressions(suppressions), "DataFrame"
    if isinstance(suppressions, Iterable):
        return read_suppressions(suppressions), "list of emails"
    raise ExportError(f"suppressions must be a file, a DataFrame or a list of emails, "
                      f"not {type(suppressions).__name__}")
