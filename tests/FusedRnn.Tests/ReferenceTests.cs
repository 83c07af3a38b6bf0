using FusedRnn.Tests.Support;

namespace FusedRnn.Tests;

/// <summary>Every PyTorch reference case, every output, on every backend (and managed vector width).</summary>
public class ReferenceTests
{
    public static TheoryData<string, string> SequenceCases()
    {
        var data = new TheoryData<string, string>();
        foreach (string name in TestData.SequenceCases)
            foreach (BackendUnderTest backend in BackendUnderTest.All) data.Add(name, backend.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(SequenceCases))]
    public void SequenceMatchesPyTorch(string caseName, string backendName)
    {
        var reference = new ReferenceCase(caseName);
        using RecurrentModule module = RecurrentModule.Create(reference.Weights, BackendUnderTest.Get(backendName).With(reference.BatchFirst));
        Assert.Equal(reference.Config.GetProperty("mode").GetString(), module.Spec.Kind.DisplayName());

        SequenceOutput result = module.Forward(reference.Get("x"), reference.Optional("h0"), reference.Optional("c0"), reference.Lengths);

        Tolerance.AssertClose(reference.Get("y"), result.Output, Tolerance.Reference, "y");
        Tolerance.AssertClose(reference.Get("hn"), result.HiddenState, Tolerance.Reference, "hn");
        if (reference.Optional("cn") is { } cn) Tolerance.AssertClose(cn, result.CellState!, Tolerance.Reference, "cn");
        else Assert.Null(result.CellState);
    }

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void LstmCellStepsMatchPyTorch(string backendName) => CellStepsMatch("lstmcell_steps", backendName);

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void GruCellStepsMatchPyTorch(string backendName) => CellStepsMatch("grucell_steps", backendName);

    public static TheoryData<string> BackendNames() => BackendUnderTest.Names;

    private static void CellStepsMatch(string caseName, string backendName)
    {
        var reference = new ReferenceCase(caseName);
        RnnOptions options = BackendUnderTest.Get(backendName).Options;
        using RecurrentCell cell = caseName.StartsWith("lstm", StringComparison.Ordinal)
            ? new LstmCell(reference.Weights, options)
            : new GruCell(reference.Weights, options);
        FloatTensor x = reference.Get("x"), hs = reference.Get("h");
        FloatTensor? cs = reference.Optional("c");
        int steps = x.Dim(0), batch = x.Dim(1), inputSize = x.Dim(2), hidden = hs.Dim(2);
        FloatTensor h = reference.Get("h0");
        FloatTensor? c = reference.Optional("c0");
        for (int step = 0; step < steps; step++)
        {
            var xt = new FloatTensor(x.Memory.Slice(step * batch * inputSize, batch * inputSize), batch, inputSize);
            (h, c) = cell.Forward(xt, h, c);
            Tolerance.AssertClose(hs.Span.Slice(step * batch * hidden, batch * hidden), h.Span, Tolerance.Reference, $"h after step {step}");
            if (cs is not null) Tolerance.AssertClose(cs.Span.Slice(step * batch * hidden, batch * hidden), c!.Span, Tolerance.Reference, $"c after step {step}");
        }
    }
}
