using FusedRnn.Cli;
using FusedRnn.IO;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Cli;

/// <summary>
/// <c>fusedrnn run</c> writes its outputs all or none: a failure leaves every existing file as it was and no
/// temporary behind, and an output may not overwrite an input or another output.
/// </summary>
public sealed class RunCommandOutputTests : IDisposable
{
    static readonly byte[] Sentinel = "an earlier y.npy that must survive"u8.ToArray();

    readonly TempDirectory _temp = new();
    readonly ReferenceCase _lstm = new("lstm_basic");

    public void Dispose() => _temp.Dispose();

    string[] LstmRun(string output, params string[] extra) =>
    [
        "run", "--weights", TestData.PyTorch("lstm_basic"), "--prefix", "rnn.",
        "--input", _temp.WriteFloat32("x.npy", _lstm.Get("x")), "--output", output, .. extra,
    ];

    /// <summary>The folder holds exactly these files: nothing left half-written, no temporaries.</summary>
    void AssertFolderHolds(params string[] names) =>
        Assert.Equal(names.Order(StringComparer.Ordinal), Directory.GetFileSystemEntries(_temp.Root).Select(Path.GetFileName).Order(StringComparer.Ordinal));

    [Fact]
    public void MissingFolderOfASecondOutputLeavesTheFirstUntouched()
    {
        string y = _temp.WriteBytes("y.npy", Sentinel);
        string hn = Path.Combine(_temp.Root, "nodir", "hn.npy");

        CliHarness.Invoke(LstmRun(y, "--hn", hn))
            .AssertFails(ExitCodes.CannotWrite, $"--hn: cannot write '{hn}': the folder '{Path.GetDirectoryName(hn)}' does not exist");

        Assert.Equal(Sentinel, File.ReadAllBytes(y));
        AssertFolderHolds("x.npy", "y.npy");
    }

    [Fact]
    public void MissingOutputFolderNamesTheOptionAndThePath() =>
        CliHarness.Invoke(LstmRun("/nonexistent-fusedrnn-dir/y.npy"))
            .AssertFails(ExitCodes.CannotWrite, "--output: cannot write '/nonexistent-fusedrnn-dir/y.npy': the folder '/nonexistent-fusedrnn-dir' does not exist");

    [Fact]
    public void OutputThatIsAFolder() =>
        CliHarness.Invoke(LstmRun(_temp.Root)).AssertFails(ExitCodes.CannotWrite, $"--output: cannot write '{_temp.Root}': it is a folder");

    [Fact]
    public void FullDiskLeavesNoTruncatedOutputAndKeepsTheOldOne()
    {
        string y = _temp.WriteBytes("y.npy", Sentinel), hn = _temp.PathOf("hn.npy");
        // y fails after its header: the file would claim the full shape and hold part of the data.
        var settings = new CliSettings(OutputStreamFilter: (stream, path) => path == y ? new FullDiskStream(stream, bytesThatFit: 200) : stream);

        CliResult result = CliHarness.InvokeWith(settings, LstmRun(y, "--hn", hn));

        result.AssertFails(ExitCodes.CannotWrite, $"--output: cannot write '{y}': No space left on device; no output file was changed");
        Assert.Equal(Sentinel, File.ReadAllBytes(y));
        AssertFolderHolds("x.npy", "y.npy");
    }

    [Fact]
    public void FullDiskOnTheLastOutputWritesNone()
    {
        string y = _temp.PathOf("y.npy"), hn = _temp.PathOf("hn.npy"), cn = _temp.PathOf("cn.npy");
        var settings = new CliSettings(OutputStreamFilter: (stream, path) => path == cn ? new FullDiskStream(stream, bytesThatFit: 0) : stream);

        CliHarness.InvokeWith(settings, LstmRun(y, "--hn", hn, "--cn", cn)).AssertFails(ExitCodes.CannotWrite, $"--cn: cannot write '{cn}'");

        AssertFolderHolds("x.npy");
    }

    [Fact]
    public void DevFullIsReportedAsAFullDisk()
    {
        if (!File.Exists("/dev/full")) return; // Linux only

        CliHarness.Invoke(LstmRun("/dev/full", "--hn", _temp.PathOf("hn.npy")))
            .AssertFails(ExitCodes.CannotWrite, "--output: cannot write '/dev/full': No space left on device");
        AssertFolderHolds("x.npy");
    }

    [Fact]
    public void ReplacesAnExistingOutputOnSuccess()
    {
        string y = _temp.WriteBytes("y.npy", Sentinel);

        CliResult result = CliHarness.Invoke(LstmRun(y));

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(FreshOutput(), File.ReadAllBytes(y));
        AssertFolderHolds("x.npy", "y.npy");
    }

    [Fact]
    public void AReplacedOutputKeepsItsPermissions()
    {
        if (OperatingSystem.IsWindows()) return;
        string y = _temp.WriteBytes("y.npy", Sentinel);
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
        File.SetUnixFileMode(y, mode);

        Assert.Equal(0, CliHarness.Invoke(LstmRun(y)).ExitCode);

        Assert.Equal(mode, File.GetUnixFileMode(y));
        Assert.NotEqual(Sentinel, File.ReadAllBytes(y));
    }

