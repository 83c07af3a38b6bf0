using FusedRnn.IO.Hdf5;

namespace FusedRnn.IO.Keras;

/// <summary>One weight array of a layer: where it was stored, its shape and its values.</summary>
internal sealed record KerasArray(string Path, int[] Shape, float[] Values);

/// <summary>
/// The weight arrays of a Keras HDF5 file, in either of the two layouts Keras writes:
/// <list type="bullet">
/// <item>Keras 3 (<c>model.weights.h5</c> inside a <c>.keras</c> zip, and <c>.weights.h5</c>): each layer under
/// <c>layers/&lt;snake_case class name&gt;[_n]</c> numbered per class in model order, a recurrent layer's arrays in
/// <c>cell/vars/0, 1, 2</c> (kernel, recurrent_kernel, bias), a Bidirectional's under <c>forward_layer/</c> and
/// <c>backward_layer/</c>;</item>
/// <item>legacy (Keras 2's <c>.h5</c>, full model or weights only): a group per layer name under
/// <c>model_weights</c> (or the root), whose <c>weight_names</c> attribute lists its arrays in order.</item>
/// </list>
/// The file is read by <see cref="Hdf5File"/>, whose errors become <see cref="MalformedFileException"/> (a damaged
/// file) or <see cref="UnsupportedModelException"/> (an HDF5 feature Keras does not use).
/// </summary>
internal sealed class KerasWeightStore
{
    private readonly Hdf5File _file;
    private readonly Hdf5Group? _legacyLayers;
    private readonly string _source;
    private string[]? _legacyLayerNames;

    private KerasWeightStore(Hdf5File file, string source)
    {
        _file = file;
        _source = source;
        _legacyLayers = Guard("reading the root group", () =>
            file.Root.Get("model_weights") is Hdf5Group group && group.Attributes.ContainsKey("layer_names") ? group
            : file.Root.Attributes.ContainsKey("layer_names") ? file.Root
            : null);
        bool keras3 = Guard("reading the root group", () => file.Root.Names.Contains("layers") || file.Root.Names.Contains("_layer_checkpoint_dependencies"));
        if (_legacyLayers is null && !keras3)
        {
            throw new MalformedFileException(source,
                "the HDF5 file holds no Keras weights: neither a 'layers' group (Keras 3) nor a 'layer_names' attribute (legacy .h5)");
        }
    }

    /// <summary>Whether the file is in the legacy layout (a group per layer name).</summary>
    public bool IsLegacy => _legacyLayers is not null;

    /// <exception cref="MalformedFileException">The bytes are not an HDF5 file of Keras weights.</exception>
    /// <exception cref="UnsupportedModelException">The file uses an HDF5 feature this library does not read.</exception>
    public static KerasWeightStore Open(byte[] bytes, string source)
    {
        Hdf5File file = Guard(source, "opening the file", () => Hdf5File.Open(bytes));
        return new KerasWeightStore(file, source);
    }

    /// <summary>A string attribute of the root group (e.g. <c>keras_version</c>, <c>model_config</c>); null when absent.</summary>
    public string? RootAttribute(string name) => Guard($"reading the root attribute '{name}'", () =>
        _file.Root.Attributes.TryGetValue(name, out Hdf5Attribute? attribute) ? attribute.ReadStrings().FirstOrDefault() : null);

    /// <summary><c>keras_version</c> of the weights group of a legacy file (the root's, or <c>model_weights</c>'s).</summary>
    public string? LegacyKerasVersion => RootAttribute("keras_version")
        ?? (_legacyLayers is { } group ? Guard("reading keras_version", () =>
            group.Attributes.TryGetValue("keras_version", out Hdf5Attribute? attribute) ? attribute.ReadStrings().FirstOrDefault() : null) : null);

    /// <summary>
    /// The arrays of a layer in the legacy layout, in the order of its <c>weight_names</c> attribute; null for a
    /// layer the file does not list.
    /// </summary>
    public IReadOnlyList<KerasArray>? LegacyLayer(string layerName)
    {
        Hdf5Group group = _legacyLayers ?? throw new InvalidOperationException("not a legacy file");
        _legacyLayerNames ??= Guard("reading layer_names", () => ChunkedStrings(group, "layer_names"));
        if (!_legacyLayerNames.Contains(layerName, StringComparer.Ordinal)) return null;
        return Guard($"reading layer {KerasConfig.Quote(layerName)}", () =>
        {
            if (group.Get(layerName) is not Hdf5Group layer)
                throw new MalformedFileException(_source, $"layer_names lists {KerasConfig.Quote(layerName)} but the file has no group of that name");
            string[] weights = ChunkedStrings(layer, "weight_names");
            return weights.Select(name => ReadArray(layer.Find(name), $"{layerName}/{name}")).ToList();
        });
    }

