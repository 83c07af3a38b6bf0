using FusedRnn.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace FusedRnn.Tests.Support;

/// <summary>
/// A <see cref="ParityCase"/> as an ONNX model (<see cref="OnnxModelBuilder"/>) run in ONNX Runtime's CPU kernels, its
/// outputs in PyTorch's layout: an independent float32 implementation of ONNX's LSTM, GRU and RNN equations to hold both
/// <see cref="ReferenceRnn"/> and the backends to.
/// </summary>
public static class OnnxRuntimePeer
{
    /// <summary>
    /// A one-layer, time-major case without projection (what one ONNX node is) as a single node with every input the
    /// case has — sequence_lens, initial_h and initial_c — and every output: Y <c>[T, D, B, H]</c> comes back as
    /// <c>[T, B, D·H]</c>, Y_h and Y_c as h_n and c_n.
    /// </summary>
    public static SequenceOutput RunSingleNode(ParityCase test)
    {
        if (test.BatchFirst) throw new ArgumentException($"{test} is not time-major", nameof(test));
        (RnnWeights weights, FloatTensor x, FloatTensor? h0, FloatTensor? c0) = test.Inputs();
        return RunSingleNode(weights, x, h0, c0, test.Lengths);
    }

    /// <summary>As <see cref="RunSingleNode(ParityCase)"/>, for one layer's weights and x <c>[T, B, I]</c>, h0 and c0 <c>[D, B, H]</c>.</summary>
    public static SequenceOutput RunSingleNode(RnnWeights weights, FloatTensor x, FloatTensor? h0 = null, FloatTensor? c0 = null, int[]? lengths = null)
    {
        RnnSpec spec = weights.Spec;
        int steps = x.Dim(0), batch = x.Dim(1), directions = spec.Directions, hidden = spec.HiddenSize;
        var signature = new SingleNodeSignature(steps, batch) { SequenceLengths = lengths is not null, InitialState = h0 is not null };
        var inputs = new Dictionary<string, OrtValue> { [OnnxModelBuilder.Input] = Tensor(x) };
        if (lengths is not null) inputs[OnnxModelBuilder.SequenceLengths] = OrtValue.CreateTensorValueFromMemory(lengths.ToArray(), [lengths.Length]);
        if (h0 is not null) inputs[OnnxModelBuilder.InitialHidden] = Tensor(h0);
        if (c0 is not null) inputs[OnnxModelBuilder.InitialCell] = Tensor(c0);
        string[] outputs = spec.Kind.HasCellState()
            ? [OnnxModelBuilder.Output, OnnxModelBuilder.FinalHidden, OnnxModelBuilder.FinalCell]
            : [OnnxModelBuilder.Output, OnnxModelBuilder.FinalHidden];
        float[][] results = Run(OnnxModelBuilder.SingleNode(weights, signature), inputs, outputs);

        var y = new float[steps * batch * directions * hidden];
        for (int t = 0; t < steps; t++)
            for (int d = 0; d < directions; d++)
                for (int b = 0; b < batch; b++)
                    results[0].AsSpan(((t * directions + d) * batch + b) * hidden, hidden).CopyTo(y.AsSpan(((t * batch + b) * directions + d) * hidden));
        int[] stateShape = [directions, batch, hidden];
        return new SequenceOutput(new FloatTensor(y, steps, batch, directions * hidden), new FloatTensor(results[1], stateShape),
            results.Length > 2 ? new FloatTensor(results[2], stateShape) : null);
    }

