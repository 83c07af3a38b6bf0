using FusedRnn.Tests.Support;

namespace FusedRnn.Tests;

/// <summary>
/// Threads on every backend: many threads each with its own module, and one module shared read-only by threads with
/// their own workspaces, all give exactly what serial runs give.
/// </summary>
public class ConcurrencyTests
{
    private const int Threads = 8;
    private const int CallsPerThread = 12;

    public static TheoryData<string> Backends => BackendUnderTest.Names;

    [Theory]
    [MemberData(nameof(Backends))]
    public void ThreadsWithTheirOwnModulesMatchSerialRuns(string backendName)
    {
        RnnOptions options = BackendUnderTest.Get(backendName).Options;
        Job[] jobs = [.. Enumerable.Range(0, Threads).Select(Job.Create)];
        SequenceOutput[] expected = [.. jobs.Select(job => { using var module = job.CreateModule(options); return job.Run(module); })];

        RunOnThreads(thread =>
        {
            using RecurrentModule module = jobs[thread].CreateModule(options);
            for (int call = 0; call < CallsPerThread; call++) AssertSame(expected[thread], jobs[thread].Run(module), $"thread {thread}, call {call}");
        });
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void ThreadsSharingOneModuleMatchSerialRuns(string backendName)
    {
        Job job = Job.Create(0);
        using RecurrentModule module = job.CreateModule(BackendUnderTest.Get(backendName).Options);
        FloatTensor[] inputs = [.. Enumerable.Range(0, Threads).Select(i => RandomNetworks.FloatTensor(new Random(100 + i), job.SeqLen, job.Batch, job.Spec.InputSize))];
        SequenceOutput[] expected = [.. inputs.Select(x => module.Forward(x))];

        RunOnThreads(thread =>
        {
            // Span overload with this thread's workspace, the way a service shares a model between requests.
            using RnnWorkspace workspace = module.CreateWorkspace();
            SequenceOutput want = expected[thread];
            var y = new float[want.Output.Span.Length];
            var hn = new float[want.HiddenState.Span.Length];
            var cn = new float[want.CellState?.Span.Length ?? 0];
            for (int call = 0; call < CallsPerThread; call++)
            {
                module.Forward(inputs[thread].Span, job.SeqLen, job.Batch, y, hn, cn, workspace);
                Assert.True(want.Output.Span.SequenceEqual(y), $"y differs on thread {thread}, call {call}");
                Assert.True(want.HiddenState.Span.SequenceEqual(hn), $"h_n differs on thread {thread}, call {call}");
                Assert.True(want.CellState is null || want.CellState.Span.SequenceEqual(cn), $"c_n differs on thread {thread}, call {call}");
            }
        });
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void ThreadsSharingTheAllocatingOverloadMatchSerialRuns(string backendName)
    {
        Job job = Job.Create(3);
        using RecurrentModule module = job.CreateModule(BackendUnderTest.Get(backendName).Options);
        SequenceOutput expected = job.Run(module);
        RunOnThreads(thread =>
        {
            for (int call = 0; call < CallsPerThread; call++) AssertSame(expected, job.Run(module), $"thread {thread}, call {call}");
        });
    }

    private static void RunOnThreads(Action<int> body)
    {
        using var start = new Barrier(Threads);
        var failures = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        Thread[] threads = [.. Enumerable.Range(0, Threads).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            try
            {
                body(i);
            }
            catch (Exception e)
            {
                failures.Add(e);
            }
        }))];
        foreach (Thread thread in threads) thread.Start();
        foreach (Thread thread in threads) thread.Join();
        if (!failures.IsEmpty) throw new AggregateException(failures);
    }

    private static void AssertSame(SequenceOutput expected, SequenceOutput actual, string where)
    {
        Assert.True(expected.Output.Span.SequenceEqual(actual.Output.Span), $"y differs, {where}");
        Assert.True(expected.HiddenState.Span.SequenceEqual(actual.HiddenState.Span), $"h_n differs, {where}");
        Assert.True(expected.CellState is null || expected.CellState.Span.SequenceEqual(actual.CellState!.Span), $"c_n differs, {where}");
    }

    /// <summary>A different network and input per thread: kinds and sizes vary so threads do not run in lockstep.</summary>
    private sealed record Job(RnnSpec Spec, int Seed, int SeqLen, int Batch)
    {
        public static Job Create(int index)
        {
            var random = new Random(index);
            CellKind kind = Enum.GetValues<CellKind>()[index % 4];
            return new Job(new RnnSpec(kind, random.Next(8, 64), random.Next(8, 96), 1 + index % 2, index % 3 == 0), index,
                random.Next(4, 16), random.Next(1, 4));
        }

        public RecurrentModule CreateModule(RnnOptions options) => RecurrentModule.Create(RandomNetworks.Create(Spec, Seed), options);

        public SequenceOutput Run(RecurrentModule module) => module.Forward(RandomNetworks.FloatTensor(new Random(Seed), SeqLen, Batch, Spec.InputSize));
    }
}
