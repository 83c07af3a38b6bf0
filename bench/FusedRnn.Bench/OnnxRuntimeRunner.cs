using FusedRnn.Cli.Benchmarking;
using FusedRnn.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace FusedRnn.Bench;

/// <summary>
/// The peer: the same workload and weights as one ONNX model in ONNX Runtime, every input and output bound once to
/// pinned buffers through an <see cref="OrtIoBinding"/>, so a call allocates no tensors (what ORT itself does inside a
/// run is its own).
/// </summary>
internal sealed class OnnxRuntimeRunner : WorkloadRunner
{
    public const string Name = "onnxruntime";

    readonly InferenceSession _session;
    readonly RunOptions _runOptions = new();
    readonly List<IDisposable> _owned = [];

    // A step carries its state by alternating two bindings: state A in and B out, then B in and A out.
    readonly OrtIoBinding[] _bindings;
    readonly float[][] _hidden;
    readonly float[][] _cell;
    readonly float[] _output = [];
    int _phase;

    /// <param name="threads">ORT's intra-op threads (0: ORT's default).</param>
    public OnnxRuntimeRunner(Workload workload, int threads)
        : base(workload)
    {
        RnnSpec spec = workload.Spec;
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(Model(workload), options);
        if (workload.Mode == WorkloadMode.ModelStep)
        {
            (_bindings, _hidden, _cell, _output) = ModelStepBindings(workload);
            return;
        }

        OrtValue input = Pin(workload.CreateInput(), workload.Steps, workload.Batch, spec.InputSize);

        if (workload.Mode == WorkloadMode.Step)
        {
            int stateLength = workload.Batch * spec.HiddenSize;
            bool hasCell = spec.Kind.HasCellState();
            _hidden = [new float[stateLength], new float[stateLength]];
            _cell = hasCell ? [new float[stateLength], new float[stateLength]] : [[], []];
            OrtValue[] hidden = [.. _hidden.Select(state => Pin(state, 1, workload.Batch, spec.HiddenSize))];
            OrtValue[] cell = hasCell ? [.. _cell.Select(state => Pin(state, 1, workload.Batch, spec.HiddenSize))] : [];
            _bindings = new OrtIoBinding[2];
            for (int from = 0; from < 2; from++)
            {
                OrtIoBinding binding = NewBinding(input);
                binding.BindInput(OnnxModelBuilder.InitialHidden, hidden[from]);
                binding.BindOutput(OnnxModelBuilder.FinalHidden, hidden[1 - from]);
                if (hasCell)
                {
                    binding.BindInput(OnnxModelBuilder.InitialCell, cell[from]);
                    binding.BindOutput(OnnxModelBuilder.FinalCell, cell[1 - from]);
                }

                _bindings[from] = binding;
            }
        }
        else
        {
            _hidden = _cell = [];
            _output = new float[workload.Steps * workload.Batch * spec.OutputFeatures];
            long[] outputShape = spec.Directions == 1
                ? [workload.Steps, 1, workload.Batch, spec.HiddenSize]
                : [workload.Steps, workload.Batch, spec.OutputFeatures];
            OrtIoBinding binding = NewBinding(input);
            binding.BindOutput(OnnxModelBuilder.Output, Pin(_output, outputShape));
            _bindings = [binding];
        }
    }

    public override string Engine => Name;

    public override IReadOnlyList<(string Name, float[] Values)> Results =>
        Workload.Mode is WorkloadMode.Sequence or WorkloadMode.ModelStep ? [("y", _output)]
        : Workload.Spec.Kind.HasCellState() ? [("h", _hidden[_phase]), ("c", _cell[_phase])]
        : [("h", _hidden[_phase])];

    public override void Run()
    {
        _session.RunWithBinding(_runOptions, _bindings[_phase]);
        // After a step the state lives in the other buffer, which the other binding reads next.
        if (Workload.Mode != WorkloadMode.Sequence) _phase = 1 - _phase;
    }

    public override void ResetState()
    {
        foreach (float[] state in _hidden.Concat(_cell)) Array.Clear(state);
        _phase = 0;
    }

    public override void Dispose()
    {
        foreach (IDisposable owned in Enumerable.Reverse(_owned)) owned.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }

