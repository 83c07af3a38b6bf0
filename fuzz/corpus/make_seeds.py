#!/usr/bin/env python3
"""Writes the hand-made seed files of fuzz/corpus (standard library only): python3 fuzz/corpus/make_seeds.py

Seeds are small on purpose: libFuzzer mutates them thousands of times a second, and each is also an xunit case
(FuzzCorpusTests). Files the fuzzer found (regress-*) are kept as they were found and are not written here.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- safetensors

ITEM = {"F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U32": 4, "I16": 2, "U16": 2,
        "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U64": 8}


def values(dtype, count, seed):
    """count elements of dtype as little-endian bytes, small and varied."""
    out = bytearray()
    for i in range(count):
        v = ((i * 7 + seed * 3) % 11 - 5) / 8.0
        if dtype == "F32":
            out += struct.pack("<f", v)
        elif dtype == "F64":
            out += struct.pack("<d", v)
        elif dtype == "F16":
            out += struct.pack("<e", v)
        elif dtype == "BF16":
            out += struct.pack("<f", v)[2:]
        elif dtype in ("I64", "U64"):
            out += struct.pack("<q", int(v * 8)) if dtype == "I64" else struct.pack("<Q", abs(int(v * 8)))
        elif dtype in ("I32", "U32"):
            out += struct.pack("<i" if dtype == "I32" else "<I", int(v * 8) if dtype == "I32" else abs(int(v * 8)))
        elif dtype in ("I16", "U16"):
            out += struct.pack("<h" if dtype == "I16" else "<H", int(v * 8) if dtype == "I16" else abs(int(v * 8)))
        elif dtype == "BOOL":
            out += bytes([i % 2])
        else:
            out += bytes([(i * 37 + seed) & 0xFF])
    return bytes(out)


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape); data in that order, as the reference writer lays it out."""
    header, data = {}, bytearray()
    if metadata is not None:
        header["__metadata__"] = metadata
    for seed, (name, dtype, shape) in enumerate(tensors):
        count = 1
        for d in shape:
            count *= d
        begin = len(data)
        data += values(dtype, count, seed)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, len(data)]}
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + bytes(data)


def raw_safetensors(header_text, data=b""):
    text = header_text.encode() if isinstance(header_text, str) else header_text
    return struct.pack("<Q", len(text)) + text + data


def rnn_tensors(kind, input_size, hidden, layers=1, bidirectional=False, bias=True, proj=0, prefix="", cell=False):
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    out_size = proj or hidden
    tensors = []
    for layer in range(layers):
        for direction in range(2 if bidirectional else 1):
            suffix = "" if cell else f"_l{layer}" + ("_reverse" if direction else "")
            layer_input = input_size if layer == 0 else out_size * (2 if bidirectional else 1)
            tensors.append((f"{prefix}weight_ih{suffix}", "F32", [gates * hidden, layer_input]))
            tensors.append((f"{prefix}weight_hh{suffix}", "F32", [gates * hidden, out_size]))
            if bias:
                tensors.append((f"{prefix}bias_ih{suffix}", "F32", [gates * hidden]))
                tensors.append((f"{prefix}bias_hh{suffix}", "F32", [gates * hidden]))
            if proj:
                tensors.append((f"{prefix}weight_hr{suffix}", "F32", [proj, hidden]))
    return tensors


