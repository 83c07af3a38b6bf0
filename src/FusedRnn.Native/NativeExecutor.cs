using System.Buffers;
using FusedRnn.Backends;
using FusedRnn.Native.Interop;

namespace FusedRnn.Native;

/// <summary>A network loaded into libfusedrnn: the library copies and packs the weights once at creation.</summary>
internal sealed unsafe class NativeExecutor : RnnExecutor
{
    private readonly ModelSafeHandle model;
    private readonly int threads;

    public NativeExecutor(RnnWeights weights, int threads, RnnPrecision precision)
        : base(weights.Spec, precision)
    {
        this.threads = threads;
        RnnSpec spec = weights.Spec;
        FrnnModelSpec nativeSpec = new()
        {
            StructSize = (uint)sizeof(FrnnModelSpec),
            Precision = (int)ToNative(precision),
            CellKind = (int)ToNative(spec.Kind),
            InputSize = spec.InputSize,
            HiddenSize = spec.HiddenSize,
            NumLayers = spec.NumLayers,
            NumDirections = spec.Directions,
            ProjSize = spec.ProjSize,
            NumThreads = threads,
            HasBias = spec.Bias,
            HasPeepholes = spec.Cell.Peepholes,
            CoupledInputForget = spec.Cell.CoupledInputForget,
            ResetBeforeProduct = spec.Cell.ResetPlacement == GruResetPlacement.BeforeProduct,
            Clip = spec.Cell.Clip,
            ForwardActivations = ToNative(spec.Cell.Forward),
            ReverseActivations = ToNative(spec.Cell.Reverse),
        };

        // The library copies the weights during frnn_model_create; they only need pinning for the call.
        var pins = new List<MemoryHandle>();
        try
        {
            var layers = new FrnnLayerWeights[weights.Layers.Count];
            for (int i = 0; i < layers.Length; i++)
            {
                LayerWeights layer = weights.Layers[i];
                layers[i] = new FrnnLayerWeights
                {
                    WeightIh = Pin(layer.WeightIh, pins), WeightIhCount = layer.WeightIh.Length,
                    WeightHh = Pin(layer.WeightHh, pins), WeightHhCount = layer.WeightHh.Length,
                    BiasIh = Pin(layer.BiasIh, pins), BiasIhCount = layer.BiasIh?.Length ?? 0,
                    BiasHh = Pin(layer.BiasHh, pins), BiasHhCount = layer.BiasHh?.Length ?? 0,
                    WeightHr = Pin(layer.WeightHr, pins), WeightHrCount = layer.WeightHr?.Length ?? 0,
                    WeightP = Pin(layer.WeightP, pins), WeightPCount = layer.WeightP?.Length ?? 0,
                };
            }
            FrnnModelHandle created;
            fixed (FrnnLayerWeights* layerPointer = layers)
            {
                NativeCall.Check(FrnnNative.frnn_model_create(&nativeSpec, layerPointer, layers.Length, &created),
                    nameof(FrnnNative.frnn_model_create));
            }
            model = ModelSafeHandle.Own(created);
        }
        finally
        {
            pins.ForEach(pin => pin.Dispose());
        }
    }

    /// <summary>The layer as an <c>frnn_dense</c> with this model's threads and precision, run on its workspaces.</summary>
    public override DenseExecutor LoadDense(DenseLayer layer) => new NativeDenseExecutor(layer, threads, Precision);

    public override RnnWorkspace CreateWorkspace() => new NativeWorkspace(this, WorkspaceSafeHandle.Create(model));

