using FusedRnn.IO;
using FusedRnn.IO.Keras;

namespace FusedRnn;

/// <summary>How a Keras <c>Bidirectional</c> wrapper combines its two directions' outputs (<c>merge_mode</c>).</summary>
public enum KerasMergeMode
{
    /// <summary><c>"concat"</c> (Keras's default): forward then backward features, PyTorch's bidirectional output.</summary>
    Concat,

    /// <summary><c>"sum"</c>: forward + backward.</summary>
    Sum,

    /// <summary><c>"mul"</c>: forward ⊙ backward.</summary>
    Mul,

    /// <summary><c>"ave"</c>: (forward + backward) / 2.</summary>
    Ave,
}

/// <summary>
/// The settings of a Keras <c>LSTM</c>, <c>GRU</c> or <c>SimpleRNN</c> layer, by their Keras names. Activations are
/// Keras's names (null: <c>activation=None</c>, linear); see <see cref="KerasModel"/> for the ones computed.
/// <c>unit_forget_bias</c>, dropouts and <c>unroll</c> change training or initialization only and are not settings here.
/// </summary>
/// <param name="ClassName"><c>"LSTM"</c>, <c>"GRU"</c> or <c>"SimpleRNN"</c>.</param>
/// <param name="Units"><c>units</c>.</param>
public sealed record KerasRnnSettings(string ClassName, int Units)
{
    /// <summary><c>activation</c>: of the candidate and (LSTM) the cell output, or SimpleRNN's one activation.</summary>
    public string? Activation { get; init; } = "tanh";

    /// <summary><c>recurrent_activation</c>: of the gates (LSTM, GRU).</summary>
    public string? RecurrentActivation { get; init; } = "sigmoid";

    /// <summary><c>use_bias</c>.</summary>
    public bool UseBias { get; init; } = true;

    /// <summary><c>reset_after</c> (GRU): the reset gate applies after the recurrent product, with a <c>(2, 3U)</c> bias.</summary>
    public bool ResetAfter { get; init; } = true;

    /// <summary><c>go_backwards</c>: the layer reads the sequence from its end and returns its outputs in that order.</summary>
    public bool GoBackwards { get; init; }

    /// <summary><c>return_sequences</c>: the output is every step's (else each row's last step's, <c>[B, features]</c>).</summary>
    public bool ReturnSequences { get; init; }

    /// <summary><c>return_state</c>: Keras also returns the final states (this library always does).</summary>
    public bool ReturnState { get; init; }

    /// <summary><c>stateful</c>: Keras carries the final state into the next batch; here the caller does, by passing it as the next initial state.</summary>
    public bool Stateful { get; init; }
}

/// <summary>
/// One recurrent layer of a Keras model — an <c>LSTM</c>, <c>GRU</c> or <c>SimpleRNN</c>, alone or inside a
/// <c>Bidirectional</c> wrapper — with its weights in PyTorch's layout (<see cref="Weights"/>: one layer, one or two
/// directions, the Keras activations in its <see cref="CellVariant"/>).
/// </summary>
public sealed class KerasRecurrentLayer
{
    internal KerasRecurrentLayer(string name, KerasRnnSettings settings, KerasRnnSettings? backward, KerasMergeMode mergeMode, RnnWeights weights)
    {
        Name = name;
        Settings = settings;
        BackwardSettings = backward;
        MergeMode = mergeMode;
        Weights = weights;
    }

    /// <summary>
    /// A layer from its arrays, as Keras's <c>set_weights</c> takes them: <c>kernel (I, G·U)</c>,
    /// <c>recurrent_kernel (U, G·U)</c> and, with <c>use_bias</c>, <c>bias</c> — <c>(G·U,)</c>, or <c>(2, 3U)</c> for a
    /// GRU with <c>reset_after</c>. G is 4 (LSTM gates i, f, c, o), 3 (GRU z, r, h) or 1.
    /// </summary>
    /// <param name="settings">The layer's settings.</param>
    /// <param name="kernel">kernel.</param>
    /// <param name="recurrentKernel">recurrent_kernel.</param>
    /// <param name="bias">bias; null when <c>use_bias</c> is false.</param>
    /// <param name="kerasVersion">Keras's major version, which decides what <c>hard_sigmoid</c> is (Keras 3 by default).</param>
    /// <param name="name">The layer's name.</param>
    /// <exception cref="InvalidWeightsException">An array is missing or has the wrong shape.</exception>
    /// <exception cref="ArgumentException">The settings are invalid.</exception>
    /// <exception cref="NotSupportedException">An activation this library does not compute.</exception>
    public static KerasRecurrentLayer FromArrays(KerasRnnSettings settings, FloatTensor kernel, FloatTensor recurrentKernel, FloatTensor? bias,
        int kerasVersion = 3, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(recurrentKernel);
        if (bias is not null && !settings.UseBias) throw new ArgumentException("a bias was given but use_bias is false", nameof(bias));
        if (bias is null && settings.UseBias) throw new ArgumentNullException(nameof(bias), "use_bias is true, so the layer needs its bias");
        FloatTensor[] arrays = bias is null ? [kernel, recurrentKernel] : [kernel, recurrentKernel, bias];
        RnnWeights weights = KerasImporter.ToWeights((settings, arrays), null, kerasVersion);
        return new KerasRecurrentLayer(name ?? IO.Keras.KerasNames.SnakeCase(settings.ClassName), settings, null, KerasMergeMode.Concat, weights);
    }

