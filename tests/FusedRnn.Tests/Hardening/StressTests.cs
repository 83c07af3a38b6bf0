using System.Diagnostics;
using FusedRnn.Backends;
using FusedRnn.Backends.Managed;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Hardening;

/// <summary>
/// Load the way a service applies it: 16 threads on one model through both overloads, with multi-threaded
/// workspaces, bit-identical to serial runs; and 10 000 calls that leave memory, file handles and threads flat.
/// </summary>
[Collection(nameof(StressTests))] // process-wide counts (memory, descriptors, threads): nothing else may run meanwhile
[CollectionDefinition(nameof(StressTests), DisableParallelization = true)]
public class StressTests
{
    private const int Threads = 16;
    private static readonly RnnSpec Spec = new(CellKind.Lstm, 24, 48, NumLayers: 2, Bidirectional: true);

    /// <summary>The managed backend at its default width and every other backend available here.</summary>
    public static TheoryData<string> Backends =>
        [.. BackendUnderTest.All.Select(b => b.Name).Where(name => !name.StartsWith("managed-", StringComparison.Ordinal) || name == $"managed-{ManagedBackend.DefaultLevel.ToString().ToLowerInvariant()}")];

    [Theory]
    [MemberData(nameof(Backends))]
    public void SixteenThreadsOnOneModelMatchSerialRunsBitForBit(string backend)
    {
        const int seqLen = 7, batch = 6, callsPerThread = 20;
        // Two threads per call inside each workspace as well: worker teams of many workspaces at once.
        using var lstm = new Lstm(RandomNetworks.Create(Spec, 5), BackendUnderTest.Get(backend).Options with { Threads = 2 });
        FloatTensor[] inputs = [.. Enumerable.Range(0, Threads).Select(i => RandomNetworks.FloatTensor(new Random(i), seqLen, batch, Spec.InputSize))];
        int[][] lengths = [.. Enumerable.Range(0, Threads).Select(i => RandomNetworks.Lengths(new Random(50 + i), batch, seqLen))];
        SequenceOutput[] expected = [.. Enumerable.Range(0, Threads).Select(i => lstm.Forward(inputs[i], lengths: lengths[i]))];

        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var start = new Barrier(Threads);
        Thread[] threads = [.. Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            try
            {
                using RnnWorkspace workspace = lstm.CreateWorkspace();
                float[] y = new float[expected[t].Output.Length], hn = new float[expected[t].HiddenState.Length], cn = new float[expected[t].CellState!.Length];
                start.SignalAndWait();
                for (int call = 0; call < callsPerThread; call++)
                {
                    if (call % 2 == 0)
                    {
                        SequenceOutput got = lstm.Forward(inputs[t], lengths: lengths[t]);
                        if (!got.Output.Span.SequenceEqual(expected[t].Output.Span) || !got.HiddenState.Span.SequenceEqual(expected[t].HiddenState.Span))
                            failures.Enqueue($"thread {t} call {call}: allocating overload differs");
                    }
                    else
                    {
                        lstm.Forward(inputs[t].Span, seqLen, batch, y, hn, cn, workspace, lengths: lengths[t]);
                        if (!y.AsSpan().SequenceEqual(expected[t].Output.Span) || !cn.AsSpan().SequenceEqual(expected[t].CellState!.Span))
                            failures.Enqueue($"thread {t} call {call}: span overload differs");
                    }
                }
            }
            catch (Exception e)
            {
                failures.Enqueue($"thread {t}: {e}");
            }
        }))];
        foreach (Thread thread in threads) thread.Start();
        foreach (Thread thread in threads) Assert.True(thread.Join(TimeSpan.FromMinutes(2)), "a thread hung");
        Assert.Empty(failures);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void TenThousandCallsLeaveMemoryHandlesAndThreadsFlat(string backend)
    {
        using var gru = new Gru(RandomNetworks.Create(new RnnSpec(CellKind.Gru, 8, 16), 9), BackendUnderTest.Get(backend).Options with { Threads = 2 });
        FloatTensor x = RandomNetworks.FloatTensor(new Random(1), 5, 3, 8);
        void Calls(int count)
        {
            for (int i = 0; i < count; i++)
            {
                gru.Forward(x);
                using RnnWorkspace workspace = gru.CreateWorkspace(); // created and disposed every call: no handle or thread may leak
                gru.Forward(x.Span, 5, 3, new float[5 * 3 * 16], new float[3 * 16], default, workspace);
            }
        }

        Calls(500);
        (long memory, int handles, int threads) before = Measure();
        Calls(10_000);
        (long memory, int handles, int threads) after = Measure();
        Assert.True(after.memory - before.memory < 16 << 20, $"managed memory grew by {after.memory - before.memory} bytes over 10 000 calls");
        Assert.True(after.handles - before.handles <= 4, $"open file descriptors grew from {before.handles} to {after.handles}");
        Assert.True(after.threads - before.threads <= 4, $"threads grew from {before.threads} to {after.threads}");
    }

    private static (long Memory, int Handles, int Threads) Measure()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Thread.Sleep(200); // stopped worker threads exit
        using Process self = Process.GetCurrentProcess();
        int handles = Directory.Exists("/proc/self/fd") ? Directory.GetFiles("/proc/self/fd").Length : self.HandleCount;
        return (GC.GetTotalMemory(forceFullCollection: true), handles, self.Threads.Count);
    }
}
