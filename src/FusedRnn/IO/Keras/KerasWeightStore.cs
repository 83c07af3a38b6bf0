using PureHDF;
using PureHDF.VOL.Native;

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
/// Reads are bounded by the file's size and every failure of the HDF5 reader becomes a <see cref="MalformedFileException"/>.
/// </summary>
internal sealed class KerasWeightStore : IDisposable
{
    private readonly NativeFile _file;
    private readonly IH5Group? _legacyLayers;
    private readonly long _fileBytes;
    private readonly string _source;

    private KerasWeightStore(NativeFile file, long fileBytes, string source)
    {
        _file = file;
        _fileBytes = fileBytes;
        _source = source;
        _legacyLayers = Guard("reading the root group", () =>
            file.LinkExists("model_weights") && file.Get("model_weights") is IH5Group group && group.AttributeExists("layer_names") ? group
            : file.AttributeExists("layer_names") ? file
            : null);
        bool keras3 = Guard("reading the root group", () => file.LinkExists("layers") || file.LinkExists("_layer_checkpoint_dependencies"));
        if (_legacyLayers is null && !keras3)
        {
            throw new MalformedFileException(source,
                "the HDF5 file holds no Keras weights: neither a 'layers' group (Keras 3) nor a 'layer_names' attribute (legacy .h5)");
        }
    }

    /// <summary>Whether the file is in the legacy layout (a group per layer name).</summary>
    public bool IsLegacy => _legacyLayers is not null;

    /// <summary>The HDF5 signature every file starts with.</summary>
    public static ReadOnlySpan<byte> Signature => [0x89, (byte)'H', (byte)'D', (byte)'F', (byte)'\r', (byte)'\n', 0x1a, (byte)'\n'];