    /// <summary>The layer's name (the Bidirectional wrapper's, for a wrapped layer).</summary>
    public string Name { get; }

    /// <summary>The (forward) layer's settings; <see cref="KerasRnnSettings.ReturnSequences"/> and the others are the wrapper's too.</summary>
    public KerasRnnSettings Settings { get; }

    /// <summary>The backward layer's settings inside a Bidirectional wrapper; else null.</summary>
    public KerasRnnSettings? BackwardSettings { get; }

    /// <summary>Whether the layer is a Bidirectional wrapper.</summary>
    public bool IsBidirectional => BackwardSettings is not null;

    /// <summary>How a Bidirectional wrapper merges its directions (<see cref="KerasMergeMode.Concat"/> otherwise).</summary>
    public KerasMergeMode MergeMode { get; }

    /// <summary>The network in PyTorch's layout: one layer, two directions when bidirectional.</summary>
    public RnnWeights Weights { get; }

    /// <summary>Features of the layer's output steps: units, or twice that for a concatenating Bidirectional wrapper.</summary>
    public int OutputFeatures => IsBidirectional && MergeMode == KerasMergeMode.Concat ? 2 * Weights.Spec.HiddenSize : Weights.Spec.HiddenSize;

    /// <summary>A module that runs this layer alone.</summary>
    /// <param name="options">Backend, threads, precision and batch-first layout.</param>
    public KerasRecurrentStack CreateModule(RnnOptions? options = null) => new([this], options);

    /// <inheritdoc />
    public override string ToString() =>
        (IsBidirectional ? $"Bidirectional({Settings.ClassName}, merge_mode={MergeMode.ToString().ToLowerInvariant()})" : Settings.ClassName) +
        $" '{Name}' ({Weights.Spec.InputSize} → {Settings.Units} units)";
}

/// <summary>
/// A Keras model's recurrent layers, read from a Keras 3 <c>.keras</c> archive (<c>config.json</c>,
/// <c>metadata.json</c>, <c>model.weights.h5</c>), a legacy full-model <c>.h5</c> (its <c>model_config</c>
/// attribute), or a <c>.weights.h5</c> file with the model's config JSON (<c>model.to_json()</c> or a
/// <c>.keras</c> archive's <c>config.json</c>).
/// <para>
/// Read: <c>LSTM</c>, <c>GRU</c> (<c>reset_after</c> true or false) and <c>SimpleRNN</c>, alone or inside
/// <c>Bidirectional</c> (merge_mode concat, sum, mul, ave), with <c>use_bias</c>, <c>go_backwards</c>,
/// <c>return_sequences</c>, <c>return_state</c>, <c>stateful</c>, and the activations linear/None, tanh, sigmoid,
/// relu, hard_sigmoid, softsign, softplus, elu and leaky_relu. hard_sigmoid follows the file's Keras version:
/// <c>clip(0.2·x + 0.5, 0, 1)</c> before Keras 3, <c>relu6(x + 3) / 6</c> from Keras 3 on. <c>InputLayer</c> and the
/// dropout and noise layers (identities at inference) are skipped; other layers are listed in
/// <see cref="OtherLayers"/>, and only a module of chosen layers can be made of such a model, or a whole
/// <see cref="SequenceModel"/> when they are an Embedding and Dense layers (<see cref="CreateSequenceModel"/>).
/// </para>
/// </summary>
public sealed class KerasModel
{
    private readonly IReadOnlyList<KerasModelPart> _parts;

