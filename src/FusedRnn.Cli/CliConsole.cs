using FusedRnn.IO;
using Spectre.Console;

namespace FusedRnn.Cli;

/// <summary>A failure the user can fix, reported as one line and an exit code.</summary>
internal sealed class CliException(string message, int exitCode = ExitCodes.BadInput) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Where a command writes, and how failures become one <c>fusedrnn: error: ...</c> line.</summary>
/// <param name="output">Results and help.</param>
/// <param name="error">Error lines and progress.</param>
/// <param name="outputIsTerminal">Whether <paramref name="output"/> is an interactive terminal.</param>
/// <param name="errorIsTerminal">Whether <paramref name="error"/> is an interactive terminal (progress animates there).</param>
internal sealed class CliConsole(TextWriter output, TextWriter error, bool outputIsTerminal, bool errorIsTerminal = false)
{
    public TextWriter Out => output;

    public TextWriter Error => error;

    /// <summary>Whether <see cref="Out"/> is an interactive terminal, where progress and colours make sense.</summary>
    public bool IsTerminal => outputIsTerminal;

    /// <summary>
    /// Wraps the stream each output file is written through (tests use it to simulate a full disk); null writes
    /// straight to the file.
    /// </summary>
    public Func<Stream, string, Stream>? OutputStreamFilter { get; init; }

    /// <summary>A Spectre console on <see cref="Out"/>: plain text, without ANSI escape codes, unless it is a terminal.</summary>
    public IAnsiConsole CreateAnsiConsole() => CreateAnsiConsole(output, outputIsTerminal);

    /// <summary>
    /// A Spectre console on <see cref="Error"/> for progress, which commands show only when <see cref="IsTerminal"/>:
    /// someone is watching, and stdout stays clean for what it prints. It animates only when stderr is a terminal too.
    /// </summary>
    public IAnsiConsole CreateProgressConsole() => CreateAnsiConsole(error, errorIsTerminal);

    static IAnsiConsole CreateAnsiConsole(TextWriter writer, bool isTerminal)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = isTerminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = isTerminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = isTerminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        // Spectre assumes 80 columns when it cannot ask a terminal; files and pipes have room for unwrapped rows.
        if (!isTerminal) console.Profile.Width = RedirectedWidth;
        return console;
    }

    const int RedirectedWidth = 240;

    /// <summary>
    /// Runs a command's body and turns every exception into an error line and an exit code: the documented ones for
    /// what the user can fix, <see cref="ExitCodes.Internal"/> for anything else. Nothing escapes, no stack trace is
    /// printed.
    /// </summary>
    public int Guard(Func<int> command)
    {
        try
        {
            return command();
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    /// <summary>The error line and exit code for <paramref name="e"/>.</summary>
    public int Fail(Exception e) => e switch
    {
        CliException cli => Fail(cli.ExitCode, cli.Message),
        // InsufficientMemoryException (the workspaces, the native backend) is an OutOfMemoryException.
        OutOfMemoryException => Fail(ExitCodes.OutOfMemory, $"out of memory: {MessageOf(e)}"),
        OverflowException => Fail(ExitCodes.OutOfMemory, $"a size is too large: {MessageOf(e)}"),
        // ArgumentException covers the library's ShapeMismatchException and InvalidWeightsException.
        IOException or UnauthorizedAccessException or MalformedFileException or UnsupportedModelException or ArgumentException
            or BackendUnavailableException => Fail(ExitCodes.BadInput, MessageOf(e)),
        _ => Fail(ExitCodes.Internal, $"internal error ({e.GetType().FullName}): {MessageOf(e)}; please report this as a bug"),
    };

    /// <summary>Writes <c>fusedrnn: error: MESSAGE</c> on one line, every non-printable character escaped.</summary>
    public int Fail(int exitCode, string message)
    {
        try
        {
            error.WriteLine($"{CliApplication.Name}: error: {CliText.Escape(OneLine(message))}");
            error.Flush();
        }
        catch (IOException)
        {
            // stderr is gone (a closed pipe): the exit code is all that is left to say it.
        }

        return exitCode;
    }

    /// <summary>The message without .NET's " (Parameter 'x')" suffix and "Actual value was" line, which repeat it.</summary>
    public static string MessageOf(Exception e)
    {
        string message = e.Message;
        int lineEnd = message.IndexOfAny(['\r', '\n']);
        if (lineEnd >= 0) message = message[..lineEnd];
        if (e is ArgumentException { ParamName: { } parameter })
        {
            string suffix = $" (Parameter '{parameter}')";
            if (message.EndsWith(suffix, StringComparison.Ordinal)) message = message[..^suffix.Length];
        }

        return message;
    }

    static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
