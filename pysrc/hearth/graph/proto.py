"""The ONNX protobuf wire format, written by hand for the subset Hearth emits.

Why not the `onnx` package: it needs its C++ extension at import time, and there is no build of it
for Pyodide. Hearth builds training and decoder graphs in the browser, so it writes the bytes itself.
Field numbers follow onnx/onnx.proto3; `tests/graph/test_proto.py` parses our output back with the
real `onnx` package and runs `onnx.checker` on it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import numpy as np

# TensorProto.DataType
DTYPES: dict[str, int] = {
    "float32": 1, "uint8": 2, "int8": 3, "uint16": 4, "int16": 5, "int32": 6, "int64": 7,
    "bool": 9, "float16": 10, "float64": 11, "uint32": 12, "uint64": 13, "uint4": 21, "int4": 22,
}
# AttributeProto.AttributeType
ATTR_FLOAT, ATTR_INT, ATTR_STRING, ATTR_TENSOR, ATTR_GRAPH = 1, 2, 3, 4, 5
ATTR_FLOATS, ATTR_INTS, ATTR_STRINGS = 6, 7, 8


# ---------------------------------------------------------------- wire primitives

def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 two's complement, as protobuf does
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint((field << 3) | wire_type)


def int_field(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(int(value))


def bytes_field(field: int, value: bytes | str) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    return _key(field, 2) + _varint(len(value)) + value


def float_field(field: int, value: float) -> bytes:
    return _key(field, 5) + struct.pack("<f", value)


def packed_ints(field: int, values: Iterable[int]) -> bytes:
    return bytes_field(field, b"".join(_varint(int(v)) for v in values))


def packed_floats(field: int, values: Iterable[float]) -> bytes:
    values = list(values)
    return bytes_field(field, struct.pack(f"<{len(values)}f", *values))


# ---------------------------------------------------------------- messages

def tensor(name: str, array: np.ndarray) -> bytes:
    """TensorProto with raw little-endian data."""
    array = np.asarray(array)
    dtype = str(array.dtype)
    if dtype not in DTYPES:
        raise ValueError(f"ONNX has no tensor type for numpy dtype {dtype}")
    return (
        packed_ints(1, array.shape)
        + int_field(2, DTYPES[dtype])
        + bytes_field(8, name)
        + bytes_field(9, np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())
    )


def packed_tensor(name: str, data: bytes, dims: Iterable[int], data_type: int) -> bytes:
    """TensorProto from already-packed bytes (int4/uint4 pairs, which numpy cannot hold)."""
    return packed_ints(1, dims) + int_field(2, data_type) + bytes_field(8, name) + bytes_field(9, data)


def value_info(name: str, dtype: str, shape: Iterable[int | str | None] | None) -> bytes:
    """ValueInfoProto: a graph input or output; a str dimension is symbolic, None unknown."""
    tensor_type = int_field(1, DTYPES[dtype])
    if shape is not None:
        dims = b""
        for d in shape:
            if d is None:
                dims += bytes_field(1, b"")
            elif isinstance(d, str):
                dims += bytes_field(1, bytes_field(2, d))
            else:
                dims += bytes_field(1, int_field(1, d))
        tensor_type += bytes_field(2, dims)
    return bytes_field(1, name) + bytes_field(2, bytes_field(1, tensor_type))


def attribute(name: str, value: object) -> bytes:
    """AttributeProto, its type taken from the Python value."""
    head = bytes_field(1, name)
    if isinstance(value, bool | int | np.integer):
        return head + int_field(20, ATTR_INT) + int_field(3, int(value))
    if isinstance(value, float | np.floating):
        return head + int_field(20, ATTR_FLOAT) + float_field(2, float(value))
    if isinstance(value, str | bytes):
        return head + int_field(20, ATTR_STRING) + bytes_field(4, value)
    if isinstance(value, np.ndarray):
        return head + int_field(20, ATTR_TENSOR) + bytes_field(5, tensor("", value))
    if isinstance(value, GraphBytes):
        return head + int_field(20, ATTR_GRAPH) + bytes_field(6, value.data)
    if isinstance(value, list | tuple):
        if all(isinstance(v, bool | int | np.integer) for v in value):
            return head + int_field(20, ATTR_INTS) + packed_ints(8, value)
        if all(isinstance(v, int | float | np.number) for v in value):
            return head + int_field(20, ATTR_FLOATS) + packed_floats(7, value)
        if all(isinstance(v, str | bytes) for v in value):
            return head + int_field(20, ATTR_STRINGS) + b"".join(bytes_field(9, v) for v in value)
    raise TypeError(f"attribute {name!r}: no ONNX attribute type for {type(value).__name__}")


class GraphBytes:
    """An encoded GraphProto, used as a subgraph attribute (If, Loop, Scan)."""

    def __init__(self, data: bytes) -> None:
        self.data = data


def node(op_type: str, inputs: Iterable[str], outputs: Iterable[str], name: str = "",
         domain: str = "", **attributes: object) -> bytes:
    out = b"".join(bytes_field(1, i) for i in inputs)
    out += b"".join(bytes_field(2, o) for o in outputs)
    if name:
        out += bytes_field(3, name)
    out += bytes_field(4, op_type)
    out += b"".join(bytes_field(5, attribute(k, v)) for k, v in attributes.items() if v is not None)
    if domain:
        out += bytes_field(7, domain)
    return out


def graph(name: str, nodes: Iterable[bytes], inputs: Iterable[bytes], outputs: Iterable[bytes],
          initializers: Iterable[bytes] = ()) -> bytes:
    return (
        b"".join(bytes_field(1, n) for n in nodes)
        + bytes_field(2, name)
        + b"".join(bytes_field(5, t) for t in initializers)
        + b"".join(bytes_field(11, i) for i in inputs)
        + b"".join(bytes_field(12, o) for o in outputs)
    )


def model(graph_bytes: bytes, opsets: dict[str, int], ir_version: int = 8,
          producer: str = "hearth", metadata: dict[str, str] | None = None) -> bytes:
    out = int_field(1, ir_version) + bytes_field(2, producer)
    out += bytes_field(7, graph_bytes)
    for domain, version in opsets.items():
        out += bytes_field(8, bytes_field(1, domain) + int_field(2, version))
    for key, value in (metadata or {}).items():
        out += bytes_field(14, bytes_field(1, key) + bytes_field(2, value))
    return out
