using System.Text.Json;
using FusedRnn.IO;
using FusedRnn.IO.Onnx;
using FusedRnn.Tests.Support;
using Google.Protobuf;

namespace FusedRnn.Tests.Onnx;

/// <summary>
/// ONNX's own node tests for LSTM, GRU and RNN (tests/data/onnx, from onnx v1.22.0): each case's node, with its W, R,
/// B and P as initializers, read by <see cref="OnnxRnnModel"/> and run on ONNX's arrays by every backend in both
/// precisions, against ONNX's expected Y and Y_h.
/// </summary>
public class OnnxConformanceTests
{
    /// <summary>
    /// Largest |Δ|/max(1, |expected|): ONNX's expected values come from its float32 NumPy reference, whose rounding
    /// differs from any kernel's by a few float32 ulps.
    /// </summary>
    private const double Tolerance = 1e-6;

    public static TheoryData<string, string, RnnPrecision> Cases()
    {
        var data = new TheoryData<string, string, RnnPrecision>();
        foreach (string name in ConformanceCase.Names)
            foreach (BackendUnderTest backend in BackendUnderTest.All)
                foreach (RnnPrecision precision in BackendUnderTest.Precisions) data.Add(name, backend.Name, precision);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ComputesOnnxsExpectedOutputs(string caseName, string backendName, RnnPrecision precision)
    {
        var test = new ConformanceCase(caseName);
        OnnxRnnModel model = OnnxRnnModel.Parse(test.ModelBytes(), caseName);
        using OnnxRecurrentModule module = model.CreateModule(BackendUnderTest.Get(backendName).In(precision));

        OnnxOutputs outputs = module.Forward(test.Tensor("X"), test.Lengths(), test.OptionalTensor("initial_h"), test.OptionalTensor("initial_c"));

        Assert.True(test.Expected.Count > 0);
        foreach ((string name, FloatTensor expected) in test.Expected)
        {
            FloatTensor actual = name switch { "Y" => outputs.Y, "Y_h" => outputs.FinalHidden, _ => outputs.FinalCell! };
            Assert.Equal(expected.Shape.ToArray(), actual.Shape.ToArray());
            Support.Tolerance.AssertClose(expected, actual, Tolerance, $"{name} of {caseName} on {backendName} {precision}");
        }
    }

    [Fact]
    public void EveryCaseIsThere() => Assert.Equal(12, ConformanceCase.Names.Count());
}

/// <summary>One case of tests/data/onnx: its case.json and .npy arrays, and the model it describes.</summary>
internal sealed class ConformanceCase(string name)
{
    private static string Directory => Path.Combine(AppContext.BaseDirectory, "data", "onnx");

    private readonly JsonElement _case = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, name, "case.json"))).RootElement;

    public static IEnumerable<string> Names =>
        System.IO.Directory.EnumerateDirectories(Directory).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal);

    private string[] NodeInputs => [.. _case.GetProperty("inputs").EnumerateArray().Select(e => e.GetString()!)];

    private string[] NodeOutputs => [.. _case.GetProperty("outputs").EnumerateArray().Select(e => e.GetString()!)];

    private string PathOf(string tensor) => Path.Combine(Directory, name, tensor + ".npy");

    public bool Has(string tensor) => File.Exists(PathOf(tensor));

    public FloatTensor Tensor(string tensor)
    {
        NpyArray<float> array = Npy.ReadFloat32(PathOf(tensor));
        return new FloatTensor(array.Data, array.Shape.ToArray());
    }

    public FloatTensor? OptionalTensor(string tensor) => Has(tensor) ? Tensor(tensor) : null;

    public int[]? Lengths() => Has("sequence_lens") ? [.. Npy.ReadIntegers(PathOf("sequence_lens")).Data.Select(v => (int)v)] : null;

    /// <summary>The outputs the case checks, by ONNX name.</summary>
    public IReadOnlyList<(string Name, FloatTensor Value)> Expected =>
        [.. new[] { "Y", "Y_h", "Y_c" }.Where(output => NodeOutputs.Contains(output) && Has(output)).Select(output => (output, Tensor(output)))];

    /// <summary>
    /// The case's node as a model, as ONNX's own model.onnx has it: W, R, B and P initializers from the case's arrays,
    /// the rest graph inputs of their arrays' types and shapes, and the node's outputs the graph's.
    /// </summary>
    public byte[] ModelBytes()
    {
        var node = new NodeProto { Name = name, OpType = _case.GetProperty("op_type").GetString()! };
        node.Input.Add(NodeInputs);
        node.Output.Add(NodeOutputs);
        foreach (JsonProperty attribute in _case.GetProperty("attributes").EnumerateObject())
        {
            node.Attribute.Add(attribute.Value.ValueKind == JsonValueKind.String
                ? OnnxProtos.String(attribute.Name, attribute.Value.GetString()!)
                : OnnxProtos.Int(attribute.Name, attribute.Value.GetInt64()));
        }

        var graph = new GraphProto { Name = name };
        graph.Node.Add(node);
        foreach (string input in NodeInputs.Where(input => input.Length > 0))
        {
            if (input is "W" or "R" or "B" or "P")
            {
                graph.Initializer.Add(OnnxProtos.FloatInitializer(input, Tensor(input)));
            }
            else
            {
                bool lengths = input == "sequence_lens";
                int[] shape = lengths ? [Lengths()!.Length] : Tensor(input).Shape.ToArray();
                graph.Input.Add(TensorValue(input, lengths ? TensorProto.Types.DataType.Int32 : TensorProto.Types.DataType.Float, shape));
            }
        }

        foreach (string output in NodeOutputs.Where(output => output.Length > 0)) graph.Output.Add(new ValueInfoProto { Name = output });

        var model = new ModelProto { IrVersion = 10, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 22 });
        return model.ToByteArray();
    }

    private static ValueInfoProto TensorValue(string name, TensorProto.Types.DataType type, int[] shape)
    {
        var dims = new TensorShapeProto();
        dims.Dim.Add(shape.Select(dim => new TensorShapeProto.Types.Dimension { DimValue = dim }));
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = dims } } };
    }
}