def safetensors_seeds():
    t = "safetensors"
    write(t, "f32-with-metadata.safetensors",
          safetensors([("a.weight", "F32", [2, 3]), ("a.bias", "F32", [3]), ("scalar", "F32", [])],
                      metadata={"format": "pt", "note": "seed"}))
    write(t, "every-dtype.safetensors",
          safetensors([(f"t_{d.lower()}", d, [2, 2]) for d in ITEM] + [("empty", "F32", [3, 0])]))
    write(t, "unpadded-header.safetensors", safetensors([("x", "F16", [3])], pad=False))
    write(t, "zero-tensors.safetensors", raw_safetensors("{}"))
    write(t, "metadata-only.safetensors", raw_safetensors('{"__metadata__":{"k":"v"}}'))
    write(t, "zero-dim-after-huge-dims.safetensors",
          raw_safetensors('{"z":{"dtype":"F32","shape":[2147483647,2147483647,2147483647,0],"data_offsets":[0,0]}}'))
    # Broken files, one defect each.
    write(t, "bad-header-length-past-end.safetensors", struct.pack("<Q", 1 << 40) + b"{}")
    write(t, "bad-overlap.safetensors", raw_safetensors(
        '{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}', b"\1\2\3\4"))
    write(t, "bad-gap.safetensors", raw_safetensors(
        '{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}', b"\1\2\3\4"))
    write(t, "bad-size-mismatch.safetensors", raw_safetensors(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', b"\0\0\0\0"))
    write(t, "bad-json.safetensors", raw_safetensors('{"a":{"dtype":"F32",'))
    write(t, "bad-utf8.safetensors", raw_safetensors(b'{"\xff":1}'))
    write(t, "bad-control-chars-in-name.safetensors", raw_safetensors(
        '{"\\u001b[31mred\\u202e":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', bytes(8)))


def rnn_seeds():
    t = "rnn"
    write(t, "lstm.safetensors", safetensors(rnn_tensors("lstm", 2, 2)))
    write(t, "gru-2-layers-bidirectional.safetensors", safetensors(rnn_tensors("gru", 3, 2, layers=2, bidirectional=True)))
    write(t, "rnn-relu-no-bias.safetensors",
          safetensors(rnn_tensors("rnn", 2, 3, bias=False), metadata={"nonlinearity": "relu"}))
    write(t, "lstm-projection.safetensors", safetensors(rnn_tensors("lstm", 2, 3, layers=2, proj=2)))
    write(t, "lstmcell.safetensors", safetensors(rnn_tensors("lstm", 3, 2, cell=True, prefix="cell.")))
    write(t, "prefixed-with-other-tensors.safetensors",
          safetensors(rnn_tensors("gru", 2, 2, prefix="encoder.rnn.") + [("encoder.head.weight", "F32", [2, 2])] +
                      rnn_tensors("rnn", 2, 2, prefix="decoder."), metadata={"prefix": "encoder.rnn"}))
    write(t, "f16-weights.safetensors",
          safetensors([(n, "F16", s) for n, _, s in rnn_tensors("gru", 2, 2)]))
    # Broken state_dicts, one defect each.
    lstm = rnn_tensors("lstm", 2, 2)
    write(t, "bad-missing-bias.safetensors", safetensors([x for x in lstm if x[0] != "bias_hh_l0"]))
    write(t, "bad-shape.safetensors", safetensors([(n, d, [8, 3] if n == "weight_ih_l0" else s) for n, d, s in lstm]))
    write(t, "bad-integer-weights.safetensors", safetensors([(n, "I32" if n == "weight_hh_l0" else d, s) for n, d, s in lstm]))
    write(t, "bad-layer-number-overflow.safetensors", safetensors(lstm + [("weight_ih_l2147483648", "F32", [8, 2])]))
    write(t, "bad-extra-layer.safetensors", safetensors(lstm + [("weight_hh_l3", "F32", [8, 2])]))


# ---------------------------------------------------------------- statedict (a recipe, not a file: FuzzTargets.StateDictRecipe)

PREFIX_NONE, PREFIX_RNN_DOT, RELU = 0, 4, 8          # byte 0: PrefixArguments[flags & 7], bit 3 relu
ROLE = {"weight_ih": 0, "weight_hh": 1, "bias_ih": 2, "bias_hh": 3, "weight_hr": 4}


def recipe_tensor(role, shape, layer=0, reverse=False, cell=False, name_prefix=0):
    suffix = 0 if cell else ((layer & 3) << 3) | 1
    if reverse:
        suffix |= 0x80
    return bytes([name_prefix, ROLE[role], suffix, len(shape)] + list(shape))


def recipe_network(gates, input_size, hidden, layers=1, bidirectional=False, bias=True, proj=0, cell=False, name_prefix=0):
    out, out_size = b"", proj or hidden
    for layer in range(layers):
        for reverse in ([False, True] if bidirectional else [False]):
            layer_input = input_size if layer == 0 else out_size * (2 if bidirectional else 1)
            kw = dict(layer=layer, reverse=reverse, cell=cell, name_prefix=name_prefix)
            out += recipe_tensor("weight_ih", [gates * hidden, layer_input], **kw)
            out += recipe_tensor("weight_hh", [gates * hidden, out_size], **kw)
            if bias:
                out += recipe_tensor("bias_ih", [gates * hidden], **kw) + recipe_tensor("bias_hh", [gates * hidden], **kw)
            if proj:
                out += recipe_tensor("weight_hr", [proj, hidden], **kw)
    return out


def statedict_seeds():
    t = "statedict"
    write(t, "lstm.bin", bytes([PREFIX_NONE]) + recipe_network(4, 2, 2))
    write(t, "gru-2-layers-bidirectional-prefixed.bin",
          bytes([PREFIX_RNN_DOT]) + recipe_network(3, 3, 2, layers=2, bidirectional=True, name_prefix=2))
    write(t, "rnncell-relu-no-bias.bin", bytes([RELU]) + recipe_network(1, 2, 3, bias=False, cell=True))
    write(t, "lstm-projection-2-layers.bin", bytes([PREFIX_NONE]) + recipe_network(4, 2, 3, layers=2, proj=2))
    # Near misses: the layer number past int.MaxValue (OddLayers[1]), and a cell's name beside the layer's.
    write(t, "bad-layer-number-overflow.bin",
          bytes([PREFIX_NONE]) + recipe_network(4, 2, 2) + bytes([0, ROLE["weight_ih"], 6, 1, 2, 8, 2]))
    write(t, "bad-cell-and-layer-name.bin",
          bytes([PREFIX_NONE]) + recipe_network(4, 2, 2) + recipe_tensor("weight_ih", [8, 2], cell=True))


# ---------------------------------------------------------------- npy

def npy(descr, shape, data, version=(1, 0), fortran=False, header_text=None):
    if header_text is None:
        dims = f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(str(d) for d in shape) + ")"
        header_text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {dims}, }}"
    encoded = header_text.encode("utf-8" if version[0] == 3 else "latin-1")
    length_size = 2 if version[0] == 1 else 4
    pad = -(6 + 2 + length_size + len(encoded) + 1) % 64
    encoded += b" " * pad + b"\n"
    length = struct.pack("<H" if length_size == 2 else "<I", len(encoded))
    return b"\x93NUMPY" + bytes(version) + length + encoded + data


