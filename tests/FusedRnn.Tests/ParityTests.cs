using System.Globalization;
using FusedRnn.Tests.Support;
using Xunit.Abstractions;

namespace FusedRnn.Tests;

/// <summary>
/// Every backend, in both precisions, against <see cref="ReferenceRnn"/> (PyTorch's formulas in plain double, no code
/// shared with any backend) on random networks that vary every feature at once (<see cref="ParityCase.Random"/>) and
/// on big batches that threaded backends split by rows (<see cref="ParityCase.RowSplit"/>), within the precision's
/// tolerance (<see cref="Tolerance.ParityFor"/>); the reference cases (<see cref="ReferenceTests"/>) hold each to
/// PyTorch itself.
/// </summary>
public class ParityTests(ITestOutputHelper output)
{
    public static TheoryData<string, RnnPrecision, string> BackendsPrecisionsAndCases()
    {
        var data = new TheoryData<string, RnnPrecision, string>();
        foreach (BackendUnderTest backend in BackendUnderTest.All)
            foreach (RnnPrecision precision in BackendUnderTest.Precisions)
                foreach (ParityCase test in ParityCase.All) data.Add(backend.Name, precision, test.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(BackendsPrecisionsAndCases))]
    public void AgreesWithTheReferenceTranscription(string backendName, RnnPrecision precision, string caseName)
    {
        ParityCase test = ParityCase.Get(caseName);
        SequenceOutput actual = test.Run(BackendUnderTest.Get(backendName).In(precision));
        Tolerance.AssertClose(test.Reference, actual, Tolerance.ParityFor(precision), $"{backendName} in {precision} on {test}");
    }

    /// <summary>
    /// <see cref="Tolerance.ParityFloat32"/> is what its documentation says: <see cref="Tolerance.Float32DriftMultiple"/>
    /// × the drift of float32 arithmetic on these very cases, rounded up (to at most 1.5 × that) — re-measured, so that
    /// a change to the cases or to the reference cannot leave it too tight or too loose.
    /// </summary>
    [Fact]
    public void Float32ToleranceIsTheDocumentedMultipleOfFloat32sDriftOnTheseCases()
    {
        (double drift, ParityCase worst) = ParityCase.All
            .Select(test => (Tolerance.LargestError(test.Reference, test.RunReference<float>().ToSequenceOutput()), test))
            .MaxBy(measured => measured.Item1);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"float32 transcription vs float64 over {ParityCase.All.Count()} cases: largest error {drift:E3} on {worst}; tolerance {Tolerance.ParityFloat32:E1}"));

        Assert.True(drift > 0, "the float32 transcription computed exactly the float64 answer: it is not computing in float32");
        Assert.True(Math.Abs(drift - Tolerance.MeasuredFloat32Drift) <= 0.05 * drift,
            $"float32 drifts {drift:E3} on the parity cases, not the documented {Tolerance.MeasuredFloat32Drift:E2}: re-derive Tolerance.ParityFloat32");
        double multiple = Tolerance.Float32DriftMultiple * Tolerance.MeasuredFloat32Drift;
        Assert.InRange(Tolerance.ParityFloat32, multiple, 1.5 * multiple);
    }
}