    /// <exception cref="MalformedFileException">The bytes are not an HDF5 file of Keras weights.</exception>
    public static KerasWeightStore Open(byte[] bytes, string source)
    {
        if (!bytes.AsSpan().StartsWith(Signature)) throw new MalformedFileException(source, "not an HDF5 file (its signature is missing)");
        NativeFile file = Guard(source, "opening the file", () => H5File.Open(new MemoryStream(bytes, writable: false), leaveOpen: false));
        try
        {
            return new KerasWeightStore(file, bytes.Length, source);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>A string attribute of the root group (e.g. <c>keras_version</c>, <c>model_config</c>); null when absent.</summary>
    public string? RootAttribute(string name) => Guard($"reading the root attribute '{name}'", () =>
        _file.AttributeExists(name) ? ReadStrings(_file.Attribute(name), name).FirstOrDefault() : null);

    /// <summary><c>keras_version</c> of the weights group of a legacy file (the root's, or <c>model_weights</c>'s).</summary>
    public string? LegacyKerasVersion => RootAttribute("keras_version")
        ?? (_legacyLayers is { } group ? Guard("reading keras_version", () => group.AttributeExists("keras_version")
            ? ReadStrings(group.Attribute("keras_version"), "keras_version").FirstOrDefault() : null) : null);

    /// <summary>
    /// The arrays of a layer in the legacy layout, in the order of its <c>weight_names</c> attribute; an empty list for a
    /// layer the file lists without weights, null for one it does not list.
    /// </summary>
    public IReadOnlyList<KerasArray>? LegacyLayer(string layerName)
    {
        IH5Group group = _legacyLayers ?? throw new InvalidOperationException("not a legacy file");
        string[] listed = Guard("reading layer_names", () => ChunkedStrings(group, "layer_names"));
        if (!listed.Contains(layerName, StringComparer.Ordinal)) return null;
        return Guard($"reading layer {KerasConfig.Quote(layerName)}", () =>
        {
            if (!group.LinkExists(layerName) || group.Get(layerName) is not IH5Group layer)
                throw new MalformedFileException(_source, $"layer_names lists {KerasConfig.Quote(layerName)} but the file has no group of that name");
            string[] weights = ChunkedStrings(layer, "weight_names");
            return weights.Select(name => ReadArray(layer, name, $"{layerName}/{name}")).ToList();
        });
    }

    /// <summary>
    /// The arrays of <c>path/vars</c> in the Keras 3 layout (0, 1, 2, … in order); null when the file has no such
    /// group. Files of Keras 2.13–2.15 name the top container <c>_layer_checkpoint_dependencies</c>, read as Keras 3 does.
    /// </summary>
    public IReadOnlyList<KerasArray>? Vars(string path) => Guard($"reading {path}/vars", () =>
    {
        string? found = new[] { path, path.Replace("layers", "_layer_checkpoint_dependencies", StringComparison.Ordinal) }
            .FirstOrDefault(candidate => _file.LinkExists($"{candidate}/vars"));
        if (found is null) return null;
        if (_file.Get($"{found}/vars") is not IH5Group vars) throw new MalformedFileException(_source, $"{found}/vars is not a group");
        var arrays = new List<KerasArray>();
        int count = vars.Children().Count();
        for (int index = 0; index < count; index++)
        {
            string name = index.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!vars.LinkExists(name))
                throw new MalformedFileException(_source, $"{found}/vars has {count} entries but no dataset '{name}': expected 0 to {count - 1}");
            arrays.Add(ReadArray(vars, name, $"{found}/vars/{name}"));
        }

        return (IReadOnlyList<KerasArray>)arrays;
    });

    private KerasArray ReadArray(IH5Group group, string name, string path)
    {
        if (!group.LinkExists(name)) throw new MalformedFileException(_source, $"the dataset {KerasConfig.Quote(path)} is missing");
        if (group.Get(name) is not IH5Dataset dataset) throw new MalformedFileException(_source, $"{KerasConfig.Quote(path)} is not a dataset");
        ulong[] dimensions = dataset.Space.Dimensions;
        if (dimensions.Length is < 1 or > 2)
            throw new MalformedFileException(_source, $"the dataset {KerasConfig.Quote(path)} has rank {dimensions.Length}; Keras weights have rank 1 or 2");
        int elementSize = dataset.Type.Class == H5DataTypeClass.FloatingPoint ? dataset.Type.Size : 0;
        if (elementSize is not (4 or 8))
        {
            throw new UnsupportedModelException(_source,
                $"the dataset {KerasConfig.Quote(path)} holds {dataset.Type.Class} of {dataset.Type.Size} bytes; float32 and float64 weights are read");
        }

        ulong elements = dimensions.Aggregate(1UL, (count, dimension) => dimension == 0 ? 0 : checked(count * dimension));
        // Keras stores weights uncompressed, so a dataset larger than the file is a lie of a broken or hostile file.
        if (elements == 0 || elements > (ulong)_fileBytes / (ulong)elementSize)
        {
            throw new MalformedFileException(_source,
                $"the dataset {KerasConfig.Quote(path)} claims shape [{string.Join(", ", dimensions)}] of {elementSize}-byte values, " +
                (elements == 0 ? "which is empty" : $"more than the file's {_fileBytes} bytes hold"));
        }

        float[] values = elementSize == 4 ? dataset.Read<float[]>() : [.. dataset.Read<double[]>().Select(value => (float)value)];
        if ((ulong)values.Length != elements)
            throw new MalformedFileException(_source, $"the dataset {KerasConfig.Quote(path)} gave {values.Length} values for {elements} elements");
        return new KerasArray(path, [.. dimensions.Select(dimension => (int)dimension)], values);
    }

    /// <summary>A list attribute Keras may split as <c>name0</c>, <c>name1</c>, … when it outgrows an object header.</summary>
    private string[] ChunkedStrings(IH5Object owner, string name)
    {
        if (owner.AttributeExists(name)) return ReadStrings(owner.Attribute(name), name);
        var values = new List<string>();
        for (int chunk = 0; owner.AttributeExists($"{name}{chunk}"); chunk++) values.AddRange(ReadStrings(owner.Attribute($"{name}{chunk}"), name));
        return [.. values];
    }

    /// <summary>A string or string-list attribute, fixed-length (h5py's for bytes) or variable-length; trailing NULs dropped.</summary>
    private string[] ReadStrings(IH5Attribute attribute, string name)
    {
        if (attribute.Type.Class is not (H5DataTypeClass.String or H5DataTypeClass.VariableLength))
            throw new MalformedFileException(_source, $"the attribute '{name}' holds {attribute.Type.Class}, not strings");
        ulong count = attribute.Space.Dimensions.Aggregate(1UL, (product, dimension) => checked(product * dimension));
        if (count > (ulong)_fileBytes) throw new MalformedFileException(_source, $"the attribute '{name}' claims {count} strings, more than the file holds");
        return [.. attribute.Read<string[]>().Select(text => (text ?? "").TrimEnd('\0'))];
    }

    private T Guard<T>(string action, Func<T> read) => Guard(_source, action, read);

    /// <summary>
    /// Runs a read, turning what the HDF5 reader throws on a damaged file into a <see cref="MalformedFileException"/>;
    /// this library's own exceptions pass through.
    /// </summary>
    private static T Guard<T>(string source, string action, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is not (MalformedFileException or UnsupportedModelException))
        {
            throw new MalformedFileException(source, $"the HDF5 file is damaged ({action}): {FileText.Escape(e.Message)}", e);
        }
    }

    public void Dispose() => _file.Dispose();
}
