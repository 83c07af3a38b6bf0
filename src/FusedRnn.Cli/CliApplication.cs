using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace FusedRnn.Cli;

/// <summary>The <c>fusedrnn</c> command line, callable in-process with any writers.</summary>
internal static class CliApplication
{
    public const string Name = "fusedrnn";

    /// <summary>Parses <paramref name="args"/> and runs the chosen command.</summary>
    /// <param name="args">The arguments, without the program name.</param>
    /// <param name="stdout">Results and help.</param>
    /// <param name="stderr">Error lines.</param>
    /// <param name="stdoutIsTerminal">Whether <paramref name="stdout"/> is an interactive terminal (colours, progress).</param>
    /// <returns>The exit code: 0, <see cref="ExitCodes.BadInput"/> or <see cref="ExitCodes.Usage"/>.</returns>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, bool stdoutIsTerminal = false)
    {
        var console = new CliConsole(stdout, stderr, stdoutIsTerminal);
        var root = new RootCommand("LSTM, GRU and Elman RNN inference with PyTorch semantics.")
        {
            new RunCommand(console),
            new InfoCommand(console),
            new DemoCommand(console),
            new BenchCommand(console),
        };
        root.SetAction(parseResult => new HelpAction().Invoke(parseResult));

        ParseResult parseResult = root.Parse(args);
        // System.CommandLine would print the errors and then the help on stdout; a usage error is one line on stderr.
        if (parseResult.Action is ParseErrorAction)
            return console.Fail(ExitCodes.Usage, string.Join(" ", parseResult.Errors.Select(error => error.Message)));
        return parseResult.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }
}

/// <summary>The process exit codes.</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>A file is missing or malformed, or its contents do not fit the model or the backend.</summary>
    public const int BadInput = 1;

    /// <summary>The command line itself is wrong: unknown option or value, missing option, options that contradict.</summary>
    public const int Usage = 2;
}
