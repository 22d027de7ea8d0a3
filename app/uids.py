"""UidArray: a folder's UID list at 4 bytes a UID, shared by the IMAP layer, cache and UI.

Its own module so that the header cache and the account can hold one without loading the IMAP
parser (start-up time).
"""

from __future__ import annotations

import collections
import itertools
import operator
import typing
from array import array
from collections.abc import Iterable
from typing import Any, SupportsIndex, overload

__all__ = ["UidArray", "ascending"]

if typing.TYPE_CHECKING:
    _IntArray = array[int]
else:
    _IntArray = array  # not subscriptable at run time before Python 3.12


class UidArray(_IntArray):
    """A list of UIDs (or sequence numbers) at 4 bytes each: a 100,000-message folder's list
    is 400 KB, against 3.6 MB as a list of ints, and never a heap of 100,000 int objects.

    It behaves as the list it replaces: equal to a list with the same numbers, slices and
    sums stay UidArrays, and `sort`, `clear` and `copy` exist. Values must fit 32 bits
    unsigned, as every IMAP UID and sequence number does (OverflowError otherwise).
    """

    __slots__ = ()

    def __new__(cls, items: Iterable[int] | bytes = (), /) -> UidArray:
        return typing.cast(UidArray, super().__new__(cls, "I", items))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, array):
            return array.__eq__(self, other)
        if isinstance(other, list):
            return len(self) == len(other) and all(map(operator.eq, self, other))
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]

    @overload
    def __getitem__(self, key: SupportsIndex) -> int: ...
    @overload
    def __getitem__(self, key: slice) -> UidArray: ...
    def __getitem__(self, key: SupportsIndex | slice) -> int | UidArray:
        got: Any = array.__getitem__(self, key)  # type: ignore[call-overload]
        if key.__class__ is slice:
            return UidArray(got)
        return got  # type: ignore[no-any-return]

    def __add__(self, other: Iterable[int]) -> UidArray:  # type: ignore[override]
        out = UidArray(self)
        out.extend(other)
        return out

    def __radd__(self, other: Iterable[int]) -> UidArray:
        out = UidArray(other)
        out.extend(self)
        return out

    def __iadd__(self, other: Iterable[int]) -> UidArray:  # type: ignore[override,misc]
        self.extend(other)
        return self

    def __copy__(self) -> UidArray:
        return UidArray(self)

    def __deepcopy__(self, memo: object) -> UidArray:
        return UidArray(self)

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[type[UidArray], tuple[bytes]]:
        return (UidArray, (self.tobytes(),))

    def __repr__(self) -> str:
        return f"UidArray({self.tolist()!r})"

    def copy(self) -> UidArray:
        return UidArray(self)

    def clear(self) -> None:
        del self[:]

    def sort(self, *, reverse: bool = False) -> None:
        """In place, as list.sort (the numbers pass through ints once, in one sorted list)."""
        self[:] = UidArray(sorted(self, reverse=reverse))


def ascending(uids: Iterable[int]) -> UidArray:
    """`uids` ascending without duplicates, as a new UidArray, with no list or set of Python
    ints on the way where it can be helped: a 1,000,000-UID list in display order sorted as
    ints costs ~36 MB for a moment (a set of them ~60 MB), this a bitmap of max(uids) bytes.

    An ascending or descending list is copied or reversed in C; other orders are marked in a
    bytearray indexed by UID (when the UIDs are not too sparse for one), else sorted."""
    arr = uids if isinstance(uids, UidArray) else UidArray(uids)
    count = len(arr)
    if count < 2:
        return UidArray(arr)
    nxt = itertools.islice(arr, 1, None)
    if all(map(operator.lt, arr, nxt)):
        return UidArray(arr)
    if all(map(operator.gt, arr, itertools.islice(arr, 1, None))):
        return arr[::-1]
    top = max(arr)
    if top > 8 * count + (1 << 20):
        return UidArray(sorted(set(arr)))
    seen = bytearray(top + 1)
    # C loops both: every UID's byte set, then the UIDs whose byte is set, in order.
    collections.deque(map(seen.__setitem__, arr, itertools.repeat(1)), maxlen=0)
    return UidArray(itertools.compress(range(top + 1), seen))