    public override void Forward(in ForwardRequest request, RnnWorkspace workspace)
    {
        fixed (float* x = request.Input)
        fixed (float* h0 = request.InitialHidden)
        fixed (float* c0 = request.InitialCell)
        fixed (int* lengths = request.Lengths)
        fixed (float* y = request.Output)
        fixed (float* hn = request.FinalHidden)
        fixed (float* cn = request.FinalCell)
        {
            // Empty spans pin to null: absent buffers travel as NULL with count 0, as the C ABI wants.
            FrnnForwardArgs args = new()
            {
                SeqLen = request.SeqLen,
                Batch = request.Batch,
                BatchFirst = request.BatchFirst,
                X = x, XCount = request.Input.Length,
                H0 = h0, H0Count = request.InitialHidden.Length,
                C0 = c0, C0Count = request.InitialCell.Length,
                Lengths = lengths, LengthsCount = request.Lengths.Length,
                Y = y, YCount = request.Output.Length,
                Hn = hn, HnCount = request.FinalHidden.Length,
                Cn = cn, CnCount = request.FinalCell.Length,
            };
            WorkspaceSafeHandle workspaceHandle = ((NativeWorkspace)workspace).Handle;
            using var references = new HandleReferences(model, workspaceHandle);
            NativeCall.Check(FrnnNative.frnn_model_forward(model.Value, workspaceHandle.Value, &args), nameof(FrnnNative.frnn_model_forward));
        }
    }

    public override void StepSlots(in SlotStepRequest request, RnnWorkspace workspace)
    {
        fixed (float* x = request.Input)
        fixed (int* slots = request.Slots)
        fixed (byte* state = request.State)
        fixed (float* y = request.Output)
        {
            FrnnSlotStepArgs args = new()
            {
                Batch = request.Batch,
                SlotCount = request.SlotCount,
                Slots = slots, SlotsCount = request.Slots.Length,
                State = state, StateBytes = request.State.Length,
                X = x, XCount = request.Input.Length,
                Y = y, YCount = request.Output.Length,
            };
            WorkspaceSafeHandle workspaceHandle = ((NativeWorkspace)workspace).Handle;
            using var references = new HandleReferences(model, workspaceHandle);
            NativeCall.Check(FrnnNative.frnn_model_step_slots(model.Value, workspaceHandle.Value, &args), nameof(FrnnNative.frnn_model_step_slots));
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) model.Dispose();
    }

    private static float* Pin(float[]? values, List<MemoryHandle> pins)
    {
        if (values is null) return null;
        MemoryHandle pin = values.AsMemory().Pin();
        pins.Add(pin);
        return (float*)pin.Pointer;
    }

    /// <summary>A role's activation; null (PyTorch's) is DEFAULT, and the kinds' numbers are the ABI's.</summary>
    private static FrnnActivation ToNative(Activation? activation) => activation is { } given
        ? new FrnnActivation { Kind = (int)given.Kind, Alpha = given.Alpha, Beta = given.Beta }
        : new FrnnActivation { Kind = (int)FrnnActivationKind.Default };

    private static FrnnCellActivations ToNative(CellActivations activations) => new()
    {
        Gates = ToNative(activations.Gates),
        Candidate = ToNative(activations.Candidate),
        Output = ToNative(activations.Output),
    };

    internal static FrnnPrecision ToNative(RnnPrecision precision) => precision switch
    {
        RnnPrecision.Float32 => FrnnPrecision.Float32,
        RnnPrecision.Float64 => FrnnPrecision.Float64,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "no native precision"),
    };

    private static FrnnCellKind ToNative(CellKind kind) => kind switch
    {
        CellKind.Lstm => FrnnCellKind.Lstm,
        CellKind.Gru => FrnnCellKind.Gru,
        CellKind.RnnTanh => FrnnCellKind.RnnTanh,
        CellKind.RnnRelu => FrnnCellKind.RnnRelu,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no native cell kind"),
    };

    internal sealed class NativeWorkspace(NativeExecutor owner, WorkspaceSafeHandle handle) : RnnWorkspace(owner)
    {
        public WorkspaceSafeHandle Handle { get; } = handle;

        protected override void Dispose(bool disposing)
        {
            if (disposing) Handle.Dispose();
        }
    }
}
