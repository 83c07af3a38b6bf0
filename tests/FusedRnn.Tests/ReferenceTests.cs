using System.Globalization;
using System.Text;
using FusedRnn.IO;
using FusedRnn.Tests.Support;
using Xunit.Abstractions;

namespace FusedRnn.Tests;

/// <summary>
/// Every PyTorch reference case (whole sequences through a module, step sequences through a cell), on every backend
/// and managed vector width, in both precisions, held to <see cref="AccuracyContract"/>; and the contract's own
/// arithmetic checked against PyTorch's float32 answers.
/// </summary>
public class ReferenceTests(ITestOutputHelper output)
{
    public static TheoryData<string, string, RnnPrecision> CasesBackendsAndPrecisions()
    {
        var data = new TheoryData<string, string, RnnPrecision>();
        foreach (string name in TestData.AllCases)
            foreach (BackendUnderTest backend in BackendUnderTest.All)
                foreach (RnnPrecision precision in BackendUnderTest.Precisions) data.Add(name, backend.Name, precision);
        return data;
    }

    [Theory]
    [MemberData(nameof(CasesBackendsAndPrecisions))]
    public void MatchesPyTorchWithinThePrecisionsBound(string caseName, string backendName, RnnPrecision precision)
    {
        var reference = new ReferenceCase(caseName);
        CaseError error = AccuracyContract.Error(reference, reference.Run(BackendUnderTest.Get(backendName).In(precision)));
        double bound = AccuracyContract.Bound(reference, precision);
        Assert.True(error.Value <= bound, $"{caseName} on {backendName} in {precision}: error {error} is above the bound {bound:E3}");
    }

    public static TheoryData<string> BackendNames() => BackendUnderTest.Names;

    /// <summary>
    /// The figures behind the README's accuracy table: each case's error in each precision next to its bound and to
    /// PyTorch float32's own error, written to the test output (<c>dotnet test --logger "console;verbosity=detailed"</c>),
    /// and every one within its bound.
    /// </summary>
    [Theory]
    [MemberData(nameof(BackendNames))]
    public void ReportsTheErrorOfEveryCaseInEachPrecision(string backendName)
    {
        BackendUnderTest backend = BackendUnderTest.Get(backendName);
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"error vs PyTorch float64 on {backendName}, largest |got − ref| / max(1, |ref|):");
        table.AppendLine("| case | PyTorch float32 | Float32 bound | Float32 | Float64 bound | Float64 |");
        table.AppendLine("|---|--:|--:|--:|--:|--:|");
        var failures = new List<string>();
        foreach (string caseName in TestData.AllCases)
        {
            var reference = new ReferenceCase(caseName);
            string pytorch = AccuracyContract.PyTorchFloat32Error(reference) is { } e ? Figure(e.Value) : "—";
            table.Append(CultureInfo.InvariantCulture, $"| {caseName} | {pytorch} |");
            foreach (RnnPrecision precision in BackendUnderTest.Precisions)
            {
                CaseError error = AccuracyContract.Error(reference, reference.Run(backend.In(precision)));
                double bound = AccuracyContract.Bound(reference, precision);
                table.Append(CultureInfo.InvariantCulture, $" {Figure(bound)} | {Figure(error.Value)} |");
                if (error.Value > bound) failures.Add($"{caseName} in {precision}: {error} > {bound:E3}");
            }

            table.AppendLine();
        }

