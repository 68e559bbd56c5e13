"""A catalog of named segment definitions kept as a YAML file.

The catalog is a versioned asset: one YAML file, readable in a diff (stable key order,
block style, one entry per segment, the rule as text and as its tree), that remembers
every previous definition of each segment. :meth:`Catalog.apply` registers the segments
on a base, parents and ``segment("...")`` references first;
:func:`segexplore.delivery.refresh.refresh` re-evaluates them on new data and records how
each one moved (size, who entered, who left).

Several processes may write one catalog or one size history at the same time: every
write takes a lock file beside it (``<file>.lock``), re-reads the file under the lock and
merges (:meth:`Catalog.save`) or appends (a refresh) before writing atomically, so
no writer's work is lost; edits that cannot be merged raise
:class:`~segexplore.errors.CatalogConflictError` and write nothing.

Examples
--------
>>> import segexplore as se
>>> catalog = Catalog()
>>> _ = catalog.add("Android", 'device = "Android"', owner="crm")
>>> _ = catalog.add("Android in Lyon", 'city = "Lyon"', parent="Android")
>>> catalog.dependency_order()
['Android', 'Android in Lyon']
>>> segments = catalog.apply(se.load_sample())
>>> segments["Android in Lyon"].size <= segments["Android"].size
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from segexplore.delivery.changes import read_changes
from segexplore.errors import (
    CatalogConflictError,
    CatalogError,
    FileFormatError,
    LockTimeoutError,
    SegexploreError,
    closest_name,
)
from segexplore.io.atomic import atomic_write
from segexplore.rules import nodes as R
from segexplore.rules.parser import parse
from segexplore.rules.serialize import rule_from_dict

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["CATALOG_SCHEMA", "MAX_NAME_LENGTH", "LOCK_TIMEOUT", "CatalogEntry", "Catalog",
           "lock_path", "naming_segment"]

CATALOG_SCHEMA = "segexplore.catalog/1"
MAX_NAME_LENGTH = 80
_ENTRY_KEYS = ("name", "description", "owner", "tags", "parent", "rule", "rule_tree",
               "created", "updated", "updated_by", "previous_names", "history")
_UNSET: Any = object()
#: Seconds a catalog save or a refresh waits for another process's lock before it gives up.
LOCK_TIMEOUT = 60.0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _time_text(value: Any) -> str:
    """Times are kept as ISO text; a hand-written unquoted YAML timestamp is accepted."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="seconds") + "Z"
    return "" if value is None else str(value)


