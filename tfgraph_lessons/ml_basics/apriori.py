"""Apriori: frequent itemsets and association rules, the shopping-basket box of the slides' map.

A shop records each customer's basket (a *transaction*: a set of items). Two
questions, in Agrawal and Srikant's terms [1]:

* which sets of items are bought together often? The *support* of an itemset
  X is the share of baskets that contain all of it, ``supp(X) = |{T : X <= T}| / N``;
  X is *frequent* when ``supp(X) >= min_support``;
* which rules "who buys A also buys C" hold? For disjoint A and C,
  ``confidence(A -> C) = supp(A u C) / supp(A)`` (the share of A's baskets that
  also hold C), and ``lift(A -> C) = confidence / supp(C)`` (how much A raises
  the chance of C over its base rate: 1 means independent, > 1 bought together).

There are 2^m itemsets of m items, too many to count. Apriori's insight is
that support can only fall as an itemset grows (a basket holding {a, b}
holds {a}), so *every subset of a frequent itemset is frequent*. It therefore
goes level by level: count the single items, keep the frequent ones (L1);
from the frequent (k-1)-itemsets L(k-1) build the candidates of size k
(``apriori_gen``: join two that share their first k-2 items, then prune every
candidate with an infrequent (k-1)-subset), count only those, keep L(k), and
stop when a level is empty. Rules come from each frequent itemset I by
splitting it into antecedent A and consequent I - A; every support they need
is already known, since all subsets of I are frequent.

Plain NumPy, no TensorFlow graph: Apriori is set logic and counting (the
support of an itemset is how many rows of the boolean basket matrix have all
its columns set); there is no tensor algebra or gradient for a graph to teach.

References:
  [1] Rakesh Agrawal, Ramakrishnan Srikant. Fast algorithms for mining
      association rules. VLDB 1994, 487-499.
  [2] Pang-Ning Tan, Michael Steinbach, Vipin Kumar. Introduction to Data
      Mining, chapter 6 (the bread/milk/diapers/beer baskets of the tests).

Usage::

    baskets = [["bread", "milk"], ["bread", "diapers", "beer", "eggs"], ...]
    frequent = apriori(baskets, min_support=0.6)    # [(frozenset({'bread'}), 0.8), ...]
    for rule in association_rules(frequent, min_confidence=0.7):
        print(rule.antecedent, "->", rule.consequent, rule.confidence, rule.lift)
"""
import itertools
import numbers
from collections import namedtuple

import numpy as np

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.ml_basics.base import timed

__all__ = ["apriori", "apriori_gen", "association_rules", "Rule", "compare"]

Rule = namedtuple("Rule", "antecedent consequent support confidence lift")
Rule.__doc__ = """One association rule ``antecedent -> consequent`` (two disjoint frozensets).

support = supp(antecedent u consequent); confidence = support / supp(antecedent);
lift = confidence / supp(consequent)."""

# Rows x candidates x items of the boolean block counted at once (about 16 MB).
_COUNT_BLOCK = 1 << 24
# Supports are the fractions count / N rounded to floats, so their ratio can land
# an ulp below an exact threshold (0.6 / 0.8 = 0.7499999999999999, not 3/4): the
# confidence test forgives that much rounding and no more.
_ROUNDING = 1e-12