    /// <summary>
    /// A step: one node, X <c>[1, B, I]</c> and initial_h (and initial_c) <c>[1, B, H]</c> in, Y_h (and Y_c) out. A
    /// sequence: the whole network, X <c>[T, B, I]</c> in, Y out.
    /// </summary>
    static byte[] Model(Workload workload)
    {
        switch (workload.Mode)
        {
            case WorkloadMode.Step:
                return OnnxModelBuilder.SingleNode(workload.CreateWeights(), new SingleNodeSignature(1, workload.Batch) { InitialState = true, SequenceOutput = false }, workload.Name);
            case WorkloadMode.Sequence:
                return OnnxModelBuilder.Sequence(workload.CreateWeights(), workload.Steps, workload.Batch, workload.Name);
            default:
                (FloatTensor embedding, RnnWeights network, FloatTensor headWeight, FloatTensor headBias) = workload.CreateModel();
                return OnnxModelBuilder.ModelStep(embedding, network, headWeight, headBias, workload.Batch, workload.Name);
        }
    }

    /// <summary>
    /// A whole model's step: the ids and the probabilities bound once, each layer's h (and c) alternating between two
    /// buffers as a cell step's do; the state arrays are every layer's, one after another.
    /// </summary>
    (OrtIoBinding[] Bindings, float[][] Hidden, float[][] Cell, float[] Output) ModelStepBindings(Workload workload)
    {
        RnnSpec spec = workload.Spec;
        int stateLength = workload.Batch * spec.HiddenSize, layers = spec.NumLayers;
        bool hasCell = spec.Kind.HasCellState();
        float[][] hidden = [new float[layers * stateLength], new float[layers * stateLength]];
        float[][] cell = hasCell ? [new float[layers * stateLength], new float[layers * stateLength]] : [[], []];
        var output = new float[workload.Batch * workload.Vocabulary];
        OrtValue ids = OrtValue.CreateTensorValueFromMemory(workload.CreateIds(), [1, workload.Batch]);
        _owned.Add(ids);
        OrtValue probabilities = Pin(output, 1, workload.Batch, workload.Vocabulary);
        OrtValue LayerState(float[] states, int layer)
        {
            OrtValue value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, states.AsMemory(layer * stateLength, stateLength), [1, workload.Batch, spec.HiddenSize]);
            _owned.Add(value);
            return value;
        }

        var bindings = new OrtIoBinding[2];
        for (int from = 0; from < 2; from++)
        {
            OrtIoBinding binding = _session.CreateIoBinding();
            _owned.Add(binding);
            binding.BindInput(OnnxModelBuilder.Ids, ids);
            binding.BindOutput(OnnxModelBuilder.Probabilities, probabilities);
            for (int layer = 0; layer < layers; layer++)
            {
                binding.BindInput(OnnxModelBuilder.LayerState(OnnxModelBuilder.InitialHidden, layer), LayerState(hidden[from], layer));
                binding.BindOutput(OnnxModelBuilder.LayerState(OnnxModelBuilder.FinalHidden, layer), LayerState(hidden[1 - from], layer));
                if (hasCell)
                {
                    binding.BindInput(OnnxModelBuilder.LayerState(OnnxModelBuilder.InitialCell, layer), LayerState(cell[from], layer));
                    binding.BindOutput(OnnxModelBuilder.LayerState(OnnxModelBuilder.FinalCell, layer), LayerState(cell[1 - from], layer));
                }
            }

            bindings[from] = binding;
        }

        return (bindings, hidden, cell, output);
    }

    OrtIoBinding NewBinding(OrtValue input)
    {
        OrtIoBinding binding = _session.CreateIoBinding();
        _owned.Add(binding);
        binding.BindInput(OnnxModelBuilder.Input, input);
        return binding;
    }

    /// <summary>An ORT tensor over <paramref name="data"/>'s memory (pinned until disposed), not a copy.</summary>
    OrtValue Pin(float[] data, params long[] shape)
    {
        OrtValue value = OrtValue.CreateTensorValueFromMemory(data, shape);
        _owned.Add(value);
        return value;
    }
}