    [Fact]
    public void EmptyOutputPathIsAUsageError() =>
        CliHarness.Invoke(LstmRun("")).AssertFails(ExitCodes.Usage, "--output was given an empty path");

    [Fact]
    public void WritesThroughASymbolicLinkAndKeepsTheLink()
    {
        string target = _temp.WriteBytes("target.npy", Sentinel), link = _temp.PathOf("link.npy");
        File.CreateSymbolicLink(link, target);

        CliResult result = CliHarness.Invoke(LstmRun(link));

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(target, new FileInfo(link).LinkTarget);
        Assert.Equal(FreshOutput(), File.ReadAllBytes(target));
    }

    [Fact]
    public void TwoOutputsAtOnePathAreAUsageError()
    {
        string a = _temp.PathOf("a.npy");

        CliHarness.Invoke(LstmRun(a, "--hn", a)).AssertFails(ExitCodes.Usage, $"--output and --hn both name '{a}'");
        AssertFolderHolds("x.npy");
    }

    [Fact]
    public void TwoOutputsAtOnePathSpelledDifferently()
    {
        string a = _temp.PathOf("a.npy"), alsoA = Path.Combine(_temp.Root, ".", "sub", "..", "a.npy");
        Directory.CreateDirectory(_temp.PathOf("sub"));

        CliHarness.Invoke(LstmRun(a, "--cn", alsoA)).AssertFails(ExitCodes.Usage, "--output and --cn both name");
    }

    [Fact]
    public void TwoOutputsInOneFolderReachedThroughALink()
    {
        string real = Directory.CreateDirectory(_temp.PathOf("real")).FullName, alias = _temp.PathOf("alias");
        Directory.CreateSymbolicLink(alias, real);

        CliHarness.Invoke(LstmRun(Path.Combine(real, "out.npy"), "--hn", Path.Combine(alias, "out.npy")))
            .AssertFails(ExitCodes.Usage, "--output and --hn both name");
        Assert.Empty(Directory.GetFileSystemEntries(real));
    }

    [Fact]
    public void OutputOverTheWeightsIsRejectedBeforeRunning()
    {
        string weights = _temp.WriteBytes("model.safetensors", File.ReadAllBytes(TestData.PyTorch("lstm_basic")));
        byte[] before = File.ReadAllBytes(weights);
        string[] args = ["run", "--weights", weights, "--input", _temp.WriteFloat32("x.npy", _lstm.Get("x")), "--output", weights];

        CliHarness.Invoke(args).AssertFails(ExitCodes.Usage, $"--output names the file --weights reads ('{weights}'); writing it would overwrite the input");
        Assert.Equal(before, File.ReadAllBytes(weights));
    }

    [Fact]
    public void OutputOverAnInputThroughASymbolicLink()
    {
        string x = _temp.WriteFloat32("x.npy", _lstm.Get("x")), link = _temp.PathOf("x-link.npy");
        File.CreateSymbolicLink(link, x);
        string[] args = ["run", "--weights", TestData.PyTorch("lstm_basic"), "--input", x, "--output", _temp.PathOf("y.npy"), "--hn", link];

        CliHarness.Invoke(args).AssertFails(ExitCodes.Usage, "--hn names the file --input reads");
    }

    [Fact]
    public void OutputOverAnInputThroughAHardLink()
    {
        if (!OperatingSystem.IsLinux()) return; // identity by inode is read on Linux only
        string h0 = _temp.WriteFloat32("h0.npy", FloatTensor.Zeros(1, 3, 7)), hardLink = _temp.PathOf("h0-too.npy");
        if (!TryCreateHardLink(h0, hardLink)) return;

        CliHarness.Invoke(LstmRun(_temp.PathOf("y.npy"), "--h0", h0, "--hn", hardLink))
            .AssertFails(ExitCodes.Usage, $"--hn names the file --h0 reads ('{hardLink}' and '{h0}', one file)");
    }

    static bool TryCreateHardLink(string existing, string link)
    {
        using var ln = System.Diagnostics.Process.Start("ln", [existing, link]);
        ln.WaitForExit();
        return ln.ExitCode == 0;
    }

    /// <summary>y of the same run written where no file was before.</summary>
    byte[] FreshOutput()
    {
        using var elsewhere = new TempDirectory();
        string y = elsewhere.PathOf("y.npy");
        Assert.Equal(0, CliHarness.Invoke(LstmRun(y)).ExitCode);
        byte[] bytes = File.ReadAllBytes(y);
        Assert.Equal(6 * 3 * 7 * sizeof(float), Npy.ReadFloat32(y).Data.Length * sizeof(float));
        return bytes;
    }

    /// <summary>A disk with room for <c>bytesThatFit</c> bytes more, then ENOSPC.</summary>
    sealed class FullDiskStream(Stream inner, long bytesThatFit) : Stream
    {
        long _room = bytesThatFit;

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (buffer.Length > _room)
            {
                inner.Write(buffer[..(int)_room]);
                _room = 0;
                throw new IOException("No space left on device");
            }

            inner.Write(buffer);
            _room -= buffer.Length;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Flush() => inner.Flush();

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