    /// <summary>
    /// A whole time-major network without lengths or initial state as <see cref="OnnxModelBuilder.Sequence"/> writes it
    /// (the benchmark's peer): y alone, <c>[T, B, D·Hout]</c>.
    /// </summary>
    public static FloatTensor RunSequence(ParityCase test)
    {
        if (test.BatchFirst || test.InitialState || test.Lengths is not null) throw new ArgumentException($"{test} is not a plain time-major sequence", nameof(test));
        (RnnWeights weights, FloatTensor x, _, _) = test.Inputs();
        float[] y = Run(OnnxModelBuilder.Sequence(weights, test.SeqLen, test.Batch), new() { [OnnxModelBuilder.Input] = Tensor(x) }, [OnnxModelBuilder.Output])[0];
        return new FloatTensor(y, test.SeqLen, test.Batch, test.Spec.OutputFeatures);
    }

    /// <summary>
    /// Runs any model on float inputs (and int32 sequence_lens) and returns the named outputs as ORT wrote them, in the
    /// model's own layout.
    /// </summary>
    public static float[][] RunModel(byte[] model, IReadOnlyDictionary<string, FloatTensor> inputs, int[]? lengths, string lengthsName, string[] outputs)
    {
        var values = inputs.ToDictionary(input => input.Key, input => Tensor(input.Value));
        if (lengths is not null) values[lengthsName] = OrtValue.CreateTensorValueFromMemory(lengths.ToArray(), [lengths.Length]);
        return Run(model, values, outputs);
    }

    /// <summary>Runs a whole model on int64 token ids and returns its one output.</summary>
    public static float[] RunOnIds(byte[] model, string idsName, long[] ids, int[] shape, string output) =>
        Run(model, new Dictionary<string, OrtValue> { [idsName] = OrtValue.CreateTensorValueFromMemory(ids, [.. shape.Select(dim => (long)dim)]) }, [output])[0];

    /// <summary>
    /// Runs a model on int64 ids <c>[1, B]</c> and named float inputs in one session, <paramref name="steps"/> times, each
    /// run's outputs named in <paramref name="carried"/> (output → input) fed to the next; every run's
    /// <paramref name="output"/>.
    /// </summary>
    public static List<float[]> RunCarried(byte[] model, string idsName, long[] ids, Dictionary<string, FloatTensor> inputs,
        IReadOnlyDictionary<string, string> carried, string output, int steps)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        using var session = new InferenceSession(model, options);
        using var runOptions = new RunOptions();
        var results = new List<float[]>();
        Dictionary<string, FloatTensor> current = new(inputs);
        string[] outputNames = [output, .. carried.Keys];
        for (int step = 0; step < steps; step++)
        {
            var values = current.ToDictionary(input => input.Key, input => Tensor(input.Value));
            values[idsName] = OrtValue.CreateTensorValueFromMemory(ids.ToArray(), [1, ids.Length]);
            try
            {
                using IDisposableReadOnlyCollection<OrtValue> run = session.Run(runOptions, values.Keys, values.Values, outputNames);
                results.Add(run[0].GetTensorDataAsSpan<float>().ToArray());
                int index = 1;
                foreach ((string from, string to) in carried) current[to] = new FloatTensor(run[index++].GetTensorDataAsSpan<float>().ToArray(), current[to].Shape.ToArray());
            }
            finally
            {
                foreach (OrtValue value in values.Values) value.Dispose();
            }
        }

        return results;
    }

    private static OrtValue Tensor(FloatTensor tensor) =>
        OrtValue.CreateTensorValueFromMemory(tensor.ToArray(), [.. tensor.Shape.ToArray().Select(dim => (long)dim)]);

    /// <summary>One run of <paramref name="model"/> on one thread, the inputs disposed after it; the named outputs' values.</summary>
    private static float[][] Run(byte[] model, Dictionary<string, OrtValue> inputs, string[] outputs)
    {
        try
        {
            using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
            using var session = new InferenceSession(model, options);
            using var runOptions = new RunOptions();
            using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, inputs.Keys, inputs.Values, outputs);
            return [.. results.Select(result => result.GetTensorDataAsSpan<float>().ToArray())];
        }
        finally
        {
            foreach (OrtValue input in inputs.Values) input.Dispose();
        }
    }
}
