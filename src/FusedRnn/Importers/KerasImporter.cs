namespace FusedRnn;

/// <summary>
/// Converts a Keras recurrent layer — <c>kernel (I, G·U)</c>, <c>recurrent_kernel (U, G·U)</c>, <c>bias</c> and the
/// layer's settings — into PyTorch's layout and a <see cref="CellVariant"/>. Keras multiplies row vectors
/// (<c>x · kernel</c>), so each weight matrix is transposed; its gate blocks are LSTM i, f, c, o (PyTorch's order)
/// and GRU z, r, h (PyTorch's is r, z, n). A GRU's bias is <c>(2, 3U)</c> input and recurrent rows with
/// <c>reset_after</c>, or one <c>(3U,)</c> row without it (added outside the reset gate, as ONNX's default does).
/// </summary>
internal static class KerasImporter
{
    /// <summary>The cell kind of a Keras class, and whether it is one of the three recurrent layers.</summary>
    public static bool TryKindOf(string className, out CellKind kind)
    {
        (bool known, kind) = className switch
        {
            "LSTM" => (true, CellKind.Lstm),
            "GRU" => (true, CellKind.Gru),
            "SimpleRNN" => (true, CellKind.RnnTanh),
            _ => (false, default),
        };
        return known;
    }

    /// <summary>The weights of one layer; <paramref name="backward"/> with its arrays for a Bidirectional wrapper.</summary>
    /// <param name="forward">The (forward) layer's settings and arrays: kernel, recurrent_kernel, then bias when <c>use_bias</c>.</param>
    /// <param name="backward">The backward layer's, or null.</param>
    /// <param name="kerasMajor">Keras's major version, which decides what <c>hard_sigmoid</c> is.</param>
    /// <exception cref="InvalidWeightsException">An array is missing or has the wrong shape.</exception>
    /// <exception cref="ArgumentException">The settings are invalid or the two directions disagree.</exception>
    /// <exception cref="NotSupportedException">An activation this library does not compute.</exception>
    public static RnnWeights ToWeights((KerasRnnSettings Settings, IReadOnlyList<FloatTensor> Arrays) forward,
        (KerasRnnSettings Settings, IReadOnlyList<FloatTensor> Arrays)? backward, int kerasMajor)
    {
        KerasRnnSettings settings = forward.Settings;
        if (!TryKindOf(settings.ClassName, out CellKind kind))
            throw new ArgumentException($"'{settings.ClassName}' is not a Keras recurrent layer: LSTM, GRU and SimpleRNN are", nameof(forward));
        if (settings.Units <= 0) throw new ArgumentOutOfRangeException(nameof(forward), settings.Units, "units must be positive");
        if (backward is { Settings: var other })
        {
            if (other.ClassName != settings.ClassName || other.Units != settings.Units || other.UseBias != settings.UseBias
                || (kind == CellKind.Gru && other.ResetAfter != settings.ResetAfter))
            {
                throw new ArgumentException(
                    $"the backward layer ({other.ClassName}, {other.Units} units, use_bias={other.UseBias}, reset_after={other.ResetAfter}) differs from the forward one " +
                    $"({settings.ClassName}, {settings.Units} units, use_bias={settings.UseBias}, reset_after={settings.ResetAfter}) in more than its activations", nameof(backward));
            }
        }

        CellActivations forwardActivations = Activations(kind, settings, kerasMajor);
        CellActivations backwardActivations = backward is { } b ? Activations(kind, b.Settings, kerasMajor) : new CellActivations();
        // An Elman RNN whose directions are all relu is PyTorch's relu RNN; any other activation is the tanh RNN's variant.
        bool relu = kind == CellKind.RnnTanh && forwardActivations.Gates == Activation.Relu && (backward is null || backwardActivations.Gates == Activation.Relu);
        if (relu)
        {
            kind = CellKind.RnnRelu;
            forwardActivations = backwardActivations = new CellActivations();
        }

        int inputSize = forward.Arrays.Count > 0 && forward.Arrays[0] is { Rank: 2 } kernel ? kernel.Dim(0) : 0;
        var spec = new RnnSpec(kind, Math.Max(inputSize, 1), settings.Units, Bidirectional: backward is not null, Bias: settings.UseBias)
        {
            Cell = CellVariant.PyTorch with
            {
                Forward = forwardActivations,
                Reverse = backwardActivations,
                ResetPlacement = kind == CellKind.Gru && !settings.ResetAfter ? GruResetPlacement.BeforeProduct : GruResetPlacement.AfterProduct,
            },
        };
        var layers = new List<LayerWeights> { Direction(spec, forward.Arrays, "") };
        if (backward is { } back) layers.Add(Direction(spec, back.Arrays, "backward "));
        return new RnnWeights(spec, layers);
    }

