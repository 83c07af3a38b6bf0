using FusedRnn.IO;
using Microsoft.Extensions.Hosting;

namespace FusedRnn.Hosting;

/// <summary>Reads a model's files once, and makes what they hold on a backend: a recurrent network, or a whole model.</summary>
internal static class ModelFiles
{
    public enum Format { Safetensors, Onnx, Keras }

    public static Format? FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".safetensors" => Format.Safetensors,
        ".onnx" => Format.Onnx,
        ".keras" or ".h5" => Format.Keras,
        _ => null,
    };

    /// <summary>A model's path: a relative one starts at the host's content root (or the current directory without one).</summary>
    public static string Resolve(string path, IHostEnvironment? environment) =>
        Path.GetFullPath(path, environment?.ContentRootPath ?? Environment.CurrentDirectory);

    /// <summary>
    /// The files read and checked, as a maker of the model on given options: a <see cref="RecurrentModule"/> for a
    /// network alone, a <see cref="SequenceModel"/> for a whole model (a PyTorch state_dict with its
    /// <see cref="FusedRnnModelOptions.Description"/>, an ONNX or Keras model with an embedding, dense layers or, for
    /// Keras, several recurrent layers).
    /// </summary>
    public static Func<RnnOptions, IDisposable> Read(FusedRnnModelOptions settings, IHostEnvironment? environment)
    {
        string path = Resolve(settings.Path!, environment);
        switch (FormatOf(path))
        {
            case Format.Onnx:
                OnnxRnnModel onnx = OnnxRnnModel.Load(path);
                if (onnx.Direction != OnnxDirection.Forward)
                    throw new UnsupportedModelException(path, $"its recurrent nodes run {onnx.Direction.ToString().ToLowerInvariant()}; a stream steps a forward network");
                return onnx.IsWholeModel ? onnx.CreateSequenceModel : options => RecurrentModule.Create(onnx.Weights, options);
            case Format.Keras:
                KerasModel keras = KerasModel.Load(path);
                if (keras.Layers.Count == 1 && keras.OtherLayers.Count == 0)
                {
                    KerasRecurrentLayer layer = keras.Layers[0];
                    if (layer.IsBidirectional || layer.Settings.GoBackwards)
                        throw new UnsupportedModelException(path, $"its layer {layer.Name} does not run forward alone; a stream steps a unidirectional network");
                    return options => RecurrentModule.Create(layer.Weights, options);
                }

                return keras.CreateSequenceModel;
            default:
                if (settings.Description is { } description)
                {
                    SafetensorsFile file = SafetensorsFile.Load(path);
                    string descriptionPath = Resolve(description, environment);
                    string json = File.ReadAllText(descriptionPath);
                    return options => SequenceModel.FromPyTorch(file, json, descriptionPath, options);
                }

                RnnWeights weights = RnnWeights.LoadSafetensors(path, settings.Prefix, settings.Nonlinearity);
                return options => RecurrentModule.Create(weights, options);
        }
    }
}