    internal KerasModel(string source, string kerasVersion, IReadOnlyList<KerasModelPart> parts)
    {
        Source = source;
        KerasVersion = kerasVersion;
        _parts = parts;
        Layers = [.. parts.Select(part => part.Recurrent).OfType<KerasRecurrentLayer>()];
        OtherLayers = [.. parts.Where(part => part.Recurrent is null).Select(part => $"{KerasConfig.Quote(part.Name)} ({FileText.Escape(part.ClassName)})")];
    }

    /// <summary>Reads a <c>.keras</c>, <c>.h5</c> or <c>.weights.h5</c> file (the format is told by its content).</summary>
    /// <param name="path">The file.</param>
    /// <param name="modelConfigPath">The model's config JSON, needed for a <c>.weights.h5</c> file, which holds no architecture; else null.</param>
    /// <exception cref="MalformedFileException">The file or config is damaged, or contradicts itself (a shape that disagrees with <c>units</c>, a missing dataset); the message names the layer or dataset.</exception>
    /// <exception cref="UnsupportedModelException">An activation, weight type, layer wrapper, graph or HDF5 feature this library does not read.</exception>
    /// <exception cref="ArgumentException">A file of weights only without its config, or a <c>.keras</c> archive with one.</exception>
    public static KerasModel Load(string path, string? modelConfigPath = null) =>
        Parse(File.ReadAllBytes(path), path, modelConfigPath is null ? null : File.ReadAllText(modelConfigPath));

    /// <summary>Reads a model from the bytes of its file; <paramref name="displayName"/> names it in messages.</summary>
    /// <param name="bytes">The file's bytes.</param>
    /// <param name="displayName">The name messages use for the file.</param>
    /// <param name="modelConfigJson">The model's config JSON text for a <c>.weights.h5</c> file; else null.</param>
    /// <inheritdoc cref="Load" path="/exception"/>
    public static KerasModel Parse(byte[] bytes, string displayName = "<memory>", string? modelConfigJson = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(displayName);
        return KerasModelReader.Read(bytes, displayName, modelConfigJson);
    }

    /// <summary>The file's path or display name.</summary>
    public string Source { get; }

    /// <summary><c>keras_version</c> as the file states it (Keras 3 when a Keras 3 file states none; legacy files without one are Keras 1).</summary>
    public string KerasVersion { get; }

    /// <summary>The recurrent layers in model order.</summary>
    public IReadOnlyList<KerasRecurrentLayer> Layers { get; }

    /// <summary>The layers other than the recurrent ones (InputLayer and dropout aside), as <c>'name' (Class)</c>, in model order; <see cref="CreateSequenceModel"/> runs Embedding and Dense layers.</summary>
    public IReadOnlyList<string> OtherLayers { get; }

    /// <summary>
    /// The whole model as one <see cref="SequenceModel"/>: an optional <c>Embedding</c> first (<c>mask_zero=False</c>),
    /// the recurrent layers, then <c>Dense</c> layers (activations linear, relu, tanh, sigmoid, softmax, log_softmax).
    /// Every recurrent layer but the last returns sequences; the last one's <c>return_sequences</c> decides whether the
    /// heads see every step or its final state (<see cref="HeadSteps.FinalState"/>, both directions of a Bidirectional
    /// layer). Arrays are in PyTorch's layouts: Keras's batch-major ones with <see cref="RnnOptions.BatchFirst"/>.
    /// </summary>
    /// <param name="options">Backend, threads, precision and batch-first layout.</param>
    /// <exception cref="UnsupportedModelException">A layer of another class, layers out of that order, a go_backwards layer, a merge mode other than concat, or a Dense or Embedding setting this library does not run.</exception>
    /// <exception cref="MalformedFileException">An Embedding's or Dense layer's arrays are missing or disagree with its config, or sizes do not chain.</exception>
    public SequenceModel CreateSequenceModel(RnnOptions? options = null)
    {
        EmbeddingLayer? embedding = null;
        var recurrent = new List<KerasRecurrentLayer>();
        var heads = new List<DenseLayer>();
        foreach (KerasModelPart part in _parts)
        {
            string what = $"layer {KerasConfig.Quote(part.Name)} ({FileText.Escape(part.ClassName)})";
            if (part.Embedding is { } readEmbedding)
            {
                if (embedding is not null || recurrent.Count > 0) throw new UnsupportedModelException(Source, $"{what} is not the model's first layer; a whole model starts with its one Embedding");
                embedding = readEmbedding();
            }
            else if (part.Recurrent is { } layer)
            {
                if (heads.Count > 0) throw new UnsupportedModelException(Source, $"{what} comes after a Dense layer; a whole model's Dense layers follow its recurrent ones");
                if (layer.IsBidirectional ? layer.MergeMode != KerasMergeMode.Concat : layer.Settings.GoBackwards)
                {
                    throw new UnsupportedModelException(Source,
                        $"{what}: a whole model runs forward layers and Bidirectional ones with merge_mode concat; run this layer alone with CreateModule(options, layer)");
                }

                if (recurrent.Count > 0 && !recurrent[^1].Settings.ReturnSequences)
                    throw new UnsupportedModelException(Source, $"layer '{FileText.Escape(recurrent[^1].Name)}' returns only its last step (return_sequences=False), so it cannot feed {what}");
                recurrent.Add(layer);
            }
            else if (part.Dense is { } readDense)
            {
                if (recurrent.Count == 0) throw new UnsupportedModelException(Source, $"{what} comes before any recurrent layer; a whole model's Dense layers follow its recurrent ones");
                heads.Add(readDense());
            }
            else
            {
                throw new UnsupportedModelException(Source, $"{what} is not a layer a whole model runs (Embedding, LSTM, GRU, SimpleRNN, Bidirectional, Dense)");
            }
        }

        var parts = new SequenceModelParts(embedding, [.. recurrent.Select(layer => layer.Weights)], heads,
            recurrent[^1].Settings.ReturnSequences ? HeadSteps.Every : HeadSteps.FinalState, [.. recurrent.Select(layer => $"layer {KerasConfig.Quote(layer.Name)}")]);
        try
        {
            return SequenceModel.Create(parts, options);
        }
        catch (InvalidWeightsException e)
        {
            throw new MalformedFileException(Source, KerasModelReader.MessageOf(e), e);
        }
    }

