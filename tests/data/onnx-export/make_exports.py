"""Writes the multi-layer ONNX fixtures: PyTorch modules exported by torch.onnx.export, with PyTorch's own answers.

tests/data/onnx-export holds recurrent stacks; tests/data/onnx-export-whole whole models (an Embedding, a stack and
Linear heads), each folder model.onnx, ids.npy (int64) and y.npy.

Run with Debian bookworm's python3-torch (1.13.1) and python3-numpy:
    /usr/bin/python3 tests/data/onnx-export/make_exports.py
Each case is a folder: model.onnx as the exporter wrote it; x.npy (and h0.npy, c0.npy when the module takes
them) at the sizes the test runs, which differ from the export's wherever the graph's axes are dynamic; y.npy,
hn.npy (and cn.npy) as the PyTorch module computes them in float32. case.txt says how it was exported.
"""
import os
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


class Wrapped(torch.nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, *state):
        if not state:
            return self.rnn(x)
        return self.rnn(x, state[0] if len(state) == 1 else (state[0], state[1]))


def flatten(out):
    y, h = out
    return [y] + (list(h) if isinstance(h, tuple) else [h])


def case(name, kind, opset, layers, bidirectional=False, batch_first=False, states=False, dynamic=None,
         fold=True, export_sizes=(5, 2), test_sizes=None, nonlinearity=None, input_size=3, hidden=4):
    torch.manual_seed(sum(map(ord, name)))
    kwargs = dict(input_size=input_size, hidden_size=hidden, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    if nonlinearity:
        kwargs["nonlinearity"] = nonlinearity
    module = Wrapped(getattr(torch.nn, kind)(**kwargs)).eval()
    directions = 2 if bidirectional else 1
    lstm = kind == "LSTM"

    def arrays(steps, batch):
        x = torch.randn((batch, steps, input_size) if batch_first else (steps, batch, input_size))
        extra = [torch.randn(layers * directions, batch, hidden) for _ in range(2 if lstm else 1)] if states else []
        return [x] + extra

    inputs = ["x"] + (["h0", "c0"] if lstm else ["h0"] if states else [])
    inputs = inputs[:1 + (2 if lstm else 1) * states]
    outputs = ["y", "hn"] + (["cn"] if lstm else [])
    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    export_args = tuple(arrays(*export_sizes))
    axes = None
    if dynamic:
        axes = {}
        for array, spec in dynamic.items():
            axes[array] = spec
    torch.onnx.export(module, export_args, os.path.join(folder, "model.onnx"), input_names=inputs, output_names=outputs,
                      opset_version=opset, dynamic_axes=axes, do_constant_folding=fold)
    test = arrays(*(test_sizes or export_sizes))
    with torch.no_grad():
        results = flatten(module(*test))
    for array_name, array in zip(inputs, test):
        np.save(os.path.join(folder, array_name + ".npy"), array.numpy().astype(np.float32))
    for array_name, array in zip(outputs, results):
        np.save(os.path.join(folder, array_name + ".npy"), array.numpy().astype(np.float32))
    with open(os.path.join(folder, "case.txt"), "w") as f:
        f.write(f"torch {torch.__version__}: nn.{kind}({kwargs}) exported with opset {opset}, inputs {inputs}, "
                f"dynamic_axes {axes}, do_constant_folding={fold}, export sizes (T, B) {export_sizes}, test sizes {test_sizes or export_sizes}\n")


class WholeModel(torch.nn.Module):
    """Embedding(20, 4) -> an RNN module -> Linear heads on every step, the last step, or h_n of both directions."""

    def __init__(self, kind, steps, batch_first, bidirectional, heads, final):
        super().__init__()
        self.steps, self.final, self.batch_first = steps, final, batch_first
        self.embedding = torch.nn.Embedding(20, 4)
        self.rnn = getattr(torch.nn, kind)(4, 5, num_layers=2, batch_first=batch_first, bidirectional=bidirectional)
        features = 10 if bidirectional else 5
        self.heads = torch.nn.ModuleList()
        for out in heads:
            self.heads.append(torch.nn.Linear(features, out))
            features = out

    def forward(self, ids):
        out, h = self.rnn(self.embedding(ids))
        h = h[0] if isinstance(h, tuple) else h
        if self.steps == "last":
            a = out[:, -1] if self.batch_first else out[-1]
        elif self.steps == "final":
            a = torch.cat((h[-2], h[-1]), dim=1)
        else:
            a = out
        for index, head in enumerate(self.heads):
            a = head(a)
            a = torch.relu(a) if index + 1 < len(self.heads) else self.final(a)
        return a


def whole_case(name, opset, kind, steps, batch_first, bidirectional, heads, final, export_sizes=(6, 2), test_sizes=(7, 3)):
    torch.manual_seed(sum(map(ord, name)))
    module = WholeModel(kind, steps, batch_first, bidirectional, heads, final).eval()
    folder = os.path.join(HERE, "..", "onnx-export-whole", name)
    os.makedirs(folder, exist_ok=True)

    def ids(t, b):
        return torch.randint(0, 20, (b, t) if batch_first else (t, b))

    axes = {0: "b", 1: "t"} if batch_first else {0: "t", 1: "b"}
    torch.onnx.export(module, (ids(*export_sizes),), os.path.join(folder, "model.onnx"), input_names=["ids"], output_names=["y"],
                      opset_version=opset, dynamic_axes={"ids": axes})
    test = ids(*test_sizes)
    with torch.no_grad():
        y = module(test)
    np.save(os.path.join(folder, "ids.npy"), test.numpy().astype(np.int64))
    np.save(os.path.join(folder, "y.npy"), y.numpy().astype(np.float32))
    with open(os.path.join(folder, "case.txt"), "w") as f:
        f.write(f"torch {torch.__version__}: Embedding(20, 4) -> nn.{kind}(4, 5, num_layers=2, batch_first={batch_first}, bidirectional={bidirectional}) "
                f"-> Linear heads {heads} on {steps} steps, exported with opset {opset}, ids dynamic {axes}, test sizes (T, B) {test_sizes}\n")


if __name__ == "__main__":
    # Whole models: the heads on the last step (Gather, Gemm, Softmax), every step (MatMul, Add, LogSoftmax over axis 2 at opset 11), and h_n.
    whole_case("lstm_classifier_last_step", 14, "LSTM", "last", True, False, [3], lambda a: torch.softmax(a, dim=-1))
    whole_case("gru_tagger_every_step", 11, "GRU", "every", False, True, [6], lambda a: torch.log_softmax(a, dim=-1))
    whole_case("lstm_final_state_two_heads", 13, "LSTM", "final", True, True, [6, 1], torch.sigmoid)
    tb = lambda first: {0: "b", 1: "t"} if first else {0: "t", 1: "b"}
    # Dynamic x, fixed h0/c0: the batch of the states decides the probe's.
    case("lstm_2layer_bidirectional_batch_first", "LSTM", 14, 2, bidirectional=True, batch_first=True, states=True,
         dynamic={"x": tb(True), "y": tb(True)}, test_sizes=(7, 2))
    # Static shapes, opset 9: Squeeze with an axes attribute, zero states by Expand of a constant.
    case("gru_2layer_static_opset9", "GRU", 9, 2)
    # Dynamic batch-first x, zero states by ConstantOfShape and Slice (opset 17).
    case("rnn_3layer_relu_batch_first", "RNN", 17, 3, batch_first=True, nonlinearity="relu",
         dynamic={"x": tb(True), "y": tb(True)}, test_sizes=(6, 3))
    # No constant folding: W, R and B are Slice, Concat and Unsqueeze of the state_dict's tensors.
    case("lstm_2layer_unfolded", "LSTM", 13, 2, fold=False, dynamic={"x": tb(False), "y": tb(False)}, test_sizes=(4, 3))
    # Every array dynamic with the same batch name.
    case("gru_2layer_bidirectional_states", "GRU", 11, 2, bidirectional=True, states=True,
         dynamic={"x": tb(False), "h0": {1: "b"}, "y": tb(False), "hn": {1: "b"}}, test_sizes=(6, 4))
    # One layer, batch-first: Transpose, the node, Squeeze, Transpose.
    case("lstm_1layer_batch_first", "LSTM", 14, 1, batch_first=True, dynamic={"x": tb(True), "y": tb(True)}, test_sizes=(3, 5))
