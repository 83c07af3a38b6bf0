using FusedRnn.IO;
using FusedRnn.IO.Onnx;

namespace FusedRnn;

/// <summary>What a node around a stack computes that is not a layout op.</summary>
internal enum HeadKind
{
    /// <summary>Gather of a constant table by ids from the graph's inputs.</summary>
    Embedding,

    /// <summary>MatMul or Gemm by a constant matrix (Gemm's C the bias).</summary>
    Dense,

    /// <summary>Add of a constant vector along the last axis.</summary>
    Bias,

    /// <summary>Relu, Tanh, Sigmoid, Softmax or LogSoftmax over the last axis.</summary>
    Activation,
}

/// <summary>
/// One such node in a probe run: its input array (tagged), its constants, and the source its output became. A
/// dense weight is held as <see cref="DenseLayer"/> wants it, <c>[outputs, inputs]</c>.
/// </summary>
internal sealed record HeadProbe(NodeProto Node, HeadKind Kind, ProbeArray Input, FloatTensor? Weight, float[]? Bias, DenseActivation Activation, int Source)
{
    /// <summary>The shape of the node's output.</summary>
    public int[]? OutputShape { get; init; }

    public string Where => OnnxLayoutOps.Describe(Node);
}

/// <summary>
/// The ops of a whole model's embedding and heads (ONNX's Gather, MatMul, Gemm, Add, Relu, Tanh, Sigmoid, Softmax and
/// LogSoftmax), computed in a probe run as new sources: the reader checks later that they chain into an embedding
/// before the stack and dense layers after it (<see cref="OnnxGraphReader"/>).
/// </summary>
internal static class OnnxHeadOps
{
    public static readonly IReadOnlySet<string> Supported = new HashSet<string>(StringComparer.Ordinal)
    {
        "MatMul", "Gemm", "Add", "Relu", "Tanh", "Sigmoid", "Softmax", "LogSoftmax",
    };

    /// <summary>Whether the node is a head op here: one of <see cref="Supported"/>, or a Gather whose indices are computed from the graph's inputs.</summary>
    public static bool IsHead(NodeProto node, ProbeArray?[] inputs) =>
        Supported.Contains(node.OpType) || (node.OpType == "Gather" && inputs.Length > 1 && inputs[1]?.IsTraced == true);

