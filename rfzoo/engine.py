"""Receptive-field arithmetic on a graph of per-axis transforms. Never imports torch.

Per axis, unit ``i`` of a node sees input pixels ``[lo + i*jump, hi + i*jump]`` while
every op on the way is affine (convolution, pooling, padding, pointwise ops, merges of
equal jumps). For a single chain this is exactly the guide's recursion:

    n_out = floor((n_in + 2p - k_eff) / s) + 1     (taken from the traced shapes)
    j_out = j_in * s
    r_out = r_in + (k_eff - 1) * j_in
    start_out = start_in + ((k_eff - 1)/2 - p) * j_in

Merges take the union of their inputs' intervals (the RF is the largest over paths)
and also keep the smallest path. Once upsampling or a merge of unequal jumps is
upstream, a unit's RF depends on its position, so the engine maps concrete output
units back through the graph, over one period of positions, and reports the largest
and smallest RF among them (and, per position, the smallest path's RF).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from rfzoo.transforms import IDENTITY, Transform

# Largest number of unit positions mapped back exactly per node and axis. Periods
# above it (odd resize ratios) are sampled over this many central units.
MAX_PERIOD = 64


@dataclass(frozen=True)
class Edge:
    """An input of a node: the source node and, per axis, how units map (None: axis not carried)."""

    source: str
    maps: tuple[Transform | None, ...]


@dataclass
class GraphNode:
    """One node of the abstract graph the engine works on."""

    name: str
    op: str
    kind: str
    edges: list[Edge]
    output_size: tuple[int | None, ...]
    # The op mixes every position of its input into every output unit.
    mixes_all: bool = False
    # The op passes local structure on (False for global pooling: nothing local remains).
    keeps_local: bool = True
    # The node is the network input.
    is_input: bool = False


@dataclass
class AxisRF:
    """The receptive field of a node's units along one axis, in input pixels."""

    jump: Fraction
    lo: Fraction  # unit 0's RF starts here (hull over paths)
    hi: Fraction
    rf: int  # largest RF over paths and unit positions
    rf_min: int  # smallest path's RF over unit positions
    min_lo: Fraction  # unit 0's interval along the smallest path (affine nodes only)
    min_hi: Fraction
    affine: bool  # same RF at every unit position, closed form holds
    period: int  # positions after which the pattern repeats
    # unit 0's innermost ends over paths: the latest first pixel and the earliest last pixel
    # (affine nodes only; they bound every path's interval from inside, see _lower_bound)
    in_lo: Fraction = Fraction(0)
    in_hi: Fraction = Fraction(0)

    @property
    def center(self) -> Fraction:
        return (self.lo + self.hi) / 2

    @property
    def effective_padding(self) -> Fraction:
        return -self.lo


@dataclass
class NodeRF:
    name: str
    axes: list[AxisRF | None]  # None: no local RF (only global context, or a constant)
    is_global: bool
    depends_on_input: bool
    aligned: bool = True
    misalignment: str = ""
    border_units: list[int | None] = field(default_factory=list)