    /// <summary>
    /// The arrays of <c>path/vars</c> in the Keras 3 layout (0, 1, 2, … in order); null when the file has no such
    /// group. Files of Keras 2.13–2.15 name the top container <c>_layer_checkpoint_dependencies</c>, read as Keras 3 does.
    /// </summary>
    public IReadOnlyList<KerasArray>? Vars(string path) => Guard($"reading {path}/vars", () =>
    {
        string found = path;
        Hdf5Object? vars = _file.Root.Find($"{found}/vars");
        if (vars is null)
        {
            found = path.Replace("layers", "_layer_checkpoint_dependencies", StringComparison.Ordinal);
            vars = _file.Root.Find($"{found}/vars");
        }

        if (vars is null) return null;
        if (vars is not Hdf5Group group) throw new MalformedFileException(_source, $"{found}/vars is not a group");
        int count = group.Names.Count;
        var arrays = new List<KerasArray>();
        for (int index = 0; index < count; index++)
        {
            string name = index.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!group.Names.Contains(name))
                throw new MalformedFileException(_source, $"{found}/vars has {count} entries but no dataset '{name}': expected 0 to {count - 1}");
            arrays.Add(ReadArray(group.Get(name), $"{found}/vars/{name}"));
        }

        return (IReadOnlyList<KerasArray>)arrays;
    });

    private KerasArray ReadArray(Hdf5Object? found, string path)
    {
        if (found is null) throw new MalformedFileException(_source, $"the dataset {KerasConfig.Quote(path)} is missing");
        if (found is not Hdf5Dataset dataset) throw new MalformedFileException(_source, $"{KerasConfig.Quote(path)} is not a dataset");
        ulong[] dimensions = dataset.Dimensions;
        if (dimensions.Length is < 1 or > 2)
            throw new MalformedFileException(_source, $"the dataset {KerasConfig.Quote(path)} has rank {dimensions.Length}; Keras weights have rank 1 or 2");
        Hdf5Type type = dataset.Type;
        if (type is not { Class: Hdf5Type.FloatingPoint, Size: 4 or 8, LittleEndian: true })
            throw new UnsupportedModelException(_source, $"the dataset {KerasConfig.Quote(path)} holds {type}{(type.LittleEndian ? "" : " (big-endian)")}; little-endian float32 and float64 weights are read");

        ulong elements = Hdf5Dataspace.Count(dimensions) ?? ulong.MaxValue;
        if (elements == 0 || elements > (ulong)_file.Length / type.Size || elements > (ulong)Array.MaxLength)
        {
            throw new MalformedFileException(_source,
                $"the dataset {KerasConfig.Quote(path)} claims shape [{string.Join(", ", dimensions)}] of {type.Size}-byte values, " +
                (elements == 0 ? "which is empty" : $"more than the file's {_file.Length} bytes hold"));
        }

        ReadOnlySpan<byte> raw = dataset.RawData(elements * type.Size);
        float[] values = type.Size == 4
            ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(raw).ToArray()
            : [.. System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(raw).ToArray().Select(value => (float)value)];
        return new KerasArray(path, [.. dimensions.Select(dimension => (int)dimension)], values);
    }

    /// <summary>A list attribute Keras may split as <c>name0</c>, <c>name1</c>, … when it outgrows an object header.</summary>
    private static string[] ChunkedStrings(Hdf5Object owner, string name)
    {
        if (owner.Attributes.TryGetValue(name, out Hdf5Attribute? whole)) return whole.ReadStrings();
        var values = new List<string>();
        for (int chunk = 0; owner.Attributes.TryGetValue($"{name}{chunk}", out Hdf5Attribute? part); chunk++) values.AddRange(part.ReadStrings());
        return [.. values];
    }

    private T Guard<T>(string action, Func<T> read) => Guard(_source, action, read);

    /// <summary>Runs a read, turning the HDF5 reader's errors into this library's, with the file and the action in the message.</summary>
    private static T Guard<T>(string source, string action, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Hdf5FormatException e) when (e.Unsupported)
        {
            throw new UnsupportedModelException(source, $"{e.Message} ({action})");
        }
        catch (Hdf5FormatException e)
        {
            throw new MalformedFileException(source, $"the HDF5 file is damaged ({action}): {e.Message}", e);
        }
    }
}
