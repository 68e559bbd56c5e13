"""Cleaning read tables: normalise, validate, de-duplicate; every row kept, merged or rejected.

:mod:`~segexplore.io.clean.contacts` cleans the contacts, :mod:`~segexplore.io.clean.activity`
the events and orders (their ids matched by :mod:`~segexplore.io.clean.ids`), and
:mod:`~segexplore.io.clean.nested` flattens lists and dicts in cells.

Policy (documented in the README, tested in ``tests/io/clean/test_clean.py``):

- **Emails** are trimmed and lower-cased; the original is kept in ``email_original``.
  Syntax is checked with a vectorised pattern (no network look-ups: 1M contacts in well
  under a second, where a per-row validator takes tens of seconds). Invalid emails are
  *flagged* (``email_valid``, ``email_problem``), never deleted.
- **Duplicates** share a normalised, valid email. They merge into the record with the earliest
  signup date (then the first in the file), whose ``contact_id`` survives. For every other
  column the latest non-missing value wins, "latest" meaning later in the file (exports
  append) unless an ``updated_at`` column says otherwise. Interests are united, the
  earliest signup date is kept, and a withdrawn consent is never turned back into consent
  (withdrawn > given > pending > unknown). Events and orders of merged contacts move to the
  surviving contact.
- **Rejected**: contacts without any identifier, a ``contact_id`` reused by a different
  email; events and orders whose contact is unknown, whose date is missing, unparseable
  or in the future, whose amount is not a number or negative; orders whose ``order_id``
  repeats. Rejected rows are kept with their reason in ``report.rejects``.
- Cell-level problems (an unparseable birth date, a postal code of the wrong length...)
  set the value missing or leave it as is, and are listed in ``report.issues``.
- **Ids** keep their values and type: ``"00001"`` stays ``"00001"``, UUIDs stay text, a
  64-bit integer stays that integer. A column mixing numbers and text (or integers too
  large for 64 bits) becomes text. Event ids meet contact ids in the contacts' type:
  integer ``10003`` finds text ``"10003"``, but ``1`` never finds ``"00001"``.
- **Lists and dicts** in a cell (Parquet ``list<string>`` or struct columns): flat lists
  become a multi-valued column in the canonical ``a|b`` form (``has any`` rules work);
  dicts and nested lists become JSON text with sorted keys. Both are listed in
  ``report.steps``; lists in ``contact_id``, ``email``, ``timestamp``, ``amount``... are a
  :class:`~segexplore.errors.SchemaError`.
- **Orders without an order_id column** that repeat an earlier order in every column are
  kept (two identical orders may be real) and each is listed in ``report.issues`` with
  the row it repeats.
- **Postal codes without a country** (no column, or an empty cell) are never padded: a
  4-digit code may be Belgian as well as French without its zero. One is reported when
  at least 80% of the contacts' codes (those of known countries, else the codes
  themselves) have another length; when lengths are mixed a step says they were not
  checked.
"""