class ReceptiveFieldEngine:
    """Computes NodeRF for every node of a topologically ordered list of GraphNodes."""

    def __init__(self, nodes: Sequence[GraphNode], input_size: Sequence[int]) -> None:
        self.nodes = {n.name: n for n in nodes}
        self.order = [n.name for n in nodes]
        self.input_size = tuple(input_size)
        self.naxes = len(self.input_size)
        self.position = {name: i for i, name in enumerate(self.order)}
        self.results: dict[str, NodeRF] = {}
        # Memos of the exact pass (see map_units_back); entries never change once computed.
        self._end_memo: dict[tuple[int, int], dict[tuple[str, int], Fraction | float]] = {}  # (axis, side)
        self._min_memo: dict[int, dict[tuple[str, int, int], Fraction | float]] = {}  # per axis
        self._back_memo: dict[tuple[str, int], list[tuple[str, Callable[[int, int], tuple[int, int]], bool]]] = {}
        self._closed_memo: dict[tuple[str, int], _ClosedForm | None] = {}
        self._carried_memo: dict[tuple[str, int], list[tuple[str, Transform]]] = {}
        self._rep_memo: dict[tuple[str, int], str] = {}
        self._monotone_memo: dict[tuple[str, int], bool] = {}

    def global_origin(self, name: str) -> str | None:
        """The first node, in graph order, that mixes all positions on a path into `name`
        (itself included): from there on, `name` sees the whole input. None when no such path."""
        seen, stack, origins = {name}, [name], []
        while stack:
            node = self.nodes[stack.pop()]
            rec = self.results.get(node.name)
            if node.mixes_all and rec is not None and rec.depends_on_input:
                origins.append(node.name)
            for edge in node.edges:
                if edge.source not in seen:
                    seen.add(edge.source)
                    stack.append(edge.source)
        return min(origins, key=self.position.__getitem__, default=None)

    # -- forward pass ---------------------------------------------------------------

    def run(self) -> dict[str, NodeRF]:
        for name in self.order:
            node = self.nodes[name]
            rec = self._forward(node)
            self.results[name] = rec  # the exact pass below maps back through this node
            if any(a is not None and not a.affine for a in rec.axes):
                self._exact_over_positions(node, rec)
            rec.border_units = self._border_units(rec, node.output_size)
        return self.results

    def _forward(self, node: GraphNode) -> NodeRF:
        if node.is_input:
            axes = [
                AxisRF(Fraction(1), Fraction(0), Fraction(0), 1, 1, Fraction(0), Fraction(0), True, 1,
                       Fraction(0), Fraction(0))
                for _ in range(self.naxes)
            ]
            return NodeRF(node.name, list(axes), is_global=False, depends_on_input=True)

        inputs = [(e, self.results[e.source]) for e in node.edges]
        depends = any(r.depends_on_input for _, r in inputs)
        is_global = any(r.is_global for _, r in inputs) or (node.mixes_all and depends)
        local = [(e, r) for e, r in inputs if r.depends_on_input and any(a is not None for a in r.axes)]
        if not node.keeps_local or not local:
            return NodeRF(node.name, [None] * self.naxes, is_global, depends)

        axes: list[AxisRF | None] = []
        for k in range(self.naxes):
            carried = [(e.maps[k], r.axes[k]) for e, r in local if e.maps[k] is not None and r.axes[k] is not None]
            axes.append(self._combine(carried, node, k) if carried else None)
        rec = NodeRF(node.name, axes, is_global, depends)
        self._check_alignment(rec, local)
        return rec

    @staticmethod
    def _through(t: Transform, a: AxisRF) -> AxisRF:
        """Push one input's axis state through one transform (closed form when affine)."""
        lo_u, hi_u = t.back(0, 0)  # input units that unit 0 reads
        lo = a.lo + lo_u * a.jump
        hi = a.hi + hi_u * a.jump
        jump = a.jump * t.scale
        if t.affine and a.affine:
            min_lo = a.min_lo + lo_u * a.jump
            min_hi = a.min_hi + hi_u * a.jump
            rf = int(hi - lo) + 1
            rf_min = int(min_hi - min_lo) + 1
            return AxisRF(jump, lo, hi, rf, rf_min, min_lo, min_hi, True, a.period,
                          a.in_lo + lo_u * a.jump, a.in_hi + hi_u * a.jump)
        period = _period_after(t, a)
        # Placeholders: the exact pass over positions fills rf and rf_min.
        return AxisRF(jump, lo, hi, int(hi - lo) + 1, int(hi - lo) + 1, lo, hi, False, period)

    def _shape_stride(self, node: GraphNode, k: int) -> Fraction | None:
        """Input pixels per unit of the node's map along axis k (224 / 7 = 32), if known."""
        n = node.output_size[k] if k < len(node.output_size) else None
        extent = self.input_size[k] if k < len(self.input_size) else None
        return Fraction(extent, n) if n and extent else None

    def _combine(self, carried: list[tuple[Transform, AxisRF]], node: GraphNode, k: int) -> AxisRF:
        states = [self._through(t, a) for t, a in carried]
        if len(states) == 1:
            return states[0]
        jumps = {s.jump for s in states}
        lo = min(s.lo for s in states)
        hi = max(s.hi for s in states)
        if len(jumps) == 1 and all(s.affine for s in states):
            smallest = min(states, key=lambda s: (s.rf_min, s.min_lo))
            return AxisRF(
                states[0].jump, lo, hi, int(hi - lo) + 1, smallest.rf_min,
                smallest.min_lo, smallest.min_hi, True, 1,
                max(s.in_lo for s in states), min(s.in_hi for s in states),
            )
        period = math.lcm(*(s.period for s in states))
        # Mismatched jumps (a resize that is not a whole factor, align_corners): the node's
        # grid is the input's whose spacing is nearest the map's own, input pixels per unit
        # (CSATv2's gate resized back onto its residual: the residual's 8, not the gate's
        # 6.97, which compounded to 20.4 where the last map's stride is 64). Each unit's
        # exact box is separate (`unit_box`).
        stride = self._shape_stride(node, k)
        jump = min(jumps, key=lambda j: (abs(j - stride), j)) if stride is not None else min(jumps)
        return AxisRF(jump, lo, hi, int(hi - lo) + 1, int(hi - lo) + 1, lo, hi, False, period)

    def _check_alignment(self, rec: NodeRF, local: list[tuple[Edge, NodeRF]]) -> None:
        if len(local) < 2:
            return
        problems = []
        for k in range(self.naxes):
            states = [
                self._through(e.maps[k], r.axes[k])
                for e, r in local
                if e.maps[k] is not None and r.axes[k] is not None
            ]
            jumps = sorted({s.jump for s in states})
            centers = sorted({s.center for s in states})
            if len(jumps) > 1:
                problems.append(f"axis {k}: jumps {', '.join(_fmt(j) for j in jumps)}")
            elif len(centers) > 1:
                problems.append(f"axis {k}: centers {', '.join(_fmt(c) for c in centers)}")
        if problems:
            rec.aligned = False
            rec.misalignment = "; ".join(problems)

    # -- exact pass over unit positions ---------------------------------------------

    def _exact_over_positions(self, node: GraphNode, rec: NodeRF) -> None:
        for k, axis in enumerate(rec.axes):
            if axis is None or axis.affine:
                continue
            rep = self._rep(node.name, k)
            if rep != node.name:  # identity chain: the same units see the same pixels
                done = self.results[rep].axes[k]
                assert done is not None
                axis.rf, axis.rf_min, axis.lo, axis.hi = done.rf, done.rf_min, done.lo, done.hi
                continue
            n = node.output_size[k]
            # One period of positions, but only units that exist: past the map's end the
            # pattern would report RFs no unit has (and cost a map_units_back each).
            count = min(axis.period, MAX_PERIOD, n or MAX_PERIOD)
            start = max(0, (n or 1) // 2 - count // 2)
            sizes_max, sizes_min = [], []
            for u in range(start, start + count):
                hull, smallest = self.map_units_back(node.name, k, u, u)
                sizes_max.append(hull[1] - hull[0] + 1)
                sizes_min.append(smallest)
            axis.rf = max(sizes_max)
            axis.rf_min = min(sizes_min)
            first, last = self.unit_hull(node.name, k, 0)
            axis.lo, axis.hi = Fraction(first), Fraction(last)

    def map_units_back(self, name: str, k: int, lo: int, hi: int) -> tuple[tuple[int, int], int]:
        """Input-pixel hull of units lo..hi of node `name` along axis k, and the smallest path's size.

        Recurses back through the graph only until it reaches nodes whose RF is affine,
        where the closed form takes over. The hull of a range is (first pixel of unit lo,
        last pixel of unit hi) where end pixels move monotonically with the unit; after
        bicubic taps they need not, and every unit of the range counts. The smallest path
        from a range is the smallest over the node's edges. Both are memoized per node
        and unit (range), so mapping a whole period, or every unit for border counts,
        shares the work between units and between nodes.
        """
        first = self._unit_end(name, k, lo, 0)
        last = self._unit_end(name, k, hi, 1)
        return (int(first), int(last)), int(self._smallest(name, k, lo, hi))

    def unit_hull(self, name: str, k: int, unit: int) -> tuple[int, int]:
        """`map_units_back`'s hull of one unit, without the smallest path (the costly part)."""
        return int(self._unit_end(name, k, unit, 0)), int(self._unit_end(name, k, unit, 1))

    def _carried(self, name: str, k: int) -> list[tuple[str, Transform]]:
        key = (name, k)
        found = self._carried_memo.get(key)
        if found is None:
            found = []
            for edge in self.nodes[name].edges:
                t = edge.maps[k]
                src = self.results[edge.source]
                if t is not None and src.axes[k] is not None and src.depends_on_input:
                    found.append((edge.source, t))
            self._carried_memo[key] = found
        return found

    def _rep(self, name: str, k: int) -> str:
        """The node a chain of single identity edges leads back to (norms, activations, reshapes):
        the same units see the same pixels, so the memos key on it and skip the chain."""
        key = (name, k)
        rep = self._rep_memo.get(key)
        if rep is None:
            carried = self._carried(name, k)
            axis = self.results[name].axes[k]
            single = len(carried) == 1 and carried[0][1] == IDENTITY and axis is not None and not axis.affine
            rep = self._rep(carried[0][0], k) if single else name
            self._rep_memo[key] = rep
        return rep

    def _unit_end(self, name: str, k: int, unit: int, side: int, inner: bool = False) -> Fraction | float:
        """First (side 0) or last (side 1) input pixel of one unit over all paths, iteratively
        (deep graphs). `inner`: the innermost end over paths instead (the latest first pixel,
        the earliest last pixel), or a bound from inside of it: what _lower_bound needs."""
        memo = self._end_memo.setdefault((k, side, inner), {})
        name = self._rep(name, k)
        stack = [(name, unit)]
        pending: dict[tuple[str, int], list[tuple[str, int]]] = {}
        pick = (min if side else max) if inner else (max if side else min)
        while stack:
            key = stack[-1]
            if key in memo:
                stack.pop()
                continue
            nm, u = key
            closed = self._closed_form(nm, k)
            if closed is not None:
                end = (closed.in_hi if side else closed.in_lo) if inner else (closed.hi if side else closed.lo)
                memo[key] = end + u * closed.jump
                stack.pop()
                continue
            children = pending.get(key)
            if children is None:
                children = pending[key] = self._end_children(nm, k, u, side, inner)
                missing = [c for c in children if c not in memo]
                if missing:
                    stack.extend(missing)
                    continue
            values = [memo[c] for c in children]
            memo[key] = pick(values) if values else (-math.inf if side else math.inf)
            stack.pop()
        return memo[(name, unit)]

    def _end_children(self, name: str, k: int, unit: int, side: int, inner: bool) -> list[tuple[str, int]]:
        """The (node, unit) pairs whose first (last) pixel can be the unit's first (last) pixel."""
        children = []
        for rep, back, monotone in self._back_edges(name, k):
            a, b = back(unit, unit)
            if monotone or inner:  # inner: a path's first pixel is at most that of unit a (bound)
                children.append((rep, b if side else a))
            else:  # after bicubic taps the end pixel of a range may come from any of its units
                children.extend((rep, v) for v in range(a, b + 1))
        return children

    def _back_edges(self, name: str, k: int) -> list[tuple[str, Callable[[int, int], tuple[int, int]], bool]]:
        """Per carried edge: the source's representative, the transform's back map, and
        whether the source's unit ends move monotonically."""
        key = (name, k)
        found = self._back_memo.get(key)
        if found is None:
            found = []
            for src, t in self._carried(name, k):
                rep = self._rep(src, k)
                found.append((rep, t.back, self._monotone(rep, k)))
            self._back_memo[key] = found
        return found

    def _closed_form(self, name: str, k: int) -> _ClosedForm | None:
        """An affine node's unit-0 hull, smallest-path size and jump (ints where exact: fast)."""
        key = (name, k)
        if key not in self._closed_memo:
            axis = self.results[name].axes[k]
            assert axis is not None
            self._closed_memo[key] = _ClosedForm(
                _int_if_whole(axis.lo), _int_if_whole(axis.hi), _int_if_whole(axis.min_hi - axis.min_lo + 1),
                _int_if_whole(axis.jump), _int_if_whole(axis.in_lo), _int_if_whole(axis.in_hi),
            ) if axis.affine else None
        return self._closed_memo[key]

    def _monotone(self, name: str, k: int) -> bool:
        """Do the end pixels of the node's units move monotonically with the unit's position?"""
        key = (name, k)
        found = self._monotone_memo.get(key)
        if found is None:
            axis = self.results[name].axes[k]
            found = axis is None or axis.affine or all(
                t.monotone and self._monotone(self._rep(src, k), k) for src, t in self._carried(name, k)
            )
            self._monotone_memo[key] = found
        return found

    def _smallest(self, name: str, k: int, lo: int, hi: int) -> Fraction | float:
        """Smallest input interval over paths from units lo..hi of `name` (its size in pixels).

        Branch and bound over the graph, iteratively (deep graphs): a state (node, range)
        tries its inputs in the order of a lower bound on their size and skips those whose
        bound is no better than the best found. Every state's value is exact (the bound only
        prunes within the state), so the memo serves every later query.
        """
        memo = self._min_memo.setdefault(k, {})
        root = (self._rep(name, k), lo, hi)
        frames: list[list] = [[root, None, 0, math.inf]]  # state, children by bound, next child, best
        while frames:
            frame = frames[-1]
            state, children, i, best = frame
            if state in memo:
                frames.pop()
                continue
            if children is None:
                nm, a, b = state
                closed = self._closed_form(nm, k)
                if closed is not None:
                    memo[state] = closed.min_size + (b - a) * closed.jump
                    frames.pop()
                    continue
                found = _innermost([(rep, *back(a, b)) for rep, back, _ in self._back_edges(nm, k)])
                children = frame[1] = sorted((self._lower_bound(c, k), c) for c in found)
            while i < len(children) and children[i][0] < best and children[i][1] in memo:
                best = min(best, memo[children[i][1]])
                i += 1
            frame[2], frame[3] = i, best
            if i < len(children) and children[i][0] < best:
                frames.append([children[i][1], None, 0, math.inf])
                continue
            memo[state] = best
            frames.pop()
        return memo[root]

    def _lower_bound(self, state: tuple[str, int, int], k: int) -> Fraction | float:
        """No path maps units a..b of the node to fewer pixels than (earliest last pixel of unit b)
        - (latest first pixel of unit a) + 1: its interval holds both."""
        name, a, b = state
        closed = self._closed_form(name, k)
        if closed is not None:
            return closed.min_size + (b - a) * closed.jump
        return self._unit_end(name, k, b, 1, inner=True) - self._unit_end(name, k, a, 0, inner=True) + 1

    def unit_box(self, name: str, unit: Sequence[int]) -> list[tuple[int, int] | None]:
        """Input-pixel box (inclusive, per axis) of one unit of node `name`: its local RF."""
        rec = self.results[name]
        box: list[tuple[int, int] | None] = []
        for k, axis in enumerate(rec.axes):
            if axis is None:
                box.append(None)
            elif axis.affine:
                u = unit[k]
                box.append((int(axis.lo + u * axis.jump), int(axis.hi + u * axis.jump)))
            else:
                box.append(self.unit_hull(name, k, unit[k]))
        return box

    # -- border effects -----------------------------------------------------------------

    def _border_units(self, rec: NodeRF, size: tuple[int | None, ...]) -> list[int | None]:
        """Per axis, how many of the node's units have an RF that reaches past the image border."""
        counts: list[int | None] = []
        for k, axis in enumerate(rec.axes):
            n = size[k] if k < len(size) else None
            if axis is None or n is None:
                counts.append(None)
                continue
            extent = self.input_size[k]
            if axis.rf > extent:
                counts.append(n)  # every unit's RF is wider than the image
            elif axis.affine:
                # unit u is cut when lo + u*j < 0 or hi + u*j > extent - 1
                left = math.ceil(-axis.lo / axis.jump) if axis.lo < 0 else 0
                first_right = math.floor((extent - 1 - axis.hi) / axis.jump) + 1
                right = n - max(first_right, 0)
                counts.append(min(n, max(0, left) + max(0, right)))
            else:
                counts.append(self._count_cut_exact(rec.name, k, n, extent))
        return counts

    def _count_cut_exact(self, name: str, k: int, n: int, extent: int) -> int:
        """Cut units form a prefix and a suffix (RFs move monotonically): scan in from both ends."""
        def cut(u: int) -> bool:
            lo, hi = self.unit_hull(name, k, u)
            return lo < 0 or hi > extent - 1

        left = 0
        while left < n and cut(left):
            left += 1
        right = 0
        while right < n - left and cut(n - 1 - right):
            right += 1
        return left + right


@dataclass(frozen=True)
class _ClosedForm:
    lo: Fraction | int
    hi: Fraction | int
    min_size: Fraction | int
    jump: Fraction | int
    in_lo: Fraction | int
    in_hi: Fraction | int


def _int_if_whole(x: Fraction) -> Fraction | int:
    return int(x) if x.denominator == 1 else x


def _innermost(children: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Drop a range that contains another range of the same node: on every path it maps to
    an interval at least as large, so it cannot be the smallest."""
    if len(children) < 2:
        return children
    return [c for c in dict.fromkeys(children) if not any(
        o[0] == c[0] and o != c and c[1] <= o[1] and o[2] <= c[2] for o in children)]


def _period_after(t: Transform, a: AxisRF) -> int:
    """Positions after which a non-affine transform's pattern repeats (an upper bound)."""
    ratio = Fraction(t.scale)  # input units per output unit
    # A transform with its own pattern (BlockBroadcast: blocks of `size` units) repeats no sooner.
    period_in = math.lcm(a.period, getattr(t, "period", 1))
    # Output units p later, the input moves p*ratio units; it must be a multiple of period_in.
    return max(1, (Fraction(period_in) / ratio).numerator)


def _fmt(x: Fraction) -> str:
    return str(int(x)) if x.denominator == 1 else f"{float(x):g}"
