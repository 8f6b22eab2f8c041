"""Ethereum's hexary Merkle-Patricia trie, persistent, with deferred hashing and witness mode.

The trie is Ethereum's (yellow paper, appendix D): leaves and extensions carry a hex-prefix
encoded path, branches have 16 children and a value, a node whose RLP is shorter than 32 bytes
is inlined in its parent instead of being referenced by its hash, and the root is the keccak of
the root node's RLP (`EMPTY_TRIE_ROOT` for an empty trie).

Three things set it apart from a textbook implementation:

- Deferred hashing: `set` only builds new (dirty) nodes; `root_hash` encodes and hashes every
  dirty node once and caches its reference on it. A block of 2,000 account updates hashes each
  touched node once instead of once per update (DESIGN.md section 10).
- Persistence: nodes are never changed once built (only their cached reference is filled in),
  `set` copies the path it changes, so `copy` is O(1) and older copies stay valid.
- Witness mode: `Trie.from_witness(root, nodes)` keeps the nodes by hash and decodes each the
  first time it is touched; touching a node the witness lacks raises `MissingWitnessNode`.

The hot paths are written flat (no per-node helper calls where a loop will do): this module is
the state transition's floor, see bench/bench_state.py.

Spec: docs/spec/trie.md
"""

from __future__ import annotations

import gc
from binascii import hexlify, unhexlify
from collections.abc import Iterable, Iterator, Mapping

import sha3

from .constants import EMPTY_TRIE_ROOT
from .exceptions import InvalidProof, MissingWitnessNode

_keccak = sha3.keccak_256

_HEX_TO_NIBBLES = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))
_NIBBLES_TO_HEX = bytes.maketrans(bytes(range(16)), b"0123456789abcdef")
_EMPTY = b"\x80"
"""RLP of the empty string: an empty branch slot or an empty value."""
_SIXTEEN_HASH_HEADERS = b"\xa0" * 16


# --- nodes ---------------------------------------------------------------------------------
# `path` is a nibble string: bytes whose every byte is 0..15. `ref` is how a parent embeds the
# node: its RLP when shorter than 32 bytes, else b"\xa0" + keccak(RLP) (the RLP of the hash).
# `ref` is None while the node is dirty. Nodes are immutable apart from filling in `ref`.
#
# Wherever a node may stand (root, branch slot, extension child), a witness trie may instead hold
# the bare bytes b"\xa0" + hash of a node not decoded yet: its ref. Walkers resolve it through the
# trie's database, which then memoises the decoded node under the same ref. Bare bytes rather than
# a wrapper object, because decoding a branch creates up to 16 of them (DESIGN.md section 10).


class _Leaf:
    __slots__ = ("path", "value", "ref")

    def __init__(self, path: bytes, value: bytes, ref: bytes | None = None) -> None:
        self.path = path
        self.value = value
        self.ref = ref


class _Extension:
    __slots__ = ("path", "child", "ref")

    def __init__(self, path: bytes, child: _Child, ref: bytes | None = None) -> None:
        self.path = path
        self.child = child
        self.ref = ref


class _Branch:
    __slots__ = ("children", "value", "ref")

    def __init__(self, children: list[_Child | None], value: bytes, ref: bytes | None = None) -> None:
        self.children = children
        """16 slots, None for empty. Never mutated once the branch exists."""
        self.value = value
        self.ref = ref


_Node = _Leaf | _Extension | _Branch
_Child = _Node | bytes
"""A node, or the ref (b"\xa0" + hash) of a witness node not decoded yet."""
_Database = dict[bytes, bytes | _Node]
"""Witness nodes by ref: their RLP until first touched, then the decoded node."""


# --- RLP and hex-prefix helpers ------------------------------------------------------------


def _encode_bytes(data: bytes) -> bytes:
    """RLP of a byte string."""
    n = len(data)
    if n == 1 and data[0] < 0x80:
        return data
    if n < 56:
        return bytes((0x80 + n,)) + data
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0xB7 + len(length),)) + length + data


def _list_header(n: int) -> bytes:
    if n < 56:
        return bytes((0xC0 + n,))
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0xF7 + len(length),)) + length


