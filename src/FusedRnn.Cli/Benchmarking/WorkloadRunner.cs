using FusedRnn.Backends;

namespace FusedRnn.Cli.Benchmarking;

/// <summary>
/// One workload loaded into one engine with every buffer allocated up front, so that <see cref="Run"/> (one timed
/// call) allocates nothing. Shared by <c>fusedrnn bench</c> and the BenchmarkDotNet suite, which adds its peers.
/// </summary>
internal abstract class WorkloadRunner(Workload workload) : IDisposable
{
    public Workload Workload { get; } = workload;

    /// <summary>What actually runs the workload (a backend name, never <c>auto</c>, or a peer's name).</summary>
    public abstract string Engine { get; }

    /// <summary>
    /// The results two engines must agree on: h (and c) after the steps run since <see cref="ResetState"/> for a step
    /// workload, y of the last call for a sequence.
    /// </summary>
    public abstract IReadOnlyList<(string Name, float[] Values)> Results { get; }

    /// <summary>One call: one cell step with the state carried in place, or one whole sequence.</summary>
    public abstract void Run();

    /// <summary>Sets a carried state back to zeros (sequences always start from zeros).</summary>
    public abstract void ResetState();

    public abstract void Dispose();

    /// <summary>The workload on a FusedRnn backend through the public allocation-free overloads.</summary>
    /// <param name="workload">What to run.</param>
    /// <param name="options">The backend and its threads.</param>
    /// <param name="weights">The model, with <paramref name="workload"/>'s spec; null for the workload's own deterministic weights.</param>
    /// <exception cref="BackendUnavailableException">The backend cannot run here.</exception>
    public static WorkloadRunner CreateFusedRnn(Workload workload, RnnOptions options, RnnWeights? weights = null) => workload.Mode switch
    {
        WorkloadMode.Step => new CellStepRunner(workload, options, weights ?? workload.CreateWeights()),
        WorkloadMode.Sequence => new ModuleSequenceRunner(workload, options, weights ?? workload.CreateWeights()),
        _ => new ModelStepRunner(workload, options),
    };

    /// <summary><see cref="SequenceModel.StepIds(ReadOnlySpan{long}, SequenceModelState, Span{float})"/>: one token per row through the whole model, the state carried.</summary>
    sealed class ModelStepRunner : WorkloadRunner
    {
        readonly SequenceModel _model;
        readonly SequenceModelState _state;
        readonly long[] _ids;
        readonly float[] _output;

        public ModelStepRunner(Workload workload, RnnOptions options)
            : base(workload)
        {
            (FloatTensor embedding, RnnWeights network, FloatTensor headWeight, FloatTensor headBias) = workload.CreateModel();
            _model = SequenceModel.Create(new SequenceModelParts(new EmbeddingLayer(embedding), [network], [new DenseLayer(headWeight, headBias, DenseActivation.Softmax)]), options);
            _state = _model.CreateState(workload.Batch);
            _ids = workload.CreateIds();
            _output = new float[workload.Batch * workload.Vocabulary];
        }

        public override string Engine => _model.Recurrent[0].Backend;

        public override IReadOnlyList<(string Name, float[] Values)> Results => [("y", _output)];

        public override void Run() => _model.StepIds(_ids, _state, _output);

        public override void ResetState() => _state.Reset();

        public override void Dispose()
        {
            _state.Dispose();
            _model.Dispose();
        }
    }

    /// <summary><see cref="RecurrentCell.Step"/> with h and c updated in place.</summary>
    sealed class CellStepRunner : WorkloadRunner
    {
        readonly RecurrentCell _cell;
        readonly RnnWorkspace _workspace;
        readonly float[] _input;
        readonly float[] _hidden;
        readonly float[] _cellState;

        public CellStepRunner(Workload workload, RnnOptions options, RnnWeights weights)
            : base(workload)
        {
            _cell = workload.Spec.Kind switch
            {
                CellKind.Lstm => new LstmCell(weights, options),
                CellKind.Gru => new GruCell(weights, options),
                _ => new RnnCell(weights, options),
            };
            _workspace = _cell.CreateWorkspace();
            _input = workload.CreateInput();
            _hidden = new float[workload.Batch * workload.Spec.HiddenSize];
            _cellState = workload.Spec.Kind.HasCellState() ? new float[_hidden.Length] : [];
        }

        public override string Engine => _cell.Backend;

        public override IReadOnlyList<(string Name, float[] Values)> Results =>
            Workload.Spec.Kind.HasCellState() ? [("h", _hidden), ("c", _cellState)] : [("h", _hidden)];

        public override void Run() => _cell.Step(_input, Workload.Batch, _hidden, _cellState, _hidden, _cellState, _workspace);

        public override void ResetState()
        {
            Array.Clear(_hidden);
            Array.Clear(_cellState);
        }

        public override void Dispose()
        {
            _workspace.Dispose();
            _cell.Dispose();
        }
    }

    /// <summary><see cref="RecurrentModule.Forward(ReadOnlySpan{float}, int, int, Span{float}, Span{float}, Span{float}, RnnWorkspace, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{int})"/> into reused outputs.</summary>
    sealed class ModuleSequenceRunner : WorkloadRunner
    {
        readonly RecurrentModule _module;
        readonly RnnWorkspace _workspace;
        readonly float[] _input;
        readonly float[] _output;
        readonly float[] _hiddenState;
        readonly float[] _cellState;

        public ModuleSequenceRunner(Workload workload, RnnOptions options, RnnWeights weights)
            : base(workload)
        {
            RnnSpec spec = workload.Spec;
            _module = RecurrentModule.Create(weights, options);
            _workspace = _module.CreateWorkspace();
            _input = workload.CreateInput();
            _output = new float[workload.Steps * workload.Batch * spec.OutputFeatures];
            _hiddenState = new float[spec.LayerDirectionCount * workload.Batch * spec.OutputSize];
            _cellState = spec.Kind.HasCellState() ? new float[spec.LayerDirectionCount * workload.Batch * spec.HiddenSize] : [];
        }

        public override string Engine => _module.Backend;

        public override IReadOnlyList<(string Name, float[] Values)> Results => [("y", _output)];

        public override void Run() =>
            _module.Forward(_input, Workload.Steps, Workload.Batch, _output, _hiddenState, _cellState, _workspace);

        public override void ResetState()
        {
        }

        public override void Dispose()
        {
            _workspace.Dispose();
            _module.Dispose();
        }
    }
}
