"""Move a model's large initializers out of the ONNX file into a data file beside it (ONNX "external data").

Why: onnxruntime-web copies a model's bytes into its wasm heap and parses the weights out of that
copy, so a model held inside the .onnx file sits in memory about three times while its session is
created. With the weights in FILE.onnx_data the graph is small and each initializer is copied once,
straight into the tensor that keeps it. The data file follows the onnx package's layout: every
tensor's bytes at an offset aligned to 4,096 (so a reader can map it), named in the TensorProto's
`external_data` entries (location, offset, length) with `data_location` = EXTERNAL.
"""

from __future__ import annotations

from collections.abc import Iterator

from hearth.graph.proto import bytes_field, int_field

ALIGN = 4096
EXTERNAL = 1  # TensorProto.DataLocation
MODEL_GRAPH, GRAPH_INITIALIZER, TENSOR_RAW_DATA = 7, 5, 9
TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION = 13, 14


def _read_varint(data: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: memoryview) -> Iterator[tuple[int, int, memoryview]]:
    """(field number, wire type, raw encoding of the whole field) for each field of a message."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _read_varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            pos += length
        else:
            raise ValueError(f"protobuf wire type {wire} is not used by ONNX")
        yield field, wire, data[start:pos]


def _payload(encoded: memoryview) -> memoryview:
    """The bytes of a length-delimited field, without its key and length."""
    _, pos = _read_varint(encoded, 0)
    _, pos = _read_varint(encoded, pos)
    return encoded[pos:]


def _entry(key: str, value: str) -> bytes:
    return bytes_field(TENSOR_EXTERNAL_DATA, bytes_field(1, key) + bytes_field(2, value))


def split_external(model: bytes, location: str, min_bytes: int = 1024) -> tuple[bytes, bytes]:
    """(model without the large weights, data file) for a serialized ModelProto.

    Initializers whose raw data is at least `min_bytes` go to the data file, which the model names
    `location` (a path relative to the .onnx file); smaller ones stay inline."""
    data = bytearray()
    out_model = bytearray()
    for field, _, encoded in _fields(memoryview(model)):
        if field != MODEL_GRAPH:
            out_model += encoded
            continue
        graph = bytearray()
        for g_field, _, g_encoded in _fields(_payload(encoded)):
            if g_field != GRAPH_INITIALIZER:
                graph += g_encoded
                continue
            tensor = bytearray()
            raw = None
            for t_field, _, t_encoded in _fields(_payload(g_encoded)):
                if t_field == TENSOR_RAW_DATA and len(_payload(t_encoded)) >= min_bytes:
                    raw = _payload(t_encoded)
                else:
                    tensor += t_encoded
            if raw is not None:
                data += bytes(-len(data) % ALIGN)
                tensor += _entry("location", location) + _entry("offset", str(len(data)))
                tensor += _entry("length", str(len(raw))) + int_field(TENSOR_DATA_LOCATION, EXTERNAL)
                data += raw
            graph += bytes_field(GRAPH_INITIALIZER, bytes(tensor))
        out_model += bytes_field(MODEL_GRAPH, bytes(graph))
    return bytes(out_model), bytes(data)