def _to_nibbles(key: bytes) -> bytes:
    return hexlify(key).translate(_HEX_TO_NIBBLES)


def _hex_prefix(path: bytes, leaf: bool) -> bytes:
    """Yellow paper hex-prefix encoding of a nibble path with the leaf flag."""
    digits = path.translate(_NIBBLES_TO_HEX)
    if len(path) & 1:
        return unhexlify((b"3" if leaf else b"1") + digits)
    return unhexlify((b"20" if leaf else b"00") + digits)


def _common_prefix_length(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _encode_node(node: _Node) -> bytes:
    """The RLP of a node, committing (encoding and hashing) its dirty descendants first."""
    kind = type(node)
    if kind is _Branch:
        refs = [
            _EMPTY if c is None else c if c.__class__ is bytes else (c.ref or _commit(c))
            for c in node.children
        ]
        value = node.value
        refs.append(_encode_bytes(value) if value else _EMPTY)
        payload = b"".join(refs)
    elif kind is _Leaf:
        payload = _encode_bytes(_hex_prefix(node.path, True)) + _encode_bytes(node.value)
    elif kind is _Extension:
        child = node.child
        ref = child if child.__class__ is bytes else (child.ref or _commit(child))
        payload = _encode_bytes(_hex_prefix(node.path, False)) + ref
    else:
        raise TypeError(f"cannot encode {kind.__name__}")
    n = len(payload)
    if n < 56:
        return bytes((0xC0 + n,)) + payload
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0xF7 + len(length),)) + length + payload


def _commit(node: _Node) -> bytes:
    """Encode and hash a dirty node (and its dirty descendants); cache and return its ref."""
    encoded = _encode_node(node)
    ref = encoded if len(encoded) < 32 else b"\xa0" + _keccak(encoded).digest()
    node.ref = ref
    return ref


# --- decoding (witness and proof nodes) ----------------------------------------------------


def _read_item(raw: bytes, pos: int, end: int) -> tuple[bool, int, int]:
    """(is_list, payload start, item end) of the RLP item at `pos`; raises on overrun."""
    if pos >= end:
        raise InvalidProof("truncated trie node")
    b0 = raw[pos]
    if b0 < 0x80:
        start, stop, is_list = pos, pos + 1, False
    elif b0 < 0xB8:
        start, is_list = pos + 1, False
        stop = start + b0 - 0x80
    elif b0 < 0xC0:
        ll = b0 - 0xB7
        start, is_list = pos + 1 + ll, False
        stop = start + int.from_bytes(raw[pos + 1 : start], "big")
    elif b0 < 0xF8:
        start, is_list = pos + 1, True
        stop = start + b0 - 0xC0
    else:
        ll = b0 - 0xF7
        start, is_list = pos + 1 + ll, True
        stop = start + int.from_bytes(raw[pos + 1 : start], "big")
    if stop > end:
        raise InvalidProof("truncated trie node")
    return is_list, start, stop


def _decode_child(raw: bytes, pos: int, end: int) -> tuple[_Child | None, int]:
    """A child reference inside a node: empty, a 32-byte hash, or an inlined node."""
    b0 = raw[pos]
    if b0 == 0x80:
        return None, pos + 1
    if b0 == 0xA0:
        stop = pos + 33
        if stop > end:
            raise InvalidProof("truncated trie node")
        return raw[pos:stop], stop
    is_list, start, stop = _read_item(raw, pos, end)
    if not is_list:
        raise InvalidProof(f"trie node reference of {stop - start} bytes")
    if stop - pos >= 32:
        raise InvalidProof("inlined trie node of 32 bytes or more")
    return _decode_node(raw[pos:stop], None), stop


