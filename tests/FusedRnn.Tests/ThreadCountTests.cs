using FusedRnn.Tests.Support;

namespace FusedRnn.Tests;

/// <summary>
/// Every backend, in both precisions: the thread count never changes a result, bit for bit, on call shapes that
/// split on hidden units and on batch rows (<see cref="ManagedThreadingTests.Shapes"/>; that suite also checks the
/// managed backend really splits them). The managed backend runs 3 participants on any machine; the cpu backend caps
/// the count at this machine's logical processors (or <c>FUSEDRNN_THREAD_LIMIT</c>), so on 2 cores its 3 means 2.
/// </summary>
public class ThreadCountTests
{
    public static TheoryData<string, RnnPrecision, string, int> BackendsPrecisionsShapesAndThreads()
    {
        var data = new TheoryData<string, RnnPrecision, string, int>();
        foreach (BackendUnderTest backend in BackendUnderTest.All)
            foreach (RnnPrecision precision in BackendUnderTest.Precisions)
                foreach (ManagedThreadingTests.Case shape in ManagedThreadingTests.Shapes)
                    foreach (int threads in new[] { 2, 3 }) data.Add(backend.Name, precision, shape.Name, threads);
        return data;
    }

    [Theory]
    [MemberData(nameof(BackendsPrecisionsShapesAndThreads))]
    public void AnyThreadCountGivesTheSingleThreadedResultExactly(string backendName, RnnPrecision precision, string shapeName, int threads)
    {
        ManagedThreadingTests.Case c = ManagedThreadingTests.Shapes.Single(s => s.Name == shapeName);
        RnnWeights weights = RandomNetworks.Create(c.Spec, 7);
        var random = new Random(11);
        FloatTensor x = RandomNetworks.FloatTensor(random, c.SeqLen, c.Batch, c.Spec.InputSize);
        FloatTensor h0 = RandomNetworks.FloatTensor(random, c.Spec.LayerDirectionCount, c.Batch, c.Spec.OutputSize);
        int[]? lengths = c.Lengths ? RandomNetworks.Lengths(random, c.Batch, c.SeqLen) : null;
        // OversubscribeThreads lets the managed backend run more participants than this machine has processors.
        RnnOptions options = BackendUnderTest.Get(backendName).In(precision) with { OversubscribeThreads = true };

        SequenceOutput Run(int threadCount)
        {
            using RecurrentModule module = RecurrentModule.Create(weights, options with { Threads = threadCount });
            return module.Forward(x, h0, lengths: lengths);
        }

        SequenceOutput expected = Run(1), actual = Run(threads);
        string where = $"{backendName} in {precision}, {shapeName}, {threads} threads";
        Assert.True(expected.Output.Span.SequenceEqual(actual.Output.Span), $"y differs from one thread's, {where}");
        Assert.True(expected.HiddenState.Span.SequenceEqual(actual.HiddenState.Span), $"h_n differs from one thread's, {where}");
        Assert.True(expected.CellState is null || expected.CellState.Span.SequenceEqual(actual.CellState!.Span), $"c_n differs from one thread's, {where}");
        Assert.Contains(actual.Output.ToArray(), v => v != 0);
    }
}
