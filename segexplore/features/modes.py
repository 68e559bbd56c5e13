"""The most frequent value per contact, weighted (a contact's preferred brand or category):
a dense contacts x values count matrix built block by block when it is small enough, a sort
otherwise (thousands of campaign ids)."""

from __future__ import annotations

import numpy as np

# ``mode`` goes dense (contacts x values matrix, block by block) up to this many cells in
# total; beyond, e.g. thousands of campaign ids, it sorts instead.
_DENSE_MODE_MAX_CELLS = 2**27
_DENSE_MODE_BLOCK_CELLS = 2**21


def _argmax_per_contact(positions: np.ndarray, codes: np.ndarray, scores: np.ndarray,
                        n_contacts: int, n_codes: int, weights: np.ndarray) -> np.ndarray:
    """Per contact, the code with the largest total score (lowest code on ties), -1 if none.

    ``scores`` holds, for each event, the index of its weight in ``weights`` (the event
    type). Few distinct codes (brands, categories): dense contact x code totals, a block
    of contacts at a time. Many codes: a sort of packed keys.
    """
    if not len(positions):
        return np.full(n_contacts, -1, dtype=np.int64)
    if n_contacts * n_codes <= _DENSE_MODE_MAX_CELLS:
        return _argmax_dense(positions, codes, weights[scores], n_contacts, n_codes)
    return _argmax_sorted(positions, codes, scores, n_contacts, n_codes, weights)


def _argmax_dense(positions: np.ndarray, codes: np.ndarray, event_weights: np.ndarray,
                  n_contacts: int, n_codes: int) -> np.ndarray:
    """Weighted bincount into a (contacts x codes) matrix per block of contacts, argmax.

    Blocks keep the matrix near ``_DENSE_MODE_BLOCK_CELLS`` cells (a few MB) whatever the
    base size; ``argmax`` returns the first maximum, i.e. the lowest code on ties.
    """
    best_code = np.full(n_contacts, -1, dtype=np.int64)
    block_bits = max(8, int(_DENSE_MODE_BLOCK_CELLS // n_codes).bit_length() - 1)
    block_size = 1 << block_bits
    blocks = (positions >> block_bits).astype(np.int16)  # few blocks: radix sort below
    order = np.argsort(blocks, kind="stable")
    n_blocks = (n_contacts + block_size - 1) // block_size
    bounds = np.searchsorted(blocks[order], np.arange(n_blocks + 1))
    for block in range(n_blocks):
        rows = order[bounds[block]:bounds[block + 1]]
        if not len(rows):
            continue
        first = block * block_size
        size = min(block_size, n_contacts - first)
        cells = (positions[rows] - first).astype(np.int64) * n_codes + codes[rows]
        totals = np.bincount(cells, weights=event_weights[rows],
                             minlength=size * n_codes).reshape(size, n_codes)
        best = totals.argmax(axis=1)
        has_any = totals[np.arange(size), best] > 0
        best_code[first:first + size] = np.where(has_any, best, -1)
    return best_code


def _argmax_sorted(positions: np.ndarray, codes: np.ndarray, scores: np.ndarray,
                   n_contacts: int, n_codes: int, weights: np.ndarray) -> np.ndarray:
    """Sort-based argmax: no contact x code matrix, for codes too many to go dense.

    One ``np.sort`` of ``(position, code, weight index)`` packed in an int64 groups equal
    keys; run lengths times weights give each (contact, code) total.
    """
    best_code = np.full(n_contacts, -1, dtype=np.int64)
    n_weights = len(weights)
    keys = (positions.astype(np.int64) * n_codes + codes) * n_weights + scores
    keys.sort()
    run_starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    run_keys = keys[run_starts]
    run_totals = np.diff(np.r_[run_starts, len(keys)]) * weights[run_keys % n_weights]
    pair_keys = run_keys // n_weights  # position * n_codes + code, ascending
    pair_starts = np.flatnonzero(np.r_[True, pair_keys[1:] != pair_keys[:-1]])
    pair_totals = np.add.reduceat(run_totals, pair_starts)
    pair_keys = pair_keys[pair_starts]
    pair_positions = pair_keys // n_codes
    contact_starts = np.flatnonzero(np.r_[True, pair_positions[1:] != pair_positions[:-1]])
    contact_best = np.maximum.reduceat(pair_totals, contact_starts)
    contact_of_pair = np.repeat(np.arange(len(contact_starts)), np.diff(np.r_[contact_starts,
                                                                              len(pair_keys)]))
    # Pairs are sorted by code within a contact: the first pair reaching the maximum wins.
    is_best = (pair_totals == contact_best[contact_of_pair]) & (pair_totals > 0)
    candidates = np.flatnonzero(is_best)
    first = np.r_[True, pair_positions[candidates][1:] != pair_positions[candidates][:-1]]
    winners = candidates[first]
    best_code[pair_positions[winners]] = pair_keys[winners] % n_codes
    return best_code
