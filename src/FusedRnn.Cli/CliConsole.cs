using FusedRnn.IO;
using Spectre.Console;

namespace FusedRnn.Cli;

/// <summary>A failure the user can fix, reported as one line and an exit code.</summary>
internal sealed class CliException(string message, int exitCode = ExitCodes.BadInput) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Where a command writes, and how failures become one <c>fusedrnn: error: ...</c> line.</summary>
internal sealed class CliConsole(TextWriter output, TextWriter error, bool outputIsTerminal)
{
    public TextWriter Out => output;

    /// <summary>Whether <see cref="Out"/> is an interactive terminal, where progress and colours make sense.</summary>
    public bool IsTerminal => outputIsTerminal;

    /// <summary>A Spectre console on <see cref="Out"/>: plain text, without ANSI escape codes, unless it is a terminal.</summary>
    public IAnsiConsole CreateAnsiConsole()
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = outputIsTerminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = outputIsTerminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = outputIsTerminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        // Spectre assumes 80 columns when it cannot ask a terminal; files and pipes have room for unwrapped rows.
        if (!outputIsTerminal) console.Profile.Width = RedirectedWidth;
        return console;
    }

    const int RedirectedWidth = 240;

    /// <summary>Runs a command's body, turning expected failures into an error line and an exit code.</summary>
    public int Guard(Func<int> command)
    {
        try
        {
            return command();
        }
        catch (CliException e)
        {
            return Fail(e.ExitCode, e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or MalformedFileException
                                      or ArgumentException or BackendUnavailableException)
        {
            // ArgumentException covers the library's ShapeMismatchException and InvalidWeightsException.
            return Fail(ExitCodes.BadInput, MessageOf(e));
        }
    }

    public int Fail(int exitCode, string message)
    {
        error.WriteLine($"{CliApplication.Name}: error: {OneLine(message)}");
        return exitCode;
    }

    /// <summary>The message without .NET's " (Parameter 'x')" suffix and "Actual value was" line, which repeat it.</summary>
    static string MessageOf(Exception e)
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
