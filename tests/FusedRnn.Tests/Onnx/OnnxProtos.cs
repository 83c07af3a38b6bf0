using FusedRnn.IO.Onnx;
using Google.Protobuf;

namespace FusedRnn.Tests.Onnx;

/// <summary>The ONNX messages the tests build and rewrite: attributes, float initializers, a node's attribute replaced.</summary>
internal static class OnnxProtos
{
    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Floats(string name, params float[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        attribute.Floats.Add(values);
        return attribute;
    }

    public static AttributeProto Strings(string name, params string[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Strings };
        attribute.Strings.Add(values.Select(ByteString.CopyFromUtf8));
        return attribute;
    }

    /// <summary>A float32 initializer holding <paramref name="values"/> in float_data.</summary>
    public static TensorProto FloatInitializer(string name, FloatTensor values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.Add(values.Shape.ToArray().Select(dim => (long)dim));
        tensor.FloatData.Add(values.ToArray());
        return tensor;
    }

    /// <summary>Sets <paramref name="attribute"/> on <paramref name="node"/>, replacing one of the same name.</summary>
    public static void SetAttribute(NodeProto node, AttributeProto attribute)
    {
        if (node.Attribute.SingleOrDefault(a => a.Name == attribute.Name) is { } existing) node.Attribute.Remove(existing);
        node.Attribute.Add(attribute);
    }

    /// <summary>A one-node model's bytes with <paramref name="attribute"/> set on its node.</summary>
    public static byte[] WithAttribute(byte[] bytes, AttributeProto attribute)
    {
        ModelProto model = ModelProto.Parser.ParseFrom(bytes);
        SetAttribute(model.Graph.Node.Single(), attribute);
        return model.ToByteArray();
    }
}
