namespace FusedRnn.Cli.Benchmarking;

/// <summary>What one timed call of a workload is.</summary>
internal enum WorkloadMode
{
    /// <summary>One time step of a cell, the state carried in and out in place.</summary>
    Step,

    /// <summary>A whole sequence through the module from a zero initial state.</summary>
    Sequence,

    /// <summary>
    /// One step of a whole model, Embedding(V, I) → the network → Linear(V) + softmax, for one token per row, the
    /// state carried: a language model's next-token step.
    /// </summary>
    ModelStep,
}

/// <summary>
/// One named workload of the catalogue in DESIGN.md ("Workload names"), shared by <c>fusedrnn bench</c> and the
/// BenchmarkDotNet suite (which links this file), so both time the same computation on the same numbers.
/// </summary>
/// <param name="Spec">The network.</param>
/// <param name="Batch">B.</param>
/// <param name="Steps">T per call: 1 for a step workload.</param>
/// <param name="Mode">Step, sequence or a whole model's step.</param>
/// <param name="Vocabulary">For <see cref="WorkloadMode.ModelStep"/>: the ids of the embedding and the outputs of the head; else 0.</param>
internal sealed record Workload(RnnSpec Spec, int Batch, int Steps, WorkloadMode Mode, int Vocabulary = 0)
{
    /// <summary>Every workload, in the order of DESIGN.md.</summary>
    public static IReadOnlyList<Workload> All { get; } =
    [
        Step(CellKind.Lstm, batch: 1, hidden: 64),
        Step(CellKind.Lstm, batch: 1, hidden: 256),
        Step(CellKind.Gru, batch: 1, hidden: 256),
        Sequence(new RnnSpec(CellKind.Lstm, 128, 128), batch: 1, steps: 100),
        Sequence(new RnnSpec(CellKind.Lstm, 512, 512), batch: 1, steps: 100),
        Sequence(new RnnSpec(CellKind.Gru, 512, 512), batch: 1, steps: 100),
        Sequence(new RnnSpec(CellKind.Lstm, 512, 512), batch: 32, steps: 100),
        Sequence(new RnnSpec(CellKind.Lstm, 128, 256, NumLayers: 2, Bidirectional: true), batch: 16, steps: 50),
        Sequence(new RnnSpec(CellKind.Lstm, 1024, 1024), batch: 1, steps: 100),
        new(new RnnSpec(CellKind.Lstm, 256, 256, NumLayers: 2), 1, 1, WorkloadMode.ModelStep, Vocabulary: 10_000),
    ];

    /// <summary>The names of <see cref="All"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. All.Select(workload => workload.Name)];

    /// <summary>Seeds the weights and inputs: every process and machine times the same numbers.</summary>
    const int Seed = 20261122;

    /// <summary>
    /// The name, built from the fields so it cannot disagree with them: <c>[bi]kind[layers]-mode-bB[-tT]-hH[-vV]</c>
    /// (the input size is not in the name; DESIGN.md states the one exception).
    /// </summary>
    public string Name { get; } =
        (Spec.Bidirectional ? "bi" : "") + Spec.Kind.DisplayName().ToLowerInvariant() + (Spec.NumLayers > 1 ? Spec.NumLayers.ToString() : "") +
        Mode switch { WorkloadMode.Step => "-step", WorkloadMode.Sequence => "-seq", _ => "-model" } + $"-b{Batch}" +
        (Mode == WorkloadMode.Sequence ? $"-t{Steps}" : "") + $"-h{Spec.HiddenSize}" + (Mode == WorkloadMode.ModelStep ? $"-v{Vocabulary}" : "");

    /// <summary>The workload called <paramref name="name"/> (exact, lower case), or null.</summary>
    public static Workload? Find(string name) => All.FirstOrDefault(workload => workload.Name == name);

    static Workload Step(CellKind kind, int batch, int hidden) => new(new RnnSpec(kind, hidden, hidden), batch, 1, WorkloadMode.Step);

    static Workload Sequence(RnnSpec spec, int batch, int steps) => new(spec, batch, steps, WorkloadMode.Sequence);