def _decode_node(raw: bytes, ref: bytes | None) -> _Node:
    """Decode one node's RLP. Hashed children stay refs, inlined ones are decoded."""
    if ref is None:
        ref = raw if len(raw) < 32 else b"\xa0" + _keccak(raw).digest()
    try:
        is_list, pos, end = _read_item(raw, 0, len(raw))
        if not is_list or end != len(raw):
            raise InvalidProof("trie node is not one RLP list")
        _, _, second = _read_item(raw, pos, end)
        _, _, third = _read_item(raw, second, end)
        if third == end:  # two items: a leaf or an extension
            is_list, start, stop = _read_item(raw, pos, end)
            if is_list or stop == start:
                raise InvalidProof("bad hex-prefix path")
            first = raw[start]
            flag = first >> 4
            if flag > 3:
                raise InvalidProof(f"bad hex-prefix flag {flag}")
            path = _to_nibbles(raw[start + 1 : stop])
            if flag & 1:
                path = bytes((first & 0x0F,)) + path
            elif first & 0x0F:
                raise InvalidProof("bad hex-prefix padding")
            if flag & 2:
                is_list, start, stop = _read_item(raw, second, end)
                if is_list:
                    raise InvalidProof("leaf value is a list")
                return _Leaf(path, raw[start:stop], ref)
            child, _ = _decode_child(raw, second, end)
            if child is None:
                raise InvalidProof("extension without a child")
            return _Extension(path, child, ref)
        if end - pos == 529 and raw[pos:end:33] == _SIXTEEN_HASH_HEADERS and raw[end - 1] == 0x80:
            # a full branch, the most common node of a witness: 16 hashes and no value
            return _Branch([raw[p : p + 33] for p in range(pos, end - 1, 33)], b"", ref)
        children: list[_Child | None] = []
        append = children.append
        p = pos
        for _ in range(16):
            b0 = raw[p]
            if b0 == 0x80:
                append(None)
                p += 1
            elif b0 == 0xA0 and p + 33 <= end:
                append(raw[p : p + 33])
                p += 33
            else:
                child, p = _decode_child(raw, p, end)
                append(child)
        is_list, start, stop = _read_item(raw, p, end)
        if is_list or stop != end:
            raise InvalidProof("trie node is neither a leaf, an extension nor a branch")
        return _Branch(children, raw[start:stop], ref)
    except IndexError as error:
        raise InvalidProof(f"malformed trie node: {error}") from error


def _resolve(ref: bytes, db: _Database) -> _Node:
    """The node behind a witness ref, decoded on first touch and memoised in `db`."""
    entry = db.get(ref)
    if entry is None:
        raise MissingWitnessNode(f"trie node {ref[1:].hex()} is not in the witness")
    if entry.__class__ is bytes:
        if len(entry) < 32:
            raise InvalidProof(f"trie node {ref[1:].hex()} is referenced by hash but is inlinable")
        entry = _decode_node(entry, ref)
        db[ref] = entry  # the same node whichever copy of the trie asks: sharing it is safe
    return entry


# --- updates -------------------------------------------------------------------------------


def _insert(node: _Child | None, path: bytes, i: int, value: bytes, db: _Database) -> _Child:
    """The node that replaces `node` once path[i:] maps to `value` below it (path-copied)."""
    if node is None:
        return _Leaf(path[i:], value)
    kind = type(node)
    if kind is bytes:
        resolved = _resolve(node, db)
        result = _insert(resolved, path, i, value, db)
        return node if result is resolved else result
    if kind is _Branch:
        if i == len(path):
            return node if node.value == value else _Branch(node.children, value)
        children = node.children
        index = path[i]
        child = children[index]
        new_child = _insert(child, path, i + 1, value, db)
        if new_child is child:
            return node
        children = children.copy()
        children[index] = new_child
        return _Branch(children, node.value)
    if kind is _Leaf:
        leaf_path = node.path
        rest = path[i:]
        if leaf_path == rest:
            return node if node.value == value else _Leaf(leaf_path, value)
        k = _common_prefix_length(leaf_path, rest)
        children = [None] * 16
        branch_value = b""
        if k == len(leaf_path):
            branch_value = node.value
        else:
            children[leaf_path[k]] = _Leaf(leaf_path[k + 1 :], node.value)
        if k == len(rest):
            branch_value = value
        else:
            children[rest[k]] = _Leaf(rest[k + 1 :], value)
        branch = _Branch(children, branch_value)
        return _Extension(leaf_path[:k], branch) if k else branch
    # extension
    ext_path = node.path
    n = len(ext_path)
    if path[i : i + n] == ext_path:
        child = node.child
        new_child = _insert(child, path, i + n, value, db)
        return node if new_child is child else _Extension(ext_path, new_child)
    rest = path[i:]
    k = _common_prefix_length(ext_path, rest)
    children = [None] * 16
    branch_value = b""
    children[ext_path[k]] = node.child if k + 1 == n else _Extension(ext_path[k + 1 :], node.child)
    if k == len(rest):
        branch_value = value
    else:
        children[rest[k]] = _Leaf(rest[k + 1 :], value)
    branch = _Branch(children, branch_value)
    return _Extension(ext_path[:k], branch) if k else branch


