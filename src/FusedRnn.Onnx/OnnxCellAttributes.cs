using FusedRnn.IO.Onnx;
using Google.Protobuf;

namespace FusedRnn.Onnx;

/// <summary>
/// A spec's cell as the attributes of ONNX's LSTM, GRU and RNN operators, written the way ONNX Runtime 1.31 reads
/// them:
/// <list type="bullet">
/// <item><c>activations</c>: per direction in ONNX's role order (LSTM f, g, h; GRU f, g; RNN f), PyTorch's activation
/// where the variant names none. Written for an RNN always (PyTorch's activation there depends on the kind), for an
/// LSTM or GRU when they differ from ONNX's default (Sigmoid, Tanh, Tanh; Sigmoid, Tanh).
/// <see cref="ActivationKind"/>'s names are ONNX's, in ONNX's case (ORT's RNN refuses "tanh"); Identity, which ONNX
/// lacks, is written as Affine(1, 0).</item>
/// <item><c>activation_alpha</c>, <c>activation_beta</c>: ONNX says only that they are "consumed in the order of
/// activation functions"; ORT gives each activation that takes the parameter the next value of the list, and one that
/// takes none consumes none — so the lists hold exactly the parameters taken, in list order. Both are written in full,
/// so ORT's defaults for a short list, which differ from ONNX's for ThresholdedRelu (α = 0, not 1) and for Affine and
/// ScaledTanh (α = β = 0), never apply.</item>
/// <item><c>clip</c> when above 0; <c>input_forget</c> = 1 for the coupled gate; <c>linear_before_reset</c> = 1 for
/// PyTorch's reset after the product, 0 before it; <c>direction</c> forward or bidirectional; <c>hidden_size</c>.</item>
/// </list>
/// </summary>
internal static class OnnxCellAttributes
{
    public static string OperatorName(CellKind kind) => kind switch
    {
        CellKind.Lstm => "LSTM",
        CellKind.Gru => "GRU",
        _ => "RNN",
    };

    public static IEnumerable<AttributeProto> Of(RnnSpec spec)
    {
        CellVariant cell = spec.Cell;
        yield return Int("hidden_size", spec.HiddenSize);
        yield return String("direction", spec.Bidirectional ? "bidirectional" : "forward");

        Activation[] activations = [.. new[] { cell.Forward, cell.Reverse }.Take(spec.Directions).SelectMany(roles => Roles(spec.Kind, roles)).Select(InOnnx)];
        Activation[] onnxDefault = [.. Enumerable.Repeat(Roles(spec.Kind, new CellActivations()), spec.Directions).SelectMany(roles => roles)];
        if (spec.Kind is CellKind.RnnTanh or CellKind.RnnRelu || !activations.SequenceEqual(onnxDefault))
        {
            var names = new AttributeProto { Name = "activations", Type = AttributeProto.Types.AttributeType.Strings };
            names.Strings.Add(activations.Select(activation => ByteString.CopyFromUtf8(activation.Kind.ToString())));
            yield return names;
        }

        float[] alphas = [.. activations.Where(activation => activation.TakesAlpha).Select(activation => activation.Alpha)];
        float[] betas = [.. activations.Where(activation => activation.TakesBeta).Select(activation => activation.Beta)];
        if (alphas.Length > 0) yield return Floats("activation_alpha", alphas);
        if (betas.Length > 0) yield return Floats("activation_beta", betas);

        if (cell.Clip > 0) yield return new AttributeProto { Name = "clip", Type = AttributeProto.Types.AttributeType.Float, F = cell.Clip };
        if (cell.CoupledInputForget) yield return Int("input_forget", 1);
        if (spec.Kind == CellKind.Gru) yield return Int("linear_before_reset", cell.ResetPlacement == GruResetPlacement.AfterProduct ? 1 : 0);
    }

    /// <summary>One direction's activations in ONNX's role order, PyTorch's where none is given (which is ONNX's default but for an Elman RNN with ReLU).</summary>
    private static Activation[] Roles(CellKind kind, CellActivations given) => kind switch
    {
        CellKind.Lstm => [given.Gates ?? Activation.Sigmoid, given.Candidate ?? Activation.Tanh, given.Output ?? Activation.Tanh],
        CellKind.Gru => [given.Gates ?? Activation.Sigmoid, given.Candidate ?? Activation.Tanh],
        CellKind.RnnRelu => [given.Gates ?? Activation.Relu],
        _ => [given.Gates ?? Activation.Tanh],
    };

    private static Activation InOnnx(Activation activation) =>
        activation.Kind == ActivationKind.Identity ? Activation.Affine(alpha: 1, beta: 0) : activation;

    private static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    private static AttributeProto Floats(string name, float[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        attribute.Floats.Add(values);
        return attribute;
    }
}
