using FusedRnn.IO;

namespace FusedRnn.Tests.IO;

/// <summary>RnnWeights.LoadSafetensors on state_dicts whose names are almost PyTorch's; regressions found by fuzz/ (rnn target).</summary>
public class StateDictImportTests
{
    /// <summary>A one-layer LSTM (input 2, hidden 2) as safetensors, with <paramref name="extra"/> tensors after it.</summary>
    static byte[] Lstm(params (string Name, int[] Shape)[] extra)
    {
        (string, int[])[] lstm = [("weight_ih_l0", [8, 2]), ("weight_hh_l0", [8, 2]), ("bias_ih_l0", [8]), ("bias_hh_l0", [8])];
        return SafetensorsWriter.ToBytes(lstm.Concat(extra).Select(t =>
            new KeyValuePair<string, (int[] Shape, float[] Data)>(t.Item1, (t.Item2, new float[t.Item2.Aggregate(1, (a, b) => a * b)]))));
    }

    static InvalidWeightsException ImportFails(byte[] file) =>
        Assert.Throws<InvalidWeightsException>(() => RnnWeights.FromSafetensors(SafetensorsFile.Parse(file, "m.safetensors")));

    [Fact]
    public void ImportsTheBaseCase() =>
        Assert.Equal(new RnnSpec(CellKind.Lstm, 2, 2), RnnWeights.FromSafetensors(SafetensorsFile.Parse(Lstm(), "m.safetensors")).Spec);

    // It threw OverflowException from int.Parse.
    [Fact]
    public void LayerNumberPastIntMaxIsAnUnexpectedTensor()
    {
        var e = ImportFails(Lstm(("weight_ih_l2147483648", [8, 2])));
        Assert.Equal("weight_ih_l2147483648", e.ParamName);
        Assert.StartsWith("m.safetensors: unexpected tensor 'weight_ih_l2147483648': layer number 2147483648 is more than 2147483647", e.Message);
    }

    // \d matched any script's digits and int.Parse then threw FormatException; "l01" was layer 1 and silently
    // replaced "l1" (or the other way round); "$" let a final newline through.
    [Theory]
    [InlineData("weight_ih_l\u0661")]
    [InlineData("weight_ih_l01")]
    [InlineData("weight_ih_l0\n")]
    [InlineData("bias_hh_l0_reverse\n")]
    public void LayerSuffixMustBeWrittenAsPyTorchWritesIt(string name)
    {
        var e = ImportFails(Lstm((name, [8, 2])));
        Assert.Equal(FileText.Escape(name), e.ParamName);
        Assert.Contains($"unexpected tensor '{FileText.Escape(name)}'", e.Message);
    }

    // weight_ih (a cell's name) and weight_ih_l0 are one parameter: whichever came last used to win silently.
    [Fact]
    public void TwoNamesForOneParameterAreRejected()
    {
        var e = ImportFails(Lstm(("weight_ih", [8, 2])));
        Assert.Contains("tensors 'weight_ih_l0' and 'weight_ih' are both weight_ih_l0", e.Message);
    }

    [Fact]
    public void ProjectionWithoutRowsIsRejected()
    {
        var e = ImportFails(Lstm(("weight_hr_l0", [0, 2])));
        Assert.Equal("weight_hr_l0", e.ParamName);
        Assert.Contains("has shape [0, 2]; a projection has proj_size ≥ 1 rows", e.Message);
    }

    [Fact]
    public void EscapesControlCharactersOfNamesInMessagesAndParamName()
    {
        var e = ImportFails(Lstm(("\u001b]0;pwned\u0007weight", [1])));
        Assert.Equal(@"\x1b]0;pwned\x07weight", e.ParamName);
        Assert.DoesNotContain(e.Message, char.IsControl);
    }
}