def _check_fraction(value, name):
    """A number in (0, 1], else a UsageError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
        raise UsageError(f"{name} must be a number in (0, 1] (a share of the baskets), "
                         f"got {value!r}")
    return float(value)


def _sorted_items(items):
    """Items in a stable order: sorted when they compare, else by their repr."""
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=repr)


def _matrix_from_baskets(transactions):
    """A list of baskets -> (boolean matrix [n_baskets, n_items], item names)."""
    baskets = []
    for i, basket in enumerate(transactions):
        if isinstance(basket, (str, bytes)) or not isinstance(basket, (list, tuple, set,
                                                                      frozenset)):
            raise UsageError(f"transactions[{i}]: {basket!r} is not a basket; give each "
                             "transaction as a list or set of items, e.g. ['bread', 'milk']")
        baskets.append(set(basket))
    items = _sorted_items(set().union(*baskets))
    column = {item: j for j, item in enumerate(items)}
    matrix = np.zeros((len(baskets), len(items)), dtype=bool)
    for i, basket in enumerate(baskets):
        matrix[i, [column[item] for item in basket]] = True
    return matrix, items


def _basket_matrix(transactions, item_names):
    """The transactions as a boolean matrix [n_baskets, n_items] and one name per column.

    Accepts a list of baskets (lists/sets of hashable items) or a 2-D array of
    0/1 or booleans, one column per item (names from ``item_names``, else the
    column numbers).
    """
    if isinstance(transactions, np.ndarray):
        if transactions.ndim != 2:
            raise UsageError(f"transactions: a one-hot matrix must be 2-D [n_baskets, n_items], "
                             f"got shape {transactions.shape}")
        if not np.isin(transactions, (0, 1)).all():
            raise UsageError("transactions: a one-hot matrix may hold only 0/1 or True/False; "
                             "binarise it first (e.g. X > np.median(X, axis=0))")
        matrix = transactions.astype(bool)
        names = list(range(matrix.shape[1])) if item_names is None else list(item_names)
        if len(names) != matrix.shape[1]:
            raise UsageError(f"item_names: {len(names)} names for {matrix.shape[1]} columns; "
                             "give one name per item column")
    else:
        if item_names is not None:
            raise UsageError("item_names: only for a one-hot matrix; baskets name their items")
        matrix, names = _matrix_from_baskets(transactions)
    if matrix.shape[0] == 0:
        raise UsageError("transactions: empty; give at least one basket")
    return matrix, names


def apriori_gen(frequent_prev):
    """Candidate k-itemsets from the frequent (k-1)-itemsets: join, then prune [1, sec. 2.1.1].

    Args:
      frequent_prev: the frequent (k-1)-itemsets as sorted tuples of item
        indices, in lexicographic order.

    Returns:
      The candidates as sorted tuples, in lexicographic order: every union of two
      itemsets that share their first k-2 items, kept only if all its
      (k-1)-subsets are frequent.
    """
    known = set(frequent_prev)
    candidates = []
    for i, a in enumerate(frequent_prev):
        for b in frequent_prev[i + 1:]:
            if a[:-1] != b[:-1]:
                break                      # sorted: itemsets sharing a's prefix are contiguous
            candidate = a + (b[-1],)
            # Dropping the last item gives a, dropping the one before gives b, both
            # frequent; the other k-2 subsets must be checked (the "prune" step).
            if all(candidate[:j] + candidate[j + 1:] in known for j in range(len(a) - 1)):
                candidates.append(candidate)
    return candidates


def _count(matrix, candidates):
    """How many rows hold every item of each candidate, shape [n_candidates].

    Args:
      matrix: boolean [n_baskets, n_items].
      candidates: integer [n_candidates, k], item columns.
    """
    counts = np.empty(len(candidates), dtype=np.int64)
    block = max(1, _COUNT_BLOCK // max(1, matrix.shape[0] * candidates.shape[1]))
    for start in range(0, len(candidates), block):
        chunk = candidates[start:start + block]
        counts[start:start + block] = matrix[:, chunk].all(axis=2).sum(axis=0)  # [n, c, k] -> [c]
    return counts


def apriori(transactions, min_support=0.5, item_names=None, max_len=None):
    """Every frequent itemset and its support, level by level [1].

    Args:
      transactions: a list of baskets (lists or sets of hashable items), or a
        boolean/0-1 NumPy matrix [n_baskets, n_items].
      min_support: in (0, 1]; an itemset is frequent when the share of baskets
        holding it is at least this.
      item_names: one name per column of a matrix (default: the column numbers).
      max_len: stop after itemsets of this size (None: until a level is empty).

    Returns:
      A list of ``(frozenset of items, support)``, by size, then in the order of
      the items (sorted names, or the matrix's columns).
    """
    min_support = _check_fraction(min_support, "min_support")
    if max_len is not None and (isinstance(max_len, bool) or not isinstance(max_len, int)
                                or max_len < 1):
        raise UsageError(f"max_len must be None or a whole number >= 1, got {max_len!r}")
    matrix, names = _basket_matrix(transactions, item_names)
    n = matrix.shape[0]
    found = []
    level = [(j,) for j in range(matrix.shape[1])]        # C1: every single item
    while level and (max_len is None or len(level[0]) <= max_len):
        support = _count(matrix, np.array(level, dtype=np.int64)) / n
        frequent = [(c, float(s)) for c, s in zip(level, support) if s >= min_support]
        found += [(frozenset(names[j] for j in c), s) for c, s in frequent]
        level = apriori_gen([c for c, _ in frequent])     # C(k+1) from L(k)
    return found


def association_rules(frequent, min_confidence=0.7):
    """Every rule A -> I - A of confidence >= ``min_confidence`` from frequent itemsets I.

    Every split of every itemset is tried (2^|I| - 2 of them). The paper's
    ap-genrules [1, sec. 3] reaches the same rules with less work by growing the
    consequents level by level, because moving items from A to the consequent
    can only lower the confidence; for a lesson's itemsets the plain loop is clearer.

    Args:
      frequent: ``apriori``'s output, a list of ``(frozenset, support)``; it must
        hold every subset of each itemset (``apriori`` always does).
      min_confidence: in (0, 1].

    Returns:
      A list of :data:`Rule` (antecedent, consequent, support, confidence,
      lift), in the order of ``frequent``, then by antecedent size.
    """
    min_confidence = _check_fraction(min_confidence, "min_confidence")
    support_of = {frozenset(itemset): float(s) for itemset, s in frequent}
    # Item order: as the single items appear in ``frequent``, for a stable output.
    rank = {next(iter(s)): r for r, s in enumerate(s for s in support_of if len(s) == 1)}
    rules = []
    for itemset, support in support_of.items():
        items = sorted(itemset, key=lambda item: rank.get(item, len(rank)))
        for size in range(1, len(items)):
            for antecedent in map(frozenset, itertools.combinations(items, size)):
                consequent = itemset - antecedent
                for part in (antecedent, consequent):
                    if part not in support_of:
                        raise UsageError(f"frequent: the subset {set(part)} of {set(itemset)} is "
                                         "missing; pass apriori()'s whole output")
                confidence = support / support_of[antecedent]
                if confidence >= min_confidence * (1 - _ROUNDING):
                    rules.append(Rule(antecedent, consequent, support, confidence,
                                      confidence / support_of[consequent]))
    return rules


def _brute_force(matrix, min_support, item_names):
    """The reference: all 2^m - 1 itemsets counted, with no pruning at all.

    Counted another way than :func:`apriori` on purpose: each item is a bit mask
    of the baskets holding it (a Python int), an itemset's baskets are the AND
    of its items' masks, and its count is the number of bits set.
    """
    n, m = matrix.shape
    masks = [sum(1 << int(i) for i in np.flatnonzero(column)) for column in matrix.T]
    found = {}
    for size in range(1, m + 1):
        for combo in itertools.combinations(range(m), size):
            baskets = masks[combo[0]]
            for j in combo[1:]:
                baskets &= masks[j]
            support = baskets.bit_count() / n
            if support >= min_support:
                found[frozenset(item_names[j] for j in combo)] = support
    return found


def compare(seed=0, fast=False, min_support=0.2):
    """Apriori against brute force on baskets made from a scikit-learn data set.

    No shopping-basket data ships with scikit-learn (and scikit-learn has no
    Apriori), so the baskets are the wine data's 178 samples, each holding the
    features on which it lies above that feature's median (13 possible items),
    and the reference is the brute-force count of all 2^13 - 1 = 8,191 itemsets.
    Apriori is unsupervised counting, so there is no held-out split.

    Args:
      seed: unused (nothing is random); kept for the chapter's common signature.
      fast: unused: the whole comparison takes well under a second.
      min_support: the threshold both sides use.

    Returns:
      A list with one dict (the keys of the chapter's comparison table); the
      "sklearn" column holds the brute-force reference.
    """
    from sklearn.datasets import load_wine

    del seed, fast
    wine = load_wine()
    matrix = wine.data > np.median(wine.data, axis=0)        # [178, 13] booleans
    names = [f"{feature} > median" for feature in wine.feature_names]
    row = {}
    with timed(row, "ours_seconds"):
        ours = dict(apriori(matrix, min_support, item_names=names))
    with timed(row, "sklearn_seconds"):
        reference = _brute_force(matrix, min_support, names)
    same = ours == reference
    return [dict(
        algorithm="Apriori",
        dataset=f"wine (scikit-learn, {matrix.shape[0]} samples as baskets, "
                f"{matrix.shape[1]} items: feature > median)",
        metric=f"frequent itemsets (min support {min_support})",
        ours=float(len(ours)), sklearn=float(len(reference)),
        reference="brute force (scikit-learn has no Apriori)",
        ours_seconds=row["ours_seconds"], sklearn_seconds=row["sklearn_seconds"],
        check=f"identical itemsets and supports to brute force over all "
              f"{2 ** matrix.shape[1] - 1:,} itemsets: {'yes' if same else 'no'}",
        passed=bool(same))]