    /// <summary>
    /// Floating-point operations of one call: the matrix products only (2 per multiply-add), which dominate; gate
    /// activations and state updates are O(H) per step against O(H·(I+H)) and are left out.
    /// </summary>
    public long Flops
    {
        get
        {
            long perStepAndRow = 0;
            for (int layer = 0; layer < Spec.NumLayers; layer++)
                perStepAndRow += 2L * Spec.Directions * Spec.GateCount * Spec.HiddenSize * (Spec.LayerInputSize(layer) + Spec.OutputSize);
            perStepAndRow += 2L * Vocabulary * Spec.OutputFeatures;
            return perStepAndRow * Steps * Batch;
        }
    }

    /// <summary>Bytes of float32 weights and biases the model holds.</summary>
    public long WeightBytes
    {
        get
        {
            long floats = 0;
            for (int layer = 0; layer < Spec.NumLayers; layer++)
            {
                foreach (WeightRole role in Enum.GetValues<WeightRole>())
                {
                    if (WeightShapes.IsPresent(Spec, role))
                        floats += Spec.Directions * ElementCount(Spec, role, layer);
                }
            }

            // A whole model's head is read in full every step; of its embedding, one row per token.
            floats += (long)Vocabulary * (Spec.OutputFeatures + 1);
            return floats * sizeof(float);
        }
    }

    /// <summary>
    /// The least weight traffic of one call: the input weights once (the input projection of all steps is one matrix
    /// product) and the recurrent weights once per step (each step needs the previous h, so they are streamed again).
    /// </summary>
    public long WeightTrafficBytes
    {
        get
        {
            long recurrentFloats = (long)Spec.LayerDirectionCount * ElementCount(Spec, WeightRole.WeightHh, 0);
            return WeightBytes + (Steps - 1) * recurrentFloats * sizeof(float);
        }
    }

    /// <summary>
    /// Deterministic weights drawn as PyTorch initialises a fresh module: every parameter uniform in ±1/√H.
    /// </summary>
    public RnnWeights CreateWeights()
    {
        var random = new Random(Seed);
        float bound = 1f / MathF.Sqrt(Spec.HiddenSize);
        var layers = new List<LayerWeights>();
        for (int layer = 0; layer < Spec.NumLayers; layer++)
        {
            for (int direction = 0; direction < Spec.Directions; direction++)
            {
                float[] Parameter(WeightRole role) => Uniform(random, ElementCount(Spec, role, layer), bound);
                layers.Add(new LayerWeights(
                    Parameter(WeightRole.WeightIh), Parameter(WeightRole.WeightHh),
                    Parameter(WeightRole.BiasIh), Parameter(WeightRole.BiasHh)));
            }
        }

        return new RnnWeights(Spec, layers);
    }

    /// <summary>
    /// A <see cref="WorkloadMode.ModelStep"/> workload's whole model: the embedding uniform in ±1, the network of
    /// <see cref="CreateWeights"/>, the head's weight and bias uniform in ±1/√F, softmax.
    /// </summary>
    public (FloatTensor Embedding, RnnWeights Network, FloatTensor HeadWeight, FloatTensor HeadBias) CreateModel()
    {
        var random = new Random(Seed + 2);
        int features = Spec.OutputFeatures;
        float bound = 1f / MathF.Sqrt(features);
        return (new FloatTensor(Uniform(random, Vocabulary * Spec.InputSize, 1f), Vocabulary, Spec.InputSize), CreateWeights(),
            new FloatTensor(Uniform(random, Vocabulary * features, bound), Vocabulary, features), new FloatTensor(Uniform(random, Vocabulary, bound), Vocabulary));
    }

    /// <summary>A <see cref="WorkloadMode.ModelStep"/> workload's token per row, deterministic.</summary>
    public long[] CreateIds()
    {
        var random = new Random(Seed + 3);
        return [.. Enumerable.Range(0, Batch).Select(_ => (long)random.Next(Vocabulary))];
    }

    /// <summary>Deterministic input uniform in ±1: x <c>[B, I]</c> for a step, <c>[T, B, I]</c> (time-major) for a sequence.</summary>
    public float[] CreateInput() => Uniform(new Random(Seed + 1), Steps * Batch * Spec.InputSize, 1f);

    static int ElementCount(RnnSpec spec, WeightRole role, int layer) =>
        WeightShapes.Expected(spec, role, layer).Aggregate(1, (count, dimension) => count * dimension);

    static float[] Uniform(Random random, int count, float bound)
    {
        var values = new float[count];
        for (int i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * bound);
        return values;
    }
}