def _with_prefix(prefix: bytes, child: _Child, db: _Database) -> _Node:
    """A node equivalent to `child` reached through `prefix` (collapses after a delete).

    Needs the child's kind, so in witness mode the child must be in the witness.
    """
    if type(child) is bytes:
        child = _resolve(child, db)
    kind = type(child)
    if kind is _Leaf:
        return _Leaf(prefix + child.path, child.value)
    if kind is _Extension:
        return _Extension(prefix + child.path, child.child)
    return _Extension(prefix, child)


def _delete(node: _Child | None, path: bytes, i: int, db: _Database) -> _Child | None:
    """The node that replaces `node` once path[i:] is removed below it; `node` if absent."""
    if node is None:
        return None
    kind = type(node)
    if kind is bytes:
        resolved = _resolve(node, db)
        result = _delete(resolved, path, i, db)
        return node if result is resolved else result
    if kind is _Leaf:
        return None if node.path == path[i:] else node
    if kind is _Extension:
        ext_path = node.path
        n = len(ext_path)
        if path[i : i + n] != ext_path:
            return node
        child = node.child
        new_child = _delete(child, path, i + n, db)
        if new_child is child:
            return node
        # a branch below an extension keeps at least one entry, so new_child is not None
        return _with_prefix(ext_path, new_child, db)
    children = node.children
    if i == len(path):
        if not node.value:
            return node
        value = b""
    else:
        index = path[i]
        child = children[index]
        if child is None:
            return node
        new_child = _delete(child, path, i + 1, db)
        if new_child is child:
            return node
        children = children.copy()
        children[index] = new_child
        value = node.value
    live = [j for j in range(16) if children[j] is not None]
    if len(live) >= 2 or (live and value):
        return _Branch(children, value)
    if not live:
        return _Leaf(b"", value) if value else None
    j = live[0]
    return _with_prefix(bytes((j,)), children[j], db)


