"""Shared fixtures."""

from __future__ import annotations

import pandas as pd
import pytest
from tiny_base import NOW, contacts_frame, events_frame

import segexplore as se


@pytest.fixture
def tiny_base() -> se.ContactBase:
    """Seven contacts, 32 events, as of 2026-10-31 00:00."""
    return se.read_base(contacts_frame(), events_frame(), now=NOW)


@pytest.fixture
def tiny_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    return contacts_frame(), events_frame()
