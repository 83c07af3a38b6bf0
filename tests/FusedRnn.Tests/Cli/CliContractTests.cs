using System.Text;
using FusedRnn.Cli;
using FusedRnn.IO;
using FusedRnn.Tests.Native;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Cli;

/// <summary>
/// What every failure looks like: one <c>fusedrnn: error:</c> line on stderr, nothing a terminal would act on, a
/// documented exit code, never a stack trace, whatever was thrown.
/// </summary>
public class FailureContractTests
{
    static (int ExitCode, string Stderr) Guarded(Exception thrown)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int exitCode = new CliConsole(stdout, stderr, outputIsTerminal: false).Guard(() => throw thrown);
        Assert.Empty(stdout.ToString());
        return (exitCode, stderr.ToString());
    }

    static void AssertOneLine(string stderr, string phrase)
    {
        string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("fusedrnn: error: ", line, StringComparison.Ordinal);
        Assert.Contains(phrase, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", line, StringComparison.Ordinal);
    }

    public static TheoryData<Exception, int, string> Thrown => new()
    {
        { new InsufficientMemoryException("the native workspace needs 123456 bytes"), ExitCodes.OutOfMemory, "out of memory: the native workspace needs 123456 bytes" },
        { new OutOfMemoryException(), ExitCodes.OutOfMemory, "out of memory: " },
        { new OverflowException("Arithmetic operation resulted in an overflow."), ExitCodes.OutOfMemory, "a size is too large: Arithmetic operation resulted in an overflow" },
        { new MalformedFileException("m.safetensors", "header is not JSON"), ExitCodes.BadInput, "header is not JSON" },
        { new BackendUnavailableException("cuda", "no GPU"), ExitCodes.BadInput, "backend 'cuda' is not available: no GPU" },
        { new IOException("disk on fire"), ExitCodes.BadInput, "disk on fire" },
        { new InvalidOperationException("a bug"), ExitCodes.Internal, "internal error (System.InvalidOperationException): a bug; please report this as a bug" },
        { new NullReferenceException(), ExitCodes.Internal, "internal error (System.NullReferenceException)" },
        { new AggregateException(new Exception("inner\nsecond line")), ExitCodes.Internal, "internal error (System.AggregateException)" },
    };

    [Theory]
    [MemberData(nameof(Thrown))]
    public void EveryExceptionBecomesOneLineAndADocumentedCode(Exception thrown, int exitCode, string phrase)
    {
        (int code, string stderr) = Guarded(thrown);

        Assert.Equal(exitCode, code);
        Assert.Contains(code, ExitCodes.All.Select(entry => entry.Code));
        AssertOneLine(stderr, phrase);
    }

    [Fact]
    public void ControlCharactersInAMessageAreEscaped()
    {
        (_, string stderr) = Guarded(new IOException("dtype '\u001b[31mred\u0007' \u009b2J \u202Eevil\u0000"));

        AssertOneLine(stderr, @"dtype '\e[31mred\x07' \x9B2J \u202Eevil\x00");
        Assert.DoesNotContain(stderr.TrimEnd('\n'), c => char.IsControl(c) || c == '\u202E');
    }

    [Fact]
    public void EscapeShowsWhatATerminalWouldActOn()
    {
        (string Text, string Expected)[] cases =
        [
            ("plain text, ü and 中文 stay", "plain text, ü and 中文 stay"),
            ("\u001b[2J", @"\e[2J"),
            ("a\u007fb", @"a\x7Fb"),
            ("zero\u200Bwidth", @"zero\u200Bwidth"),
            ("line\u2028sep", @"line\u2028sep"),
            ("lone \uD800 surrogate", @"lone \uD800 surrogate"),
            ("emoji \U0001F600 stays", "emoji \U0001F600 stays"),
            ("tag \U000E0041 char", @"tag \U000E0041 char"),
        ];
        foreach ((string text, string expected) in cases) Assert.Equal(expected, CliText.Escape(text));
    }

    [Fact]
    public void NpyHeaderWithAnAnsiEscapeIsNotEchoed()
    {
        using var temp = new TempDirectory();
        string header = "{'descr': '\u001b[31m<f4', 'fortran_order': False, 'shape': (6, 3, 5), }";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 };
        string padded = header.PadRight(118) + "\n";
        bytes.AddRange(BitConverter.GetBytes((ushort)padded.Length));
        bytes.AddRange(Encoding.Latin1.GetBytes(padded));
        bytes.AddRange(new byte[6 * 3 * 5 * 4]);
        string x = temp.WriteBytes("x.npy", [.. bytes]);

        CliResult result = CliHarness.Invoke("run", "--weights", TestData.PyTorch("lstm_basic"), "--input", x, "--output", temp.PathOf("y.npy"));

        Assert.True(result.ExitCode == ExitCodes.BadInput, result.Stderr);
        Assert.StartsWith("fusedrnn: error: ", Assert.Single(result.StderrLines), StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', result.Stderr);
    }

    [Fact]
    public void PathWithControlCharactersIsEscaped()
    {
        CliResult result = CliHarness.Invoke("run", "--weights", "/nonexistent/\u001b]0;pwned\u0007.safetensors", "--input", "x.npy", "--output", "y.npy");

        result.AssertFails(ExitCodes.BadInput, @"file '/nonexistent/\e]0;pwned\x07.safetensors' was not found");
    }

    [Fact]
    public void HelpListsEveryExitCode()
    {
        CliResult result = CliHarness.Invoke("--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Exit codes:", result.Stdout, StringComparison.Ordinal);
        foreach ((int code, string meaning) in ExitCodes.All) Assert.Contains($"{code,-4}{meaning}", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadmeDocumentsEveryExitCode()
    {
        string readme = File.ReadAllText(Path.Combine(BindingTests.RepositoryRoot(), "README.md"));
        int section = readme.IndexOf("## The `fusedrnn` command", StringComparison.Ordinal);
        Assert.True(section >= 0, "README.md has no \"The `fusedrnn` command\" section");
        int end = readme.IndexOf("\n## ", section + 1, StringComparison.Ordinal);
        string text = end < 0 ? readme[section..] : readme[section..end];
        foreach ((int code, _) in ExitCodes.All) Assert.Contains($"\n| {code} |", text, StringComparison.Ordinal);
    }
}

/// <summary>A new user's first commands: help, typos, and the mistakes a message should explain.</summary>
public class FirstContactTests
{
    [Fact]
    public void HelpCommandPrintsTheRootHelp()
    {
        CliResult result = CliHarness.Invoke("help");

        Assert.Equal(0, result.ExitCode);
        Assert.Empty(result.Stderr);
        Assert.Contains("Usage:", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("bench", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Exit codes:", result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run", "--weights")]
    [InlineData("bench", "--workload")]
    [InlineData("help", "command")]
    public void HelpOfACommand(string command, string expected)
    {
        CliResult result = CliHarness.Invoke("help", command);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"fusedrnn {command}", result.Stdout, StringComparison.Ordinal);
        Assert.Contains(expected, result.Stdout, StringComparison.Ordinal);
        Assert.Equal(CliHarness.Invoke(command, "--help").Stdout, command == "help" ? CliHarness.Invoke("help", "--help").Stdout : result.Stdout);
    }

    [Fact]
    public void HelpOfAnUnknownCommandSuggestsTheNearest() =>
        CliHarness.Invoke("help", "bnech").AssertFails(ExitCodes.Usage, "help: unknown command 'bnech'; did you mean 'bench'?");

    [Fact]
    public void MistypedOptionSuggestsTheNearest() =>
        CliHarness.Invoke("run", "--weigths", "m.safetensors", "--input", "x.npy", "--output", "y.npy")
            .AssertFails(ExitCodes.Usage, "Unrecognized command or argument '--weigths'; did you mean '--weights'?");

    [Fact]
    public void MistypedOptionDoesNotAlsoSayTheRealOneIsMissing()
    {
        CliResult result = CliHarness.Invoke("run", "--weigths", "m.safetensors", "--input", "x.npy", "--output", "y.npy");

        Assert.DoesNotContain("'--weights' is required", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bnech", "bench")]
    [InlineData("inof", "info")]
    [InlineData("demmo", "demo")]
    public void MistypedCommandSuggestsTheNearest(string typed, string meant) =>
        CliHarness.Invoke(typed).AssertFails(ExitCodes.Usage, $"'{typed}'; did you mean '{meant}'?");

    [Fact]
    public void MistypedValueSuggestsTheNearest() =>
        CliHarness.Invoke("bench", "--workload", "lstm-step-b1-h64", "--backend", "manged")
            .AssertFails(ExitCodes.Usage, "(did you mean 'managed'?)");

    [Fact]
    public void NothingCloseMeansNoSuggestion()
    {
        CliResult result = CliHarness.Invoke("train");

        result.AssertFails(ExitCodes.Usage, "'train'");
        Assert.DoesNotContain("did you mean", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--weigths", "--weights", 1)]
    [InlineData("kitten", "sitting", 3)]
    [InlineData("", "abc", 3)]
    public void EditDistance(string a, string b, int distance) => Assert.Equal(distance, CliText.EditDistance(a, b));
}
