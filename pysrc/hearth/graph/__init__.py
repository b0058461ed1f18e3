"""Build ONNX graphs in plain Python (CPython and Pyodide alike).

    g = Graph("mlp")
    x = g.input("x", "float32", ["batch", 4])
    w = g.initializer("w", np.ones((4, 2), np.float32))
    g.output(g.op("Relu", g.op("MatMul", x, w), name="y"), "float32", ["batch", 2])
    model_bytes = g.to_bytes()

Everything Hearth runs (training steps, inference exports, the LLM decoder) is made this way and
handed to `hearth.runtime` as bytes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from hearth.graph import proto

DEFAULT_OPSET = 17


class Graph:
    def __init__(self, name: str = "hearth") -> None:
        self.name = name
        self._nodes: list[bytes] = []
        self._inputs: list[bytes] = []
        self._outputs: list[bytes] = []
        self._initializers: list[bytes] = []
        self._names: set[str] = set()
        self._counts: dict[str, int] = {}
        self.domains: dict[str, int] = {}

    def fresh(self, hint: str) -> str:
        """A value name not used yet in this graph, readable in Netron: `hint`, `hint_1`, ..."""
        n = self._counts.get(hint, 0)
        name = hint if n == 0 and hint not in self._names else f"{hint}_{n}"
        while name in self._names:
            n += 1
            name = f"{hint}_{n}"
        self._counts[hint] = n + 1
        self._names.add(name)
        return name

    def _claim(self, name: str) -> str:
        if name in self._names:
            raise ValueError(f"graph {self.name!r} already has a value named {name!r}")
        self._names.add(name)
        return name

    def input(self, name: str, dtype: str, shape: Iterable[int | str | None] | None) -> str:
        self._inputs.append(proto.value_info(self._claim(name), dtype, None if shape is None else list(shape)))
        return name

    def output(self, value: str, dtype: str = "float32", shape: Iterable[int | str | None] | None = None,
               name: str | None = None) -> str:
        """Expose `value` as a graph output (renamed to `name` through an Identity if given)."""
        if name is not None and name != value:
            value = self.op("Identity", value, name=name)
        self._outputs.append(proto.value_info(value, dtype, None if shape is None else list(shape)))
        return value

    def initializer(self, name: str, array: np.ndarray) -> str:
        self._initializers.append(proto.tensor(self._claim(name), np.asarray(array)))
        return name

    def packed_initializer(self, name: str, data: bytes, dims: list[int], dtype: str) -> str:
        """An initializer of a type numpy cannot hold (int4/uint4), from its packed bytes."""
        self._initializers.append(proto.packed_tensor(self._claim(name), data, dims, proto.DTYPES[dtype]))
        return name

    def const(self, value: np.ndarray | list | float | int, dtype: str | None = None, hint: str = "const") -> str:
        """A small constant as an initializer (shapes, axes, scalars)."""
        array = np.asarray(value, dtype=dtype) if dtype else np.asarray(value)
        if array.dtype == np.float64 and dtype is None:
            array = array.astype(np.float32)
        name = self.fresh(hint)
        self._initializers.append(proto.tensor(name, array))
        return name

    def op(self, op_type: str, *inputs: str, outputs: int = 1, name: str | list[str] | None = None,
           domain: str = "", **attributes: object) -> str | tuple[str, ...]:
        """Add a node; returns its output name (or names if outputs > 1). Pass "" for a skipped input."""
        if isinstance(name, list):
            out_names = [self._claim(n) for n in name]
        elif name is not None:
            out_names = [self._claim(name)] if outputs == 1 else [self._claim(f"{name}_{i}") for i in range(outputs)]
        else:
            out_names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        if domain and domain not in self.domains:
            self.domains[domain] = 1
        self._nodes.append(proto.node(op_type, inputs, out_names, domain=domain, **attributes))
        return out_names[0] if len(out_names) == 1 else tuple(out_names)

    def subgraph(self) -> proto.GraphBytes:
        """This graph as an attribute value for If/Loop/Scan."""
        return proto.GraphBytes(self._graph_bytes())

    def _graph_bytes(self) -> bytes:
        return proto.graph(self.name, self._nodes, self._inputs, self._outputs, self._initializers)

    def to_bytes(self, opset: int = DEFAULT_OPSET, metadata: dict[str, str] | None = None) -> bytes:
        """The serialized ModelProto, ready for `Runtime.session`."""
        opsets = {"": opset, **self.domains}
        return proto.model(self._graph_bytes(), opsets, metadata=metadata)