def npy_seeds():
    t = "npy"
    write(t, "f4-2x3.npy", npy("<f4", [2, 3], struct.pack("<6f", 0, -0.0, 1.5, float("inf"), float("nan"), -2)))
    write(t, "f4-scalar.npy", npy("<f4", [], struct.pack("<f", 42)))
    write(t, "f4-empty.npy", npy("<f4", [0, 3], b""))
    write(t, "f4-v2.npy", npy("<f4", [3], struct.pack("<3f", 1, 2, 3), version=(2, 0)))
    write(t, "i8-lengths.npy", npy("<i8", [3], struct.pack("<3q", 5, 1, -3)))
    write(t, "i4-v3.npy", npy("<i4", [2, 1], struct.pack("<2i", 7, -7), version=(3, 0)))
    write(t, "u2.npy", npy("<u2", [2], struct.pack("<2H", 1, 65535)))
    write(t, "u1-double-quotes.npy", npy("|u1", [4], b"\0\1\2\xff",
                                         header_text='{"descr": "|u1", "fortran_order": False, "shape": (4,)}'))
    # Broken files, one defect each.
    write(t, "bad-fortran-order.npy", npy("<f4", [2, 2], bytes(16), fortran=True))
    write(t, "bad-big-endian.npy", npy(">f4", [1], bytes(4)))
    write(t, "bad-truncated-data.npy", npy("<f4", [4], bytes(12)))
    write(t, "bad-trailing-bytes.npy", npy("<f4", [1], bytes(8)))
    write(t, "bad-dict.npy", npy("<f4", [1], bytes(4), header_text="{'descr': '<f4', 'shape': (1,), 'fortran_order': Maybe}"))
    write(t, "bad-version.npy", b"\x93NUMPY\x04\x00" + bytes(8))
    write(t, "bad-control-chars-in-header.npy",
          npy("<f4", [1], bytes(4), header_text="{'descr': '<f4\x1b[2J', 'fortran_order': False, 'shape': (1,), }"))

# ---------------------------------------------------------------- onnx (protobuf by hand: the fields of onnx_subset.proto)

