using FusedRnn.IO;
using Microsoft.Extensions.Hosting;

namespace FusedRnn.Hosting;

/// <summary>Loads the network a model's file holds, in each format a stream can step.</summary>
internal static class ModelFiles
{
    public enum Format { Safetensors, Onnx, Keras }

    public static Format? FormatOf(string path) => System.IO.Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".safetensors" => Format.Safetensors,
        ".onnx" => Format.Onnx,
        ".keras" or ".h5" => Format.Keras,
        _ => null,
    };

    /// <summary>A model's path: a relative one starts at the host's content root (or the current directory without one).</summary>
    public static string Resolve(string path, IHostEnvironment? environment) =>
        System.IO.Path.GetFullPath(path, environment?.ContentRootPath ?? Environment.CurrentDirectory);

    /// <summary>The network's weights, in the canonical layout.</summary>
    /// <exception cref="UnsupportedModelException">The file holds a network a stream cannot step (reverse or several separate layers).</exception>
    public static RnnWeights Read(FusedRnnModelOptions settings, IHostEnvironment? environment)
    {
        string path = Resolve(settings.Path!, environment);
        switch (FormatOf(path))
        {
            case Format.Onnx:
                OnnxRnnModel onnx = OnnxRnnModel.Load(path);
                if (onnx.Direction != OnnxDirection.Forward)
                    throw new UnsupportedModelException(path, $"its recurrent nodes run {onnx.Direction.ToString().ToLowerInvariant()}; a stream steps a forward network");
                if (onnx.IsWholeModel)
                    throw new UnsupportedModelException(path, $"it is a whole model (embedding or dense heads around the network); streams step the recurrent network alone");
                return onnx.Weights;
            case Format.Keras:
                KerasModel keras = KerasModel.Load(path);
                if (keras.Layers.Count != 1 || keras.Layers[0].IsBidirectional || keras.Layers[0].Settings.GoBackwards)
                    throw new UnsupportedModelException(path, $"it has {keras.Layers.Count} recurrent layers{(keras.Layers.Count == 1 ? " that do not run forward" : "")}; a stream steps one unidirectional layer");
                return keras.Layers[0].Weights;
            default:
                return RnnWeights.LoadSafetensors(path, settings.Prefix, settings.Nonlinearity);
        }
    }
}