# --- bulk build ----------------------------------------------------------------------------
# Hex digits that start a leaf's RLP before its path digits, by path length in nibbles: the RLP
# string header of the hex-prefix (none when it is one byte below 0x80) and the flag nibble(s).
# Turning one hex string into bytes with unhexlify is the cheapest way to lay out a leaf here.
_LEAF_HEADS = [
    (b"" if (n + 2) // 2 == 1 else b"%02x" % (0x80 + (n + 2) // 2)) + (b"3" if n & 1 else b"20")
    for n in range(110)
]
_LEAF_HEAD_SIZES = [(n + 2) // 2 + ((n + 2) // 2 > 1) for n in range(110)]
"""The size of the RLP of a leaf's hex-prefix, by path length in nibbles."""
_LONG_STRING_HEADS = [b"b8%02x" % n for n in range(256)]
_SHORT_LIST_HEADS = [b"f8%02x" % n for n in range(256)]
_EMPTY_REFS = [_EMPTY] * 17
_FREEZE_KEYS = 10_000
"""From this many keys, `Trie.from_sorted` freezes the GC's generations after the build."""


def _build_sorted(keys: list[bytes], values: list[bytes]) -> _Node | None:
    """The committed trie of sorted, distinct `keys` mapped to non-empty `values`.

    One pass over the keys with a stack of the open branches (deepest last): the common prefix
    of each key with the next one says how deep that key's leaf hangs and which branches are
    complete, so every node is created once, encoded and hashed once, as soon as it is complete.
    """
    n = len(keys)
    if not n:
        return None
    from_bytes = int.from_bytes
    keccak = _keccak
    to_nibbles = _HEX_TO_NIBBLES
    to_hex = _NIBBLES_TO_HEX
    leaf_heads = _LEAF_HEADS
    leaf_head_sizes = _LEAF_HEAD_SIZES
    string_heads = _LONG_STRING_HEADS
    list_heads = _SHORT_LIST_HEADS
    empty_refs = _EMPTY_REFS
    # the open branches: depth, children, child refs (+ the value's RLP), value
    depths: list[int] = []
    childrens: list[list[_Child | None]] = []
    refss: list[list[bytes]] = []
    branch_values: list[bytes] = []

    key = keys[0]
    next_nibbles = hexlify(key).translate(to_nibbles)
    next_int = from_bytes(key, "big")
    key_size = len(key)
    prev = -1  # nibbles the current key shares with the previous one (-1: none before it)
    for i in range(n):
        nibbles = next_nibbles
        if i + 1 < n:
            key = keys[i + 1]
            next_nibbles = hexlify(key).translate(to_nibbles)
            current_int = next_int
            next_int = from_bytes(key, "big")
            if len(key) == key_size:
                # The nibbles two keys of one length share, from the highest bit where they
                # differ: one C-level step instead of a Python loop over nibbles.
                shared = (8 * key_size - (current_int ^ next_int).bit_length()) >> 2
            else:
                key_size = len(key)
                shared = _common_prefix_length(nibbles, next_nibbles)
        else:
            shared = -1
        # The key's leaf hangs from the deeper of the branches it shares with its neighbours.
        if prev < shared:
            depth = shared
            depths.append(depth)
            childrens.append([None] * 16)
            refss.append(empty_refs.copy())
            branch_values.append(b"")
        else:
            depth = prev
        value = values[i]
        start = depth + 1
        if start > len(nibbles):  # the key ends at the branch: a prefix of the next key
            branch_values[-1] = value
            refss[-1][16] = _encode_bytes(value)
        else:
            path = nibbles[start:]
            size = len(path)
            value_size = len(value)
            total = leaf_head_sizes[size] + 2 + value_size if size < 110 else 256
            if 55 < value_size and total < 256:  # a long value in a short list: any account
                ref = b"\xa0" + keccak(unhexlify(
                    list_heads[total] + leaf_heads[size] + path.translate(to_hex)
                    + string_heads[value_size]) + value).digest()
                leaf = _Leaf(path, value, ref)
            else:
                leaf = _Leaf(path, value)
                ref = _commit(leaf)
            if depth < 0:  # a single key
                return leaf
            slot = nibbles[depth]
            childrens[-1][slot] = leaf
            refss[-1][slot] = ref
        # Close the branches deeper than what this key shares with the next one.
        while depths[-1] > shared:
            depth = depths.pop()
            payload = b"".join(refss.pop())
            size = len(payload)
            if size < 56:
                encoded = bytes((0xC0 + size,)) + payload
            elif size < 256:
                encoded = bytes((0xF8, size)) + payload
            elif size < 65536:  # 16 hashes make 529 bytes
                encoded = bytes((0xF9, size >> 8, size & 255)) + payload
            else:
                encoded = _list_header(size) + payload
            node = _Branch(childrens.pop(), branch_values.pop(),
                           encoded if size < 31 else b"\xa0" + keccak(encoded).digest())  # <32: inlined
            if depths and depths[-1] >= shared:
                parent = depths[-1]
            elif shared >= 0:  # the branch where this key and the next part
                parent = shared
                depths.append(parent)
                childrens.append([None] * 16)
                refss.append(empty_refs.copy())
                branch_values.append(b"")
            else:  # the root
                if depth:
                    node = _Extension(nibbles[:depth], node)
                    _commit(node)
                return node
            if depth > parent + 1:
                node = _Extension(nibbles[parent + 1 : depth], node)
                ref = _commit(node)
            else:
                ref = node.ref
            slot = nibbles[parent]
            childrens[-1][slot] = node
            refss[-1][slot] = ref
        prev = shared
    raise AssertionError("unreachable: the last key closes every branch")


# --- the trie ------------------------------------------------------------------------------


class Trie:
    """A persistent Merkle-Patricia trie from bytes keys to bytes values.

    Spec: docs/spec/trie.md#algorithm
    """

    __slots__ = ("_root", "_db")

    def __init__(self) -> None:
        self._root: _Child | None = None
        self._db: _Database = {}
        """Witness nodes by ref (empty for a full trie); shared by copies, only ever memoises."""

    @classmethod
    def from_items(cls, items: Iterable[tuple[bytes, bytes]]) -> Trie:
        """Build a trie from (key, value) pairs (genesis); later pairs override earlier ones
        with the same key. See `from_mapping`.

        Spec: docs/spec/trie.md#bulk-build
        """
        return cls.from_mapping(dict(items))

    @classmethod
    def from_mapping(cls, mapping: Mapping[bytes, bytes]) -> Trie:
        """Build a trie holding `mapping` (genesis); keys with an empty value are left out.
        See `from_sorted`.

        Spec: docs/spec/trie.md#bulk-build
        """
        # nibble order is byte order, so sorting the raw keys sorts the paths
        if all(mapping.values()):  # the usual case, checked without a Python-level loop
            keys = sorted(mapping)
        else:
            keys = sorted(key for key, value in mapping.items() if value)
        return cls.from_sorted(keys, [mapping[key] for key in keys])

    @classmethod
    def from_sorted(cls, keys: list[bytes], values: list[bytes]) -> Trie:
        """Build a trie mapping `keys[i]` to `values[i]` in one pass (genesis). The caller
        guarantees that `keys` are sorted and distinct and that no value is empty.

        The result is fully hashed: `root_hash()` costs nothing afterwards.

        Spec: docs/spec/trie.md#bulk-build
        """
        trie = cls()
        # A genesis allocates ~1.8 objects the cyclic GC tracks per key at once. Left to it, the
        # GC would rescan the young trie over and over during the build (about 40% of it) and
        # then again in each older generation, yet it can find no cycle in a trie.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            trie._root = _build_sorted(keys, values)
        finally:
            if gc_was_enabled:
                # A genesis-sized trie lives as long as the node: freezing takes it (and
                # whatever else is alive now) out of every later collection, the first of which
                # would otherwise come right away and scan the whole new trie (~50 ms per 100k
                # keys). Objects frozen are still freed by reference counting.
                if len(keys) >= _FREEZE_KEYS:
                    gc.freeze()
                gc.enable()
        return trie

    @classmethod
    def from_witness(cls, root: bytes, nodes: Iterable[bytes]) -> Trie:
        """A trie over the state whose root is `root`, knowing only the witness `nodes`.

        Nodes are indexed by their keccak and decoded when first touched; touching a node
        that is not there raises `MissingWitnessNode`.

        Spec: docs/spec/trie.md#witness-mode
        """
        trie = cls()
        if root == EMPTY_TRIE_ROOT:
            return trie
        db: _Database = {b"\xa0" + _keccak(node).digest(): bytes(node) for node in nodes}
        trie._db = db
        root_ref = b"\xa0" + root
        raw = db.get(root_ref)
        if raw is not None and len(raw) < 32:  # a short root: hashed only because it is the root
            trie._root = _decode_node(raw, raw)
        else:
            trie._root = root_ref
        return trie

    def copy(self) -> Trie:
        """An independent trie sharing every node with this one (O(1)).

        Spec: docs/spec/trie.md#persistence
        """
        other = Trie.__new__(Trie)
        other._root = self._root
        other._db = self._db
        return other

    def get(self, key: bytes) -> bytes | None:
        """The value at `key`, or None.

        Spec: docs/spec/trie.md#algorithm
        """
        path = _to_nibbles(key)
        node = self._root
        i = 0
        n = len(path)
        while node is not None:
            kind = type(node)
            if kind is _Branch:
                if i == n:
                    return node.value or None
                node = node.children[path[i]]
                i += 1
            elif kind is _Leaf:
                return node.value if node.path == path[i:] else None
            elif kind is _Extension:
                ext_path = node.path
                j = i + len(ext_path)
                if path[i:j] != ext_path:
                    return None
                i = j
                node = node.child
            else:
                node = _resolve(node, self._db)
        return None

    def set(self, key: bytes, value: bytes) -> None:
        """Map `key` to `value`; an empty value deletes the key.

        Only builds new nodes; hashing waits for `root_hash`.

        Spec: docs/spec/trie.md#algorithm
        """
        path = _to_nibbles(key)
        if value:
            self._root = _insert(self._root, path, 0, value, self._db)
        else:
            self._root = _delete(self._root, path, 0, self._db)

    def delete(self, key: bytes) -> None:
        """Remove `key` (same as `set(key, b"")`).

        Spec: docs/spec/trie.md#algorithm
        """
        self._root = _delete(self._root, _to_nibbles(key), 0, self._db)

    def commit_steps(self) -> Iterator[None]:
        """Hash the dirty nodes one subtree of the root at a time, yielding after each, so that
        a caller on an event loop can answer requests in between; `root_hash()` then has only
        the root left to encode. Hashing is deferred and cached, so the result is the same.

        Spec: docs/spec/trie.md#deferred-hashing
        """
        root = self._root
        if type(root) is _Branch:
            for child in root.children:
                if child is not None and child.__class__ is not bytes and child.ref is None:
                    _commit(child)
                    yield

    def root_hash(self) -> bytes:
        """keccak of the root node's RLP, hashing each dirty node once.

        Spec: docs/spec/trie.md#deferred-hashing
        """
        root = self._root
        if root is None:
            return EMPTY_TRIE_ROOT
        if type(root) is bytes:
            return root[1:]
        ref = root.ref or _commit(root)
        if len(ref) == 33:
            return ref[1:]
        return _keccak(ref).digest()

    def _proof_nodes(self, path: bytes, out: dict[bytes, bytes]) -> None:
        """Add the RLP of the hashed nodes (and the root) on `path`'s walk to `out`, by ref.

        The trie must be committed (every ref filled in).
        """
        db = self._db
        node = self._root
        i = 0
        n = len(path)
        first = True
        while node is not None:
            if type(node) is bytes:
                node = _resolve(node, db)
            ref = node.ref
            if ref not in out and (first or len(ref) == 33):
                out[ref] = _encode_node(node)
            first = False
            kind = type(node)
            if kind is _Branch:
                if i == n:
                    return
                node = node.children[path[i]]
                i += 1
            elif kind is _Extension:
                ext_path = node.path
                j = i + len(ext_path)
                if path[i:j] != ext_path:
                    return
                i = j
                node = node.child
            else:
                return

    def get_proof(self, key: bytes) -> list[bytes]:
        """The RLP of the nodes from the root towards `key` (eth_getProof's accountProof).

        Inlined nodes are inside their parent's RLP and not listed, except the root which always
        is. Proves presence (ending at the key's leaf) or absence (ending where the path stops).

        Spec: docs/spec/trie.md#proofs
        """
        self.root_hash()
        out: dict[bytes, bytes] = {}
        self._proof_nodes(_to_nibbles(key), out)
        return list(out.values())

    def build_witness(self, keys: Iterable[bytes]) -> list[bytes]:
        """The deduplicated union of the proof nodes of every key against the current root.

        Enough to get and set each of these keys on `Trie.from_witness` and compute the new root,
        inserts included. A delete that collapses a branch needs the remaining sibling too, which
        this does not add: such a delete in witness mode may raise `MissingWitnessNode`.

        Spec: docs/spec/trie.md#witness-mode
        """
        self.root_hash()
        out: dict[bytes, bytes] = {}
        for key in keys:
            self._proof_nodes(_to_nibbles(key), out)
        return list(out.values())


def verify_proof(root: bytes, key: bytes, proof: list[bytes]) -> bytes | None:
    """The value `proof` proves for `key` under `root`, or None if it proves the key absent.

    Raises `InvalidProof` when the proof lacks a node on the key's path or holds a malformed one.

    Spec: docs/spec/trie.md#proofs
    """
    if root == EMPTY_TRIE_ROOT:
        return None
    try:
        return Trie.from_witness(root, proof).get(key)
    except MissingWitnessNode as error:
        raise InvalidProof(f"proof for key {key.hex()} is incomplete: {error}") from error