    /// <summary>The recurrent layer named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No recurrent layer has that name; the message lists the ones there are.</exception>
    public KerasRecurrentLayer Layer(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Layers.FirstOrDefault(layer => layer.Name == name)
            ?? throw new ArgumentException(
                $"{Source} has no recurrent layer '{FileText.Escape(name)}'; its recurrent layers are {string.Join(", ", Layers.Select(layer => $"'{FileText.Escape(layer.Name)}'"))}" +
                (OtherLayers.Count > 0 ? $" (others: {string.Join(", ", OtherLayers)})" : ""), nameof(name));
    }

    /// <summary>
    /// A module that runs the recurrent layers stacked, each feeding the next (every layer but the last must return
    /// sequences), or only the one named <paramref name="layer"/>.
    /// </summary>
    /// <param name="options">Backend, threads, precision and batch-first layout.</param>
    /// <param name="layer">A layer's name to run that layer alone; null for all of them.</param>
    /// <exception cref="UnsupportedModelException">No layer was named and the model has layers this library does not run, or its recurrent layers do not feed each other.</exception>
    /// <exception cref="ArgumentException">No recurrent layer is named <paramref name="layer"/>.</exception>
    public KerasRecurrentStack CreateModule(RnnOptions? options = null, string? layer = null)
    {
        if (layer is not null) return new KerasRecurrentStack([Layer(layer)], options);
        if (OtherLayers.Count > 0)
        {
            throw new UnsupportedModelException(Source,
                $"the model has layers this library does not run: {string.Join(", ", OtherLayers)}; choose a recurrent layer to run alone " +
                $"(one of {string.Join(", ", Layers.Select(l => $"'{FileText.Escape(l.Name)}'"))})");
        }

        for (int index = 0; index + 1 < Layers.Count; index++)
        {
            KerasRecurrentLayer current = Layers[index], next = Layers[index + 1];
            if (!current.Settings.ReturnSequences)
            {
                throw new UnsupportedModelException(Source,
                    $"layer '{FileText.Escape(current.Name)}' returns only its last step (return_sequences=False), so it cannot feed the recurrent layer '{FileText.Escape(next.Name)}'");
            }

            if (current.OutputFeatures != next.Weights.Spec.InputSize)
            {
                throw new MalformedFileException(Source,
                    $"layer '{FileText.Escape(current.Name)}' outputs {current.OutputFeatures} features but the next layer '{FileText.Escape(next.Name)}' takes {next.Weights.Spec.InputSize}");
            }
        }

        return new KerasRecurrentStack(Layers, options);
    }
}

/// <summary>One layer of a Keras model in model order: a recurrent layer, or the readers of an Embedding's or Dense layer's arrays (read when a whole model is made), or neither for another class.</summary>
internal sealed record KerasModelPart(string Name, string ClassName, KerasRecurrentLayer? Recurrent, Func<EmbeddingLayer>? Embedding = null, Func<DenseLayer>? Dense = null);