    /// <summary>The node's probe and the shape of its output, which the caller makes source <paramref name="source"/> once its budget allows.</summary>
    /// <param name="file">The file, for messages.</param>
    /// <param name="node">The node.</param>
    /// <param name="inputs">Its inputs in the probe run (null for one left out).</param>
    /// <param name="source">The source number its output gets.</param>
    /// <param name="opset">The model's default-domain opset, which decides Softmax's default axis.</param>
    public static (HeadProbe Probe, int[] OutputShape) Run(string file, NodeProto node, ProbeArray?[] inputs, long opset, int source)
    {
        string where = OnnxLayoutOps.Describe(node);
        MalformedFileException Error(string message) => new(file, $"{where}: {message}");
        UnsupportedModelException Unsupported(string message) => new(file, $"{where}: {message}");
        ProbeArray Input(int index) => index < inputs.Length && inputs[index] is { } input ? input : throw Error($"has no input {index}");
        AttributeProto? Attribute(string name) => node.Attribute.FirstOrDefault(a => a.Name == name);
        long Int(string name, long fallback) => Attribute(name) is { } a ? a.Type == AttributeProto.Types.AttributeType.Int ? a.I : throw Error($"attribute {name} is a {a.Type}, not an INT") : fallback;
        float Float(string name, float fallback) => Attribute(name) is { } a ? a.Type == AttributeProto.Types.AttributeType.Float ? a.F : throw Error($"attribute {name} is a {a.Type}, not a FLOAT") : fallback;
        ProbeArray Traced(ProbeArray array, string role) => array.IsTraced && array.IsFloat ? array
            : throw Unsupported($"its {role} is {(array.IsTraced ? $"of element type {array.ElementType}" : "a constant")}; it must be float32 computed from the recurrent nodes");
        ProbeArray Constant(ProbeArray array, string role) => !array.IsTraced && !array.SizeDependent && array.IsFloat ? array
            : throw Unsupported($"its {role} is computed from the graph's inputs or shapes, or not float32; a head's weights must be stored in the model");

        switch (node.OpType)
        {
            case "Gather":
            {
                ProbeArray table = Constant(Input(0), "table");
                ProbeArray ids = Input(1);
                if (!OnnxElement.IsInteger(ids.ElementType)) throw Error($"its indices are of element type {ids.ElementType}, not int32 or int64");
                if (table.Shape.Length != 2 || Int("axis", 0) != 0)
                    throw Unsupported($"gathers along axis {Int("axis", 0)} of {FloatTensor.FormatShape(table.Shape)}; an embedding gathers rows (axis 0) of a [vocabulary, dimension] table");
                return (new HeadProbe(node, HeadKind.Embedding, ids, new FloatTensor(table.Floats!, table.Shape), null, DenseActivation.Identity, source),
                    [.. ids.Shape, table.Shape[1]]);
            }

            case "MatMul":
            {
                ProbeArray a = Traced(Input(0), "first input"), b = Constant(Input(1), "weight (second input)");
                if (b.Shape.Length != 2 || a.Shape.Length < 1 || a.Shape[^1] != b.Shape[0])
                    throw Error($"multiplies {FloatTensor.FormatShape(a.Shape)} by {FloatTensor.FormatShape(b.Shape)}; a dense layer multiplies [..., K] by [K, N]");
                return (new HeadProbe(node, HeadKind.Dense, a, Transposed(b.Floats!, b.Shape[0], b.Shape[1], 1f), null, DenseActivation.Identity, source),
                    [.. a.Shape[..^1], b.Shape[1]]);
            }

            case "Gemm":
            {
                ProbeArray a = Traced(Input(0), "A"), b = Constant(Input(1), "B");
                if (Int("transA", 0) != 0) throw Unsupported("has transA=1; a dense layer's input rows are not transposed");
                bool transB = Int("transB", 0) != 0;
                float alpha = Float("alpha", 1), beta = Float("beta", 1);
                if (a.Shape.Length != 2 || b.Shape.Length != 2 || a.Shape[1] != b.Shape[transB ? 1 : 0])
                    throw Error($"multiplies {FloatTensor.FormatShape(a.Shape)} by {FloatTensor.FormatShape(b.Shape)}{(transB ? " transposed" : "")}");
                int outputs = b.Shape[transB ? 0 : 1], inputsCount = b.Shape[transB ? 1 : 0];
                FloatTensor weight = transB
                    ? new FloatTensor([.. b.Floats!.Select(v => v * alpha)], outputs, inputsCount)
                    : Transposed(b.Floats!, inputsCount, outputs, alpha);
                float[]? bias = null;
                if (inputs.Length > 2 && inputs[2] is { } c)
                {
                    Constant(c, "C");
                    if (c.Count != outputs || (c.Shape.Length == 2 && c.Shape[0] != 1) || c.Shape.Length > 2)
                        throw Unsupported($"its C is {FloatTensor.FormatShape(c.Shape)}; a dense layer's bias is [{outputs}] or [1, {outputs}]");
                    bias = [.. c.Floats!.Select(v => v * beta)];
                }

                return (new HeadProbe(node, HeadKind.Dense, a, weight, bias, DenseActivation.Identity, source), [a.Shape[0], outputs]);
            }

            case "Add":
            {
                (ProbeArray x, ProbeArray b) = Input(0).IsTraced ? (Input(0), Input(1)) : (Input(1), Input(0));
                if (b.IsTraced) throw Unsupported("adds two arrays computed from the graph's inputs; a head adds a stored bias");
                Traced(x, "input");
                Constant(b, "bias");
                int features = x.Shape.Length > 0 ? x.Shape[^1] : 0;
                if (b.Count != features || b.Shape.Length > x.Shape.Length || b.Shape.Take(Math.Max(0, b.Shape.Length - 1)).Any(dim => dim != 1))
                    throw Unsupported($"adds {FloatTensor.FormatShape(b.Shape)} to {FloatTensor.FormatShape(x.Shape)}; a head's bias has one value per feature of the last axis");
                return (new HeadProbe(node, HeadKind.Bias, x, null, b.Floats, DenseActivation.Identity, source), x.Shape);
            }

            default:
            {
                ProbeArray x = Traced(Input(0), "input");
                DenseActivation activation = node.OpType switch
                {
                    "Relu" => DenseActivation.Relu,
                    "Tanh" => DenseActivation.Tanh,
                    "Sigmoid" => DenseActivation.Sigmoid,
                    "Softmax" => DenseActivation.Softmax,
                    _ => DenseActivation.LogSoftmax,
                };
                if (activation is DenseActivation.Softmax or DenseActivation.LogSoftmax)
                {
                    // Before opset 13 the default axis is 1 and the input is flattened to 2-D from it: over the last axis only when that is axis 1 too.
                    long axis = Int("axis", opset >= 13 ? -1 : 1);
                    long normal = axis < 0 ? axis + x.Shape.Length : axis;
                    if (normal != x.Shape.Length - 1)
                        throw Unsupported($"normalizes over axis {axis} of {FloatTensor.FormatShape(x.Shape)}; a head's {node.OpType} is over the last axis");
                }

                return (new HeadProbe(node, HeadKind.Activation, x, null, null, activation, source), x.Shape);
            }
        }
    }

    /// <summary><c>[rows, columns]</c> → <c>[columns, rows]</c>, scaled.</summary>
    private static FloatTensor Transposed(float[] values, int rows, int columns, float scale)
    {
        var result = new float[values.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) result[(c * rows) + r] = values[(r * columns) + c] * scale;
        return new FloatTensor(result, columns, rows);
    }
}