    /// <summary>One direction's arrays in PyTorch's layout, each checked against the spec.</summary>
    private static LayerWeights Direction(RnnSpec spec, IReadOnlyList<FloatTensor> arrays, string direction)
    {
        int units = spec.HiddenSize, gates = spec.GateCount, inputSize = spec.InputSize;
        int expected = spec.Bias ? 3 : 2;
        if (arrays.Count != expected)
        {
            throw new InvalidWeightsException("weights",
                $"the {direction}layer has {arrays.Count} weight arrays, but {spec.Kind.DisplayName()} layers with use_bias={spec.Bias} have {expected} " +
                "(kernel, recurrent_kernel" + (spec.Bias ? ", bias)" : ")"));
        }

        int[] gateOrder = GateOrder(spec.Kind);
        float[] weightIh = Transposed(Check(arrays[0], $"{direction}kernel", [inputSize, gates * units]), inputSize, units, gateOrder);
        float[] weightHh = Transposed(Check(arrays[1], $"{direction}recurrent_kernel", [units, gates * units]), units, units, gateOrder);
        if (!spec.Bias) return new LayerWeights(weightIh, weightHh);

        FloatTensor bias = arrays[2];
        bool twoRows = spec.Kind == CellKind.Gru && spec.Cell.ResetPlacement == GruResetPlacement.AfterProduct;
        Check(bias, $"{direction}bias", twoRows ? [2, gates * units] : [gates * units]);
        ReadOnlySpan<float> values = bias.Span;
        float[] biasIh = Reordered(values[..(gates * units)], units, gateOrder);
        float[] biasHh = twoRows ? Reordered(values[(gates * units)..], units, gateOrder) : new float[gates * units];
        return new LayerWeights(weightIh, weightHh, biasIh, biasHh);
    }

    /// <summary>For each PyTorch gate block, the Keras block it comes from.</summary>
    private static int[] GateOrder(CellKind kind) => kind switch
    {
        CellKind.Gru => [1, 0, 2],
        CellKind.Lstm => [0, 1, 2, 3],
        _ => [0],
    };

    private static FloatTensor Check(FloatTensor? array, string name, int[] shape)
    {
        if (array is null) throw new InvalidWeightsException(name, $"{name} is null");
        if (!array.Shape.SequenceEqual(shape))
            throw new InvalidWeightsException(name, $"{name} has shape {FloatTensor.FormatShape(array.Shape)} but the layer needs {FloatTensor.FormatShape(shape)}");
        return array;
    }

    /// <summary>Keras's <c>(rows, G·U)</c> matrix as PyTorch's <c>(G·U, rows)</c>, gate blocks in PyTorch's order.</summary>
    private static float[] Transposed(FloatTensor matrix, int rows, int units, int[] gateOrder)
    {
        int columns = gateOrder.Length * units;
        ReadOnlySpan<float> source = matrix.Span;
        var result = new float[columns * rows];
        for (int gate = 0; gate < gateOrder.Length; gate++)
        {
            int sourceColumn = gateOrder[gate] * units;
            for (int unit = 0; unit < units; unit++)
            {
                Span<float> target = result.AsSpan(((gate * units) + unit) * rows, rows);
                for (int row = 0; row < rows; row++) target[row] = source[(row * columns) + sourceColumn + unit];
            }
        }

        return result;
    }

    private static float[] Reordered(ReadOnlySpan<float> bias, int units, int[] gateOrder)
    {
        var result = new float[bias.Length];
        for (int gate = 0; gate < gateOrder.Length; gate++) bias.Slice(gateOrder[gate] * units, units).CopyTo(result.AsSpan(gate * units, units));
        return result;
    }

    /// <summary>
    /// The layer's activations by role; PyTorch's own (sigmoid gates, tanh otherwise) are left null so that the
    /// specialized kernels run. LSTM: gates = recurrent_activation, candidate and output = activation; GRU: gates =
    /// recurrent_activation, candidate = activation; SimpleRNN: its one activation.
    /// </summary>
    private static CellActivations Activations(CellKind kind, KerasRnnSettings settings, int kerasMajor)
    {
        Activation? Role(string? name, string setting, ActivationKind pytorchDefault)
        {
            Activation activation = ActivationOf(name, setting, kerasMajor);
            return activation.Kind == pytorchDefault ? null : activation;
        }

        return kind switch
        {
            CellKind.Lstm => new CellActivations(
                Role(settings.RecurrentActivation, "recurrent_activation", ActivationKind.Sigmoid),
                Role(settings.Activation, "activation", ActivationKind.Tanh),
                Role(settings.Activation, "activation", ActivationKind.Tanh)),
            CellKind.Gru => new CellActivations(
                Role(settings.RecurrentActivation, "recurrent_activation", ActivationKind.Sigmoid),
                Role(settings.Activation, "activation", ActivationKind.Tanh)),
            _ => new CellActivations(Role(settings.Activation, "activation", ActivationKind.Tanh)),
        };
    }

    /// <summary>The Keras activations this library computes, by their Keras names.</summary>
    public static IReadOnlyList<string> SupportedActivations { get; } =
        ["linear (or None)", "tanh", "sigmoid", "relu", "hard_sigmoid", "softsign", "softplus", "elu", "leaky_relu"];

    /// <summary>
    /// A Keras activation by name (null is linear). <c>hard_sigmoid</c> is <c>clip(0.2·x + 0.5, 0, 1)</c> before Keras 3
    /// and <c>relu6(x + 3) / 6</c> from Keras 3 on; <c>leaky_relu</c> has Keras's slope 0.2.
    /// </summary>
    /// <exception cref="NotSupportedException">Any other name.</exception>
    public static Activation ActivationOf(string? name, string setting, int kerasMajor) => name switch
    {
        null or "linear" => Activation.Identity,
        "tanh" => Activation.Tanh,
        "sigmoid" => Activation.Sigmoid,
        "relu" => Activation.Relu,
        "hard_sigmoid" => kerasMajor >= 3 ? Activation.HardSigmoid(1f / 6, 0.5f) : Activation.HardSigmoid(0.2f, 0.5f),
        "softsign" => Activation.Softsign,
        "softplus" => Activation.Softplus,
        "elu" => Activation.Elu(1),
        "leaky_relu" => Activation.LeakyRelu(0.2f),
        _ => throw new NotSupportedException(
            $"{setting} '{IO.FileText.Escape(name)}' is not an activation this library computes; it computes {string.Join(", ", SupportedActivations)}"),
    };
}
