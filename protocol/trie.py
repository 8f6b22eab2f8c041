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
from bisect import bisect_left
from collections.abc import Iterable

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


def _build(keys: list[bytes], values: list[bytes], lo: int, hi: int, depth: int) -> _Node:
    """The committed subtrie of sorted nibble keys[lo:hi], which share their first `depth` nibbles."""
    first = keys[lo]
    if hi - lo == 1:  # the leaf, encoded inline: this runs once per account at genesis
        path = first[depth:]
        value = values[lo]
        digits = path.translate(_NIBBLES_TO_HEX)
        hex_prefix = unhexlify(b"3" + digits) if len(path) & 1 else unhexlify(b"20" + digits)
        size = len(hex_prefix)  # a one-byte hex prefix is below 0x80: its own RLP
        payload = hex_prefix if size == 1 else _encode_bytes(hex_prefix)
        size = len(value)
        if 55 < size < 256:  # an account
            payload += bytes((0xB8, size)) + value
        else:
            payload += _encode_bytes(value)
        size = len(payload)
        if size < 56:
            encoded = bytes((0xC0 + size,)) + payload
        else:
            encoded = (bytes((0xF8, size)) if size < 256 else _list_header(size)) + payload
        return _Leaf(path, value, encoded if len(encoded) < 32 else b"\xa0" + _keccak(encoded).digest())
    last = keys[hi - 1]
    k = depth
    n = min(len(first), len(last))
    while k < n and first[k] == last[k]:
        k += 1
    if k > depth:
        node = _Extension(first[depth:k], _build(keys, values, lo, hi, k))
        _commit(node)
        return node
    children: list[_Node | None] = [None] * 16
    value = b""
    if len(first) == depth:
        value = values[lo]
        lo += 1
    prefix = first[:depth]
    d1 = depth + 1
    while lo < hi:
        index = keys[lo][depth]
        end = bisect_left(keys, prefix + bytes((index + 1,)), lo, hi)
        children[index] = _build(keys, values, lo, end, d1)
        lo = end
    node = _Branch(children, value)
    _commit(node)
    return node


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
        """Build a trie from (key, value) pairs in one pass over the sorted keys (genesis).

        Later pairs override earlier ones with the same key; empty values are skipped.
        The result is fully hashed: `root_hash()` costs nothing afterwards.

        Spec: docs/spec/trie.md#bulk-build
        """
        trie = cls()
        # A genesis allocates ~1.4 nodes per key at once; the cyclic GC would rescan the young
        # trie over and over (about 40% of the build) and can find no cycle in it.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            mapping = dict(items)
            raw_keys = sorted(key for key, value in mapping.items() if value)
            if raw_keys:
                # nibble order is byte order, so sorting the raw keys sorts the paths
                values = [mapping[key] for key in raw_keys]
                keys = [hexlify(key).translate(_HEX_TO_NIBBLES) for key in raw_keys]
                trie._root = _build(keys, values, 0, len(keys), 0)
        finally:
            if gc_was_enabled:
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