def lock_path(path: Any) -> Path:
    """The lock file that guards writes to ``path``: ``<path>.lock`` beside it.

    Examples
    --------
    >>> lock_path("team/segments.yaml").as_posix()
    'team/segments.yaml.lock'
    """
    path = Path(path)
    return path.with_name(path.name + ".lock")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold ``<path>.lock`` for a read-modify-write of ``path``, across processes.

    An OS lock (``flock``, via :mod:`filelock`): the kernel releases it when its holder
    dies, so a killed writer never leaves the file locked. Waits :data:`LOCK_TIMEOUT`
    seconds at most, then raises :class:`~segexplore.errors.LockTimeoutError`.
    """
    from filelock import FileLock, Timeout

    lock = lock_path(path)
    timeout = LOCK_TIMEOUT
    file_lock = FileLock(str(lock), timeout=timeout)
    try:
        file_lock.acquire()
    except Timeout:
        raise LockTimeoutError(
            f"{path}: still locked by another process after {timeout:g} s (lock file "
            f"{lock}); another save or refresh of this file is running. Retry when it "
            "is done, or raise segexplore.delivery.catalog.LOCK_TIMEOUT.",
            path=path, lock_path=lock, timeout=timeout) from None
    try:
        yield
    finally:
        file_lock.release()


@dataclass(frozen=True)
class CatalogEntry:
    """One saved segment: its definition, who owns it and every previous definition."""

    name: str
    rule: R.Rule
    description: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()
    parent: str | None = None
    created: str = ""
    updated: str = ""
    updated_by: str = ""
    previous_names: tuple[str, ...] = ()
    history: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        """The rule's canonical text."""
        return str(self.rule)

    def depends_on(self) -> list[str]:
        """Names this segment needs first: its parent, then its ``segment()`` references."""
        refs = sorted(self.rule.segment_refs())
        return ([self.parent] if self.parent else []) + [r for r in refs if r != self.parent]

    def to_dict(self) -> dict[str, Any]:
        """The YAML form, keys in a fixed order."""
        return {"name": self.name, "description": self.description, "owner": self.owner,
                "tags": list(self.tags), "parent": self.parent, "rule": self.text,
                "rule_tree": self.rule.to_dict(), "created": self.created,
                "updated": self.updated, "updated_by": self.updated_by,
                "previous_names": list(self.previous_names),
                "history": [dict(h) for h in self.history]}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> CatalogEntry:
        """Read one entry; ``where`` names it in error messages."""
        if not isinstance(data, Mapping):
            raise CatalogError(f"{where}: expected a mapping with name and rule, got {data!r}")
        unknown = [k for k in data if k not in _ENTRY_KEYS]
        if unknown:
            guess = closest_name(str(unknown[0]), _ENTRY_KEYS)
            hint = f" (did you mean {guess!r}?)" if guess else ""
            raise CatalogError(f"{where}: unknown key {unknown[0]!r}{hint}")
        name = data.get("name")
        where = f"{where} ({name!r})" if name else where
        rule = _entry_rule(data, where)
        tags = data.get("tags") or ()
        if isinstance(tags, str) or not isinstance(tags, Iterable):
            raise CatalogError(f"{where}: tags must be a list, not {tags!r}")
        history = data.get("history") or []
        if not isinstance(history, list) or not all(isinstance(h, Mapping) for h in history):
            raise CatalogError(f"{where}: history must be a list of {{rule, updated, by}}")
        return cls(name=name, rule=rule, description=str(data.get("description") or ""),
                   owner=str(data.get("owner") or ""), tags=tuple(str(t) for t in tags),
                   parent=data.get("parent") or None, created=_time_text(data.get("created")),
                   updated=_time_text(data.get("updated")),
                   updated_by=str(data.get("updated_by") or ""),
                   previous_names=tuple(str(n) for n in data.get("previous_names") or ()),
                   history=tuple({k: (_time_text(v) if k == "updated" else v)
                                  for k, v in h.items()} for h in history))


def _entry_rule(data: Mapping[str, Any], where: str) -> R.Rule:
    text, tree = data.get("rule"), data.get("rule_tree")
    if text is None and tree is None:
        raise CatalogError(f"{where}: no rule (give 'rule' as text)")
    try:
        from_text = parse(str(text)) if text is not None else None
        from_tree = rule_from_dict(tree) if tree is not None else None
    except SegexploreError as error:
        raise CatalogError(f"{where}: {error}") from None
    if from_text is not None and from_tree is not None and from_text != from_tree:
        raise CatalogError(f"{where}: 'rule' and 'rule_tree' disagree ({from_text} vs "
                           f"{from_tree}); edit the text and delete 'rule_tree'")
    return from_text if from_text is not None else from_tree


def _check_name(name: Any, what: str = "name") -> str:
    if not isinstance(name, str) or not name:
        raise CatalogError(f"{what}: a segment name must be a non-empty text, not {name!r}")
    if name != name.strip():
        raise CatalogError(f"{what}: {name!r} starts or ends with spaces")
    if len(name) > MAX_NAME_LENGTH:
        raise CatalogError(f"{what}: {name[:30]!r}... is {len(name)} characters long; "
                           f"the limit is {MAX_NAME_LENGTH}")
    if any(ord(c) < 32 for c in name):
        raise CatalogError(f"{what}: {name!r} contains a control character")
    return name