def varint(value):
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number, wire, payload):
    key = varint(number << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    if wire == 5:
        return key + struct.pack("<f", payload)
    return key + varint(len(payload)) + payload


def text(number, value):
    return field(number, 2, value.encode())


def attribute(name, value):
    """An AttributeProto: int, float, string, or a list of floats or strings."""
    out = text(1, name)
    if isinstance(value, bool) or isinstance(value, int):
        return out + field(20, 0, 2) + field(3, 0, value)
    if isinstance(value, float):
        return out + field(20, 0, 1) + field(2, 5, value)
    if isinstance(value, str):
        return out + field(20, 0, 3) + field(4, 2, value.encode())
    if value and isinstance(value[0], str):
        return out + field(20, 0, 8) + b"".join(field(9, 2, v.encode()) for v in value)
    return out + field(20, 0, 6) + field(7, 2, b"".join(struct.pack("<f", v) for v in value))


def tensor(name, dims, data, data_type=1):
    """A TensorProto with raw_data: float32 (1) or int64 (7)."""
    raw = b"".join(struct.pack("<f" if data_type == 1 else "<q", v) for v in data)
    return b"".join(field(1, 0, d) for d in dims) + field(2, 0, data_type) + text(8, name) + field(9, 2, raw)


def onnx_model(op, attributes, inputs, outputs, initializers, graph_inputs):
    node = b"".join(text(1, i) for i in inputs) + b"".join(text(2, o) for o in outputs) + text(3, "rnn") + text(4, op)
    node += b"".join(field(5, 2, attribute(k, v)) for k, v in attributes)
    graph = field(1, 2, node) + text(2, "g") + b"".join(field(5, 2, t) for t in initializers)
    graph += b"".join(field(11, 2, text(1, name)) for name in graph_inputs)
    graph += b"".join(field(12, 2, text(1, name)) for name in outputs if name)
    return field(1, 0, 10) + field(7, 2, graph) + field(8, 2, field(2, 0, 22))


def onnx_weights(gates, directions, input_size, hidden, bias=True, peepholes=False):
    count = lambda *dims: __import__("math").prod(dims)
    series = lambda n, seed: [((i * 5 + seed) % 9 - 4) / 8.0 for i in range(n)]
    tensors = [tensor("W", [directions, gates * hidden, input_size], series(count(directions, gates * hidden, input_size), 1)),
               tensor("R", [directions, gates * hidden, hidden], series(count(directions, gates * hidden, hidden), 2))]
    if bias:
        tensors.append(tensor("B", [directions, 2 * gates * hidden], series(directions * 2 * gates * hidden, 3)))
    if peepholes:
        tensors.append(tensor("P", [directions, 3 * hidden], series(directions * 3 * hidden, 4)))
    return tensors


def onnx_seeds():
    t = "onnx"
    write(t, "lstm.onnx", onnx_model("LSTM", [("hidden_size", 3)], ["X", "W", "R", "B"], ["Y", "Y_h", "Y_c"],
                                     onnx_weights(4, 1, 2, 3), ["X"]))
    write(t, "gru-bidirectional-linear-before-reset.onnx",
          onnx_model("GRU", [("hidden_size", 2), ("direction", "bidirectional"), ("linear_before_reset", 1),
                             ("activations", ["HardSigmoid", "Softsign", "Sigmoid", "Tanh"]), ("activation_alpha", [0.25]), ("activation_beta", [0.4])],
                     ["X", "W", "R", "B"], ["Y", "Y_h"], onnx_weights(3, 2, 3, 2), ["X"]))
    write(t, "rnn-reverse-layout1-clip.onnx",
          onnx_model("RNN", [("hidden_size", 2), ("direction", "reverse"), ("layout", 1), ("clip", 1.5), ("activations", ["LeakyRelu"]), ("activation_alpha", [0.1])],
                     ["X", "W", "R"], ["", "Y_h"], onnx_weights(1, 1, 2, 2, bias=False), ["X"]))
    write(t, "lstm-peepholes-input-forget-stored-state.onnx",
          onnx_model("LSTM", [("hidden_size", 2), ("input_forget", 1)], ["X", "W", "R", "B", "sequence_lens", "initial_h", "", "P"], ["Y"],
                     onnx_weights(4, 1, 2, 2, peepholes=True) + [tensor("sequence_lens", [2], [3, 1], data_type=7),
                                                                tensor("initial_h", [1, 2, 2], [0.5, -0.5, 0.25, 0])], ["X"]))
    # Multi-layer graphs and whole models as torch.onnx.export writes them (the tests' fixtures): nodes chained by
    # layout ops, an embedding and heads around them; those under the corpus's 16 KiB a seed.
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data")
    for folder, prefix in (("onnx-export", "export"), ("onnx-export-whole", "export-whole")):
        for case in sorted(os.listdir(os.path.join(data, folder))):
            model = os.path.join(data, folder, case, "model.onnx")
            if os.path.isfile(model) and os.path.getsize(model) <= 16 * 1024:
                with open(model, "rb") as f:
                    write(t, f"{prefix}-{case}.onnx", f.read())
    # Broken models, one defect each.
    write(t, "bad-extra-op.onnx", onnx_model("LSTM", [("hidden_size", 3)], ["X", "W", "R"], ["Y"], onnx_weights(4, 1, 2, 3, bias=False), ["X"])
          + field(7, 2, field(1, 2, text(4, "Relu"))))
    write(t, "bad-hidden-size.onnx", onnx_model("GRU", [("hidden_size", 4)], ["X", "W", "R"], ["Y"], onnx_weights(3, 1, 2, 3, bias=False), ["X"]))
    write(t, "bad-weights-as-input.onnx", onnx_model("RNN", [("hidden_size", 3)], ["X", "W", "R"], ["Y"], [], ["X", "W", "R"]))
    write(t, "bad-truncated.onnx", onnx_model("LSTM", [("hidden_size", 3)], ["X", "W", "R", "B"], ["Y"], onnx_weights(4, 1, 2, 3), ["X"])[:-40])


# ---------------------------------------------------------------- sequencemodel (JSON descriptions of the fixed
# state_dict in FuzzTargets.DescribedWeights)

def sequencemodel_seeds():
    t = "sequencemodel"
    whole = {"embedding": "embedding.weight", "recurrent": [{"prefix": "lstm."}, {"prefix": "gru."}],
             "heads": [{"weight": "fc.weight", "bias": "fc.bias", "activation": "relu"}, {"weight": "out.weight", "activation": "softmax"}],
             "head_steps": "every"}
    write(t, "whole.json", json.dumps(whole, indent=2).encode())
    write(t, "last-step.json", json.dumps(dict(whole, head_steps="last")).encode())
    write(t, "final-state-log-softmax.json", json.dumps(dict(whole, head_steps="final_state",
          heads=[whole["heads"][0], {"weight": "out.weight", "activation": "log_softmax"}])).encode())
    write(t, "vectors-one-module.json", json.dumps({"recurrent": [{"prefix": "gru.", "nonlinearity": "tanh"}]}).encode())
    write(t, "bad-unknown-activation.json", json.dumps(dict(whole, heads=[{"weight": "fc.weight", "activation": "swish"}])).encode())
    write(t, "bad-missing-tensor.json", json.dumps(dict(whole, embedding="emb.weight")).encode())
    write(t, "bad-sizes.json", json.dumps(dict(whole, recurrent=[{"prefix": "gru."}, {"prefix": "lstm."}])).encode())
    write(t, "bad-not-json.json", b'{"recurrent": [')


# ---------------------------------------------------------------- keras (HDF5 by hand; the valid seeds come from the
# tests' KerasFiles, written with PureHDF, which writes only new-style groups)

UNDEFINED = 0xFFFFFFFFFFFFFFFF


def hdf5_group_btree_cycle():
    """An HDF5 file whose root group (superblock v0, old-style: a v1 B-tree over a local heap, reached through the root
    entry's scratch pad) has a B-tree node of level 1 whose one child is itself: a lookup by name that follows the
    child's own level recurses for ever. The reader must report it, not overflow its stack."""
    heap, data, tree, header = 96, 128, 144, 192
    end = header + 16 + 24
    out = bytearray(b"\x89HDF\r\n\x1a\n")
    out += bytes([0, 0, 0, 0, 0, 8, 8, 0]) + struct.pack("<HHI", 4, 16, 0)
    out += struct.pack("<QQQQ", 0, UNDEFINED, end, UNDEFINED)
    # root symbol table entry: name offset, header address, cache type 1 (scratch pad: B-tree, local heap)
    out += struct.pack("<QQII", 0, header, 1, 0) + struct.pack("<QQ", tree, heap)
    assert len(out) == heap
    out += b"HEAP" + bytes([0, 0, 0, 0]) + struct.pack("<QQQ", 16, UNDEFINED, data)
    out += b"\0" * 8 + b"zzzz\0\0\0\0"
    assert len(out) == tree
    out += b"TREE" + bytes([0, 1]) + struct.pack("<H", 1) + struct.pack("<QQ", UNDEFINED, UNDEFINED)
    out += struct.pack("<QQQ", 0, tree, 8)  # key "" , child: this node, key "zzzz"
    assert len(out) == header
    # the root's v1 object header: one symbol table message (type 0x11) naming the same B-tree and heap
    out += bytes([1, 0]) + struct.pack("<HII", 1, 1, 24) + bytes(4)
    out += struct.pack("<HHB", 0x11, 16, 0) + bytes(3) + struct.pack("<QQ", tree, heap)
    assert len(out) == end
    return bytes(out)


def keras_seeds():
    write("keras", "regress-hdf5-btree-cycle.h5", hdf5_group_btree_cycle())


if __name__ == "__main__":
    safetensors_seeds()
    rnn_seeds()
    statedict_seeds()
    npy_seeds()
    onnx_seeds()
    keras_seeds()
    sequencemodel_seeds()