        output.WriteLine(table.ToString());
        Assert.True(failures.Count == 0, $"{backendName} is outside the contract on: {string.Join("; ", failures)}");
    }

    /// <summary>
    /// The error the contract measures is the one PyTorch's float32 answers were published with (their producer
    /// stored it in each file): same measure, same outputs, same pairing of files. Each float32 file holds exactly the
    /// outputs of its float64 case, and is a float32 computation, not a copy (its error is not zero).
    /// </summary>
    [Theory]
    [MemberData(nameof(AllCases))]
    public void PyTorchFloat32ErrorIsMeasuredAsItsProducerMeasuredIt(string caseName)
    {
        var reference = new ReferenceCase(caseName);
        string path = TestData.PyTorchFloat32(caseName);
        if (caseName.StartsWith("lstm_projection", StringComparison.Ordinal))
        {
            Assert.False(File.Exists(path), $"{path} exists: its case is no longer held to the floor alone");
            Assert.Null(AccuracyContract.PyTorchFloat32Error(reference));
            return;
        }

        SafetensorsFile file = SafetensorsFile.Load(path);
        Assert.Equal(reference.OutputNames.Order(), file.TensorNames.Order());
        foreach (string name in reference.OutputNames) Assert.Equal(reference.File.GetInfo(name).Shape, file.GetInfo(name).Shape);
        CaseError measured = AccuracyContract.PyTorchFloat32Error(reference)!.Value;
        double recorded = double.Parse(file.Metadata["float32_max_scaled_error_vs_float64_reference"], CultureInfo.InvariantCulture);
        Assert.True(measured.Value > 0, $"{caseName}: PyTorch's float32 answer equals the float64 one");
        Assert.True(Math.Abs(measured.Value - recorded) <= 5e-4 * recorded, $"{caseName}: measured {measured}, its producer recorded {recorded:E3}");
    }

    public static TheoryData<string> AllCases() => [.. TestData.AllCases];

    /// <summary>
    /// The contract lets through what it should and stops what it should: PyTorch float32 passes the Float32 bound and
    /// the float64 answer both bounds; the float64 answer moved by 0.9 × the bound at one element passes, by 1.1 × the
    /// bound fails.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllCasesAndPrecisions))]
    public void TheBoundAcceptsWhatItShouldAndRejectsAnAnswerJustOutsideIt(string caseName, RnnPrecision precision)
    {
        var reference = new ReferenceCase(caseName);
        double bound = AccuracyContract.Bound(reference, precision);
        Assert.Equal(0, AccuracyContract.Error(reference, reference.Expected).Value);
        if (precision == RnnPrecision.Float32 && AccuracyContract.PyTorchFloat32Error(reference) is { } pytorch)
            Assert.True(pytorch.Value <= bound, $"PyTorch float32 fails its own bound on {caseName}: {pytorch} > {bound:E3}");

        // The element where the answer is largest, so that the max(1, |ref|) scale is exercised where it matters.
        (string name, int index) = LargestElement(reference.Expected);
        foreach ((double factor, bool passes) in new[] { (0.9, true), (1.1, false) })
        {
            Dictionary<string, float[]> moved = reference.Expected.ToDictionary(o => o.Key, o => o.Value.ToArray());
            float value = moved[name][index];
            moved[name][index] = (float)(value + factor * bound * Math.Max(1, Math.Abs(value)));
            CaseError error = AccuracyContract.Error(reference, moved);
            Assert.True(error.Value <= bound == passes, $"{caseName}, {precision}: an answer off by {factor} × the bound {bound:E3} at {name}[{index}] measures {error}");
            Assert.Equal((name, index), (error.Output, error.Index));
        }
    }

    public static TheoryData<string, RnnPrecision> AllCasesAndPrecisions()
    {
        var data = new TheoryData<string, RnnPrecision>();
        foreach (string name in TestData.AllCases)
            foreach (RnnPrecision precision in BackendUnderTest.Precisions) data.Add(name, precision);
        return data;
    }

    private static (string Name, int Index) LargestElement(IReadOnlyDictionary<string, float[]> outputs)
    {
        (string Name, int Index) largest = (outputs.Keys.First(), 0);
        foreach ((string name, float[] values) in outputs)
            for (int i = 0; i < values.Length; i++)
                if (Math.Abs(values[i]) > Math.Abs(outputs[largest.Name][largest.Index])) largest = (name, i);
        return largest;
    }

    private static string Figure(double value) => value.ToString("0.000E+0", CultureInfo.InvariantCulture);
}