def _rename_refs(rule: R.Rule, old: str, new: str) -> R.Rule:
    if old not in rule.segment_refs():
        return rule

    def swap(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("kind") == "segment" and node.get("name") == old:
                return {**node, "name": new}
            return {k: swap(v) for k, v in node.items()}
        if isinstance(node, list):
            return [swap(v) for v in node]
        return node

    return rule_from_dict(swap(rule.to_dict()))


class Catalog:
    """Named segment definitions, with owners, tags, parents and their history.

    Parameters
    ----------
    entries : iterable of CatalogEntry, optional
    path : str or path, optional
        Where :meth:`save` writes by default (set by :meth:`load`).
    """

    def __init__(self, entries: Iterable[CatalogEntry] = (), *, path: Any = None) -> None:
        self._entries: dict[str, CatalogEntry] = {}
        self.path = Path(path) if path is not None else None
        # What the file held when this object last read or wrote it (see save): the
        # common ancestor of a three-way merge with what other writers saved since.
        self._synced: tuple[Path, str, dict[str, dict[str, Any]]] | None = None
        for entry in entries:
            _check_name(entry.name)
            self._check_unique(entry.name)
            self._entries[entry.name] = entry
        self._check_references()

    # --- access -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(list(self._entries.values()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def __getitem__(self, name: str) -> CatalogEntry:
        return self._entries[self._require(name)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Catalog) and self.to_dict() == other.to_dict()

    @property
    def names(self) -> list[str]:
        """Segment names in catalog order."""
        return list(self._entries)

    def _find(self, name: str) -> str | None:
        if name in self._entries:
            return name
        lowered = {n.lower(): n for n in self._entries}
        return lowered.get(name.lower())

    def _require(self, name: str, what: str = "name") -> str:
        found = self._find(name) if isinstance(name, str) else None
        if found is None:
            guess = closest_name(str(name), self._entries)
            hint = f"; did you mean {guess!r}?" if guess else ""
            raise CatalogError(f"{what}: no segment {name!r} in the catalog{hint}")
        return found

    def _check_unique(self, name: str, ignore: str | None = None) -> None:
        clash = self._find(name)
        if clash is not None and clash != ignore:
            raise CatalogError(f"name: {name!r} is already taken by {clash!r} (names are "
                               "compared ignoring case)")

    # --- editing ------------------------------------------------------------------------
    def add(self, name: str, rule: R.Rule | str, *, description: str = "", owner: str = "",
            tags: Iterable[str] = (), parent: str | None = None, by: str = "") -> CatalogEntry:
        """Add a segment; ``parent`` and ``segment("...")`` references must exist already."""
        _check_name(name)
        self._check_unique(name)
        now = _now()
        entry = CatalogEntry(name=name, rule=_as_rule(rule, name), description=description,
                             owner=owner, tags=tuple(tags),
                             parent=self._require(parent, "parent") if parent else None,
                             created=now, updated=now, updated_by=by or owner)
        self._commit({**self._entries, name: entry})
        return entry

    def update(self, name: str, *, rule: R.Rule | str | None = None,
               description: str | None = None, owner: str | None = None,
               tags: Iterable[str] | None = None, parent: Any = _UNSET,
               by: str = "") -> CatalogEntry:
        """Change a segment; a new rule or parent appends the old definition to ``history``."""
        key = self._require(name)
        old = self._entries[key]
        new_rule = _as_rule(rule, key) if rule is not None else old.rule
        new_parent = old.parent if parent is _UNSET else (
            self._require(parent, "parent") if parent else None)
        changes: dict[str, Any] = {}
        if description is not None:
            changes["description"] = description
        if owner is not None:
            changes["owner"] = owner
        if tags is not None:
            changes["tags"] = tuple(tags)
        if new_rule != old.rule or new_parent != old.parent:
            previous = {"rule": old.text, "updated": old.updated, "by": old.updated_by}
            if old.parent:
                previous["parent"] = old.parent
            changes.update(rule=new_rule, parent=new_parent, history=(*old.history, previous))
        if not changes:
            return old
        entry = replace(old, **changes, updated=_now(), updated_by=by or old.updated_by)
        self._commit({**self._entries, key: entry})
        return entry

    def rename(self, old: str, new: str, *, by: str = "") -> CatalogEntry:
        """Rename a segment, keep its history, record the old name; references follow."""
        key = self._require(old, "old")
        _check_name(new, "new")
        self._check_unique(new, ignore=key)
        entries = {}
        for name, entry in self._entries.items():
            if name == key:
                entry = replace(entry, name=new, previous_names=(*entry.previous_names, key),
                                updated=_now(), updated_by=by or entry.updated_by)
                name = new
            else:  # dependents keep working: their parent and references are renamed
                entry = replace(entry, parent=new if entry.parent == key else entry.parent,
                                rule=_rename_refs(entry.rule, key, new))
            entries[name] = entry
        self._commit(entries)
        return self._entries[new]

    def remove(self, name: str) -> CatalogEntry:
        """Remove a segment; refused while another segment uses it (parent or reference)."""
        key = self._require(name)
        users = [f"{e.name!r} ({'parent' if e.parent == key else 'segment() reference'})"
                 for e in self._entries.values() if e.name != key and key in e.depends_on()]
        if users:
            raise CatalogError(f"cannot remove {key!r}: used by {', '.join(users)}")
        entry = self._entries[key]
        self._commit({n: e for n, e in self._entries.items() if n != key})
        return entry

    def _commit(self, entries: dict[str, CatalogEntry]) -> None:
        previous = self._entries
        self._entries = entries
        try:
            self._check_references()
        except CatalogError:
            self._entries = previous  # an edit that breaks the catalog is not applied
            raise

    # --- dependencies -------------------------------------------------------------------
    def _check_references(self) -> None:
        for entry in self._entries.values():
            for needed in entry.depends_on():
                if needed not in self._entries:
                    guess = closest_name(needed, self._entries)
                    hint = f"; did you mean {guess!r}?" if guess else ""
                    raise CatalogError(f"segment {entry.name!r} needs {needed!r}, which is not "
                                       f"in the catalog{hint}")
        self.dependency_order()

    def dependency_order(self) -> list[str]:
        """Names with every segment after its parent and references (catalog order otherwise).

        Raises
        ------
        CatalogError
            Segments depend on each other in a cycle; the message names it.
        """
        order: list[str] = []
        done: set[str] = set()

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in done:
                return
            if name in path:
                cycle = " -> ".join((*path[path.index(name):], name))
                raise CatalogError(f"segments depend on each other in a cycle: {cycle}")
            for needed in self._entries[name].depends_on():
                if needed in self._entries:
                    visit(needed, (*path, name))
            done.add(name)
            order.append(name)

        for name in self._entries:
            visit(name, ())
        return order

    def apply(self, base: ContactBase) -> dict[str, Segment]:
        """Register every segment on ``base`` in dependency order; ``{name: Segment}``.

        Each segment is evaluated here, so a rule that does not fit the base (an unknown
        field, a type mismatch) fails now with the segment's name, not later in whatever
        uses it first.
        """
        segments = {}
        for name in self.dependency_order():
            entry = self._entries[name]
            with naming_segment(name):
                segment = base.segment(entry.rule, name=name, description=entry.description,
                                       parent=entry.parent)
                _ = segment.size
            segments[name] = segment
        return segments

    def changes(self, name: str, *, since: Any = None, history_path: Any = None
                ) -> pd.DataFrame:
        """Who entered and who left segment ``name`` at each refresh (ids, as
        :func:`~segexplore.delivery.refresh.read_changes` gives them).

        ``history_path``: the size history the refreshes wrote; default
        ``<catalog>.history.csv`` beside the catalog's file (``segexplore refresh``'s).
        ``since``: only the runs whose data date is on or after it.
        """
        name = self._require(name)
        if history_path is None:
            if self.path is None:
                raise CatalogError("changes: this catalog has no file: give history_path=")
            history_path = Path(self.path).with_suffix(".history.csv")
        return read_changes(history_path, name, since=since)

    # --- files --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"schema": CATALOG_SCHEMA,
                "segments": [e.to_dict() for e in self._entries.values()]}

    def to_yaml(self) -> str:
        """The catalog as YAML: block style, fixed key order, no line folding."""
        import yaml

        return yaml.dump(self.to_dict(), Dumper=R.yaml_dumper(), sort_keys=False,
                         allow_unicode=True, default_flow_style=False, width=100_000)

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "catalog", path: Any = None) -> Catalog:
        import yaml

        # libyaml's parser when it is there: 6x faster, and a save re-reads the file
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            data = yaml.load(text, Loader=loader)  # a safe loader: no arbitrary objects
        except yaml.YAMLError as error:
            raise FileFormatError(f"{source}: not valid YAML: {error}", path=path) from None
        if data is None:
            data = {"schema": CATALOG_SCHEMA, "segments": []}
        if not isinstance(data, Mapping) or data.get("schema") != CATALOG_SCHEMA:
            raise CatalogError(f"{source}: not a segexplore catalog (expected "
                               f"'schema: {CATALOG_SCHEMA}' at the top)")
        items = data.get("segments") or []
        if not isinstance(items, list):
            raise CatalogError(f"{source}: 'segments' must be a list")
        entries = [CatalogEntry.from_dict(item, f"{source}: segment {i + 1}")
                   for i, item in enumerate(items)]
        seen: dict[str, str] = {}
        for i, entry in enumerate(entries):
            where = f"{source}: segment {i + 1} ({entry.name!r})"
            _check_name(entry.name, where)
            if entry.name.lower() in seen:
                raise CatalogError(f"{where}: the name is already taken by "
                                   f"{seen[entry.name.lower()]!r} (names are compared "
                                   "ignoring case)")
            seen[entry.name.lower()] = entry.name
        try:
            return cls(entries, path=path)
        except CatalogError as error:
            raise CatalogError(f"{source}: {error}") from None

    @classmethod
    def load(cls, path: Any) -> Catalog:
        """Read a catalog file written by :meth:`save` (or by hand in that schema)."""
        path = Path(path)
        if not path.is_file():
            raise FileFormatError(f"{path}: no such catalog file", path=path)
        text = path.read_text(encoding="utf-8")
        catalog = cls.from_yaml(text, source=str(path), path=path)
        catalog._remember(path, text)
        return catalog

    def save(self, path: Any = None, *, overwrite: bool = False) -> Path:
        """Write the catalog atomically (to ``path``, or where it was loaded from).

        Other processes may save the same file meanwhile: the save holds the lock file
        ``<path>.lock`` (:func:`lock_path`), re-reads the file under it and merges what
        others saved since this catalog was loaded (or last saved): their new, changed
        and removed segments are kept along with this catalog's own changes, and this
        object then holds the merged catalog. A catalog not loaded from ``path`` keeps
        every segment already in the file.

        Parameters
        ----------
        path : str or path, optional
        overwrite : bool, default False
            Replace the file with exactly this catalog, whatever it holds now.

        Raises
        ------
        CatalogConflictError
            Both sides changed one segment in different ways (two definitions for one
            name, or one side removed what the other changed), a merge breaks a parent or
            a reference, or the file changed and can no longer be read. Nothing is
            written.
        LockTimeoutError
            Another process kept the file locked longer than :data:`LOCK_TIMEOUT`.
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise CatalogError("path: this catalog was not loaded from a file; give a path")
        with _locked(target):
            entries = self._entries if overwrite else self._merged_with_disk(target)
            text = self.to_yaml() if entries is self._entries else (
                Catalog(entries.values()).to_yaml())
            with atomic_write(target, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        self._entries = entries
        self.path = target
        self._remember(target, text)
        return target

    def _remember(self, path: Path, text: str) -> None:
        self._synced = (path.resolve(), text,
                        {name.lower(): e.to_dict() for name, e in self._entries.items()})

    def _merged_with_disk(self, target: Path) -> dict[str, CatalogEntry]:
        """This catalog's entries merged with the file's current ones (under the lock)."""
        try:
            text = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self._entries  # deleted since: nothing of others' to keep
        synced = self._synced if self._synced and self._synced[0] == target.resolve() else None
        if synced is not None and synced[1] == text:
            return self._entries  # nobody wrote since this object read or wrote it
        how = ("Catalog.load the file again and redo this change, or save(overwrite=True) "
               "to replace the file with this catalog; nothing was written")
        try:
            theirs = Catalog.from_yaml(text, source=str(target), path=target)
        except SegexploreError as error:
            raise CatalogConflictError(
                f"{target}: the file changed since this catalog was loaded and cannot be "
                f"read to merge with it ({error}). Fix the file, or {how}",
                path=target) from None
        base = synced[2] if synced is not None else {}
        entries = _three_way_merge(base, self._entries, theirs._entries, target, how)
        try:
            Catalog(entries.values())
        except CatalogError as error:
            raise CatalogConflictError(
                f"{target}: merging this catalog with what another writer saved there "
                f"breaks it: {error}. {how[0].upper()}{how[1:]}.", path=target) from None
        return entries

    # --- display ------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """One row per segment: name, parent, rule, owner, tags, updated, versions."""
        return pd.DataFrame([{"name": e.name, "parent": e.parent, "rule": e.text,
                              "owner": e.owner, "tags": ", ".join(e.tags), "updated": e.updated,
                              "versions": len(e.history) + 1} for e in self._entries.values()],
                            columns=["name", "parent", "rule", "owner", "tags", "updated",
                                     "versions"])

    def __repr__(self) -> str:
        lines = [f"Catalog: {len(self)} segments" + (f" ({self.path})" if self.path else "")]
        lines += [f"  {e.name}" + (f" (in {e.parent})" if e.parent else "") + f": {e.text}"
                  for e in self._entries.values()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return (f"<div><strong>Catalog</strong> &middot; {len(self)} segments"
                f"{self.to_frame().to_html(index=False, na_rep='')}</div>")


def _as_rule(rule: R.Rule | str, name: str) -> R.Rule:
    if isinstance(rule, R.Rule):
        return rule
    if not isinstance(rule, str):
        raise CatalogError(f"rule of {name!r}: give a rule or its text, not "
                           f"{type(rule).__name__}")
    with naming_segment(name):
        return parse(rule)


_DEFINITION = ("name", "rule", "parent", "description", "owner", "tags")


def _three_way_merge(base: Mapping[str, Mapping[str, Any]], mine: Mapping[str, CatalogEntry],
                     theirs: Mapping[str, CatalogEntry], path: Path,
                     how: str) -> dict[str, CatalogEntry]:
    """Merge two versions of a catalog that both come from ``base``, segment by segment.

    A segment changed (added, edited, removed) on one side only takes that side; one
    defined alike on both sides is kept once; one changed differently on both sides is a
    conflict, never a silent pick. Names are compared ignoring case, as the catalog does.
    """
    ours = {name.lower(): entry for name, entry in mine.items()}
    other = {name.lower(): entry for name, entry in theirs.items()}
    merged: dict[str, CatalogEntry] = {}
    conflicts: list[dict[str, Any]] = []
    lines: list[str] = []
    # the file's order first, then what only this catalog added, in its order
    for key in [*other, *(k for k in ours if k not in other)]:
        before, mine_entry, their_entry = base.get(key), ours.get(key), other.get(key)
        mine_dict = mine_entry.to_dict() if mine_entry else None
        their_dict = their_entry.to_dict() if their_entry else None
        if mine_dict == before or mine_dict == their_dict:
            kept = their_entry  # unchanged here (or the same edit): the file's version
        elif their_dict == before:
            kept = mine_entry  # unchanged in the file since: this catalog's change
        elif (mine_dict and their_dict
              and all(mine_dict[k] == their_dict[k] for k in _DEFINITION)):
            kept = their_entry  # defined alike on both sides, only the times differ
        else:
            conflicts.append({"segment": (mine_entry or their_entry).name,
                              "ours": mine_entry.text if mine_entry else None,
                              "theirs": their_entry.text if their_entry else None})
            lines.append(_conflict_line(mine_entry, their_entry))
            continue
        if kept is not None:
            merged[kept.name] = kept
    if conflicts:
        raise CatalogConflictError(
            f"{path}: another writer saved this catalog since it was loaded, and changed "
            f"{len(conflicts)} of its segments in another way:\n"
            + "\n".join(f"  - {line}" for line in lines)
            + f"\nTo resolve: {how}; or give one of the two segments another name.",
            path=path, conflicts=conflicts)
    return merged


def _conflict_line(mine: CatalogEntry | None, theirs: CatalogEntry | None) -> str:
    """One conflict, in words: both rules, or what else differs."""
    if mine is None:
        return (f"segment {theirs.name!r}: removed here, but changed in the file to "
                f"{theirs.text}")
    if theirs is None:
        return (f"segment {mine.name!r}: changed here to {mine.text}, but removed from "
                "the file")
    name = repr(mine.name) if mine.name == theirs.name else f"{mine.name!r} / {theirs.name!r}"
    if mine.rule != theirs.rule:
        return f"segment {name}: here {mine.text}, in the file {theirs.text}"
    mine_dict, their_dict = mine.to_dict(), theirs.to_dict()
    fields = [k for k in _DEFINITION if k != "rule" and mine_dict[k] != their_dict[k]]
    return (f"segment {name}: same rule {mine.text}, but a different "
            + ", ".join(f"{k} (here {mine_dict[k]!r}, in the file {their_dict[k]!r})"
                        for k in fields))


@contextmanager
def naming_segment(name: str) -> Iterator[None]:
    """Prefix the message of a segexplore error raised inside with ``segment 'name': ``.

    The error keeps its class and attributes (a :class:`RuleSyntaxError` its ``position``
    and ``text``), so callers catching it by type still do; only the message says which of
    the catalog's segments it comes from.

    Examples
    --------
    >>> try:
    ...     with naming_segment("IDF Android"):
    ...         parse("city =")
    ... except SegexploreError as error:
    ...     print(str(error).splitlines()[0])
    segment 'IDF Android': expected a value after '=' but found end of text (at position 6)
    """
    try:
        yield
    except SegexploreError as error:
        prefix = f"segment {name!r}: "
        message = str(error)
        if not message.startswith(prefix):
            error.args = (prefix + message,)
        raise
