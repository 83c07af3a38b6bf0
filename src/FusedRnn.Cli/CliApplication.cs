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
    /// <param name="stderr">Error lines, and progress when <paramref name="stdoutIsTerminal"/>.</param>
    /// <param name="stdoutIsTerminal">Whether <paramref name="stdout"/> is an interactive terminal (colours, progress).</param>
    /// <param name="stderrIsTerminal">Whether <paramref name="stderr"/> is an interactive terminal (progress animates).</param>
    /// <param name="outputStreamFilter">See <see cref="CliConsole.OutputStreamFilter"/>.</param>
    /// <returns>One of <see cref="ExitCodes.All"/>; never throws.</returns>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, bool stdoutIsTerminal = false, bool stderrIsTerminal = false,
        Func<Stream, string, Stream>? outputStreamFilter = null)
    {
        var console = new CliConsole(stdout, stderr, stdoutIsTerminal, stderrIsTerminal) { OutputStreamFilter = outputStreamFilter };
        try
        {
            Command root = CreateRoot(console);
            ParseResult parseResult = root.Parse(args);
            // System.CommandLine would print the errors and then the help on stdout; a usage error is one line on stderr.
            if (parseResult.Action is ParseErrorAction)
                return console.Fail(ExitCodes.Usage, ParseErrorMessage(parseResult));
            // Exceptions reach the catch below instead of System.CommandLine's handler, which prints the stack trace.
            return parseResult.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            // The last resort: the commands guard their own bodies, so this is a failure in parsing or in the help.
            return console.Fail(e);
        }
    }

    /// <summary>
    /// The commands under a root named <see cref="Name"/> whatever hosts them (a RootCommand takes the executable's
    /// name: "testhost" under a test runner, "dotnet" with some launchers).
    /// </summary>
    static Command CreateRoot(CliConsole console)
    {
        var root = new Command(Name, "LSTM, GRU and Elman RNN inference with PyTorch semantics.")
        {
            new HelpOption(),
            new VersionOption(),
            new RunCommand(console),
            new InfoCommand(console),
            new DemoCommand(console),
            new BenchCommand(console),
            new ParityCommand(console),
        };
        HelpOption help = root.Options.OfType<HelpOption>().Single();
        var helpWithExitCodes = new HelpWithExitCodesAction((HelpAction)help.Action!);
        help.Action = helpWithExitCodes;
        root.Subcommands.Add(new HelpCommand(root, console));
        root.SetAction(helpWithExitCodes.Invoke);
        return root;
    }

    /// <summary>The parse errors on one line, each unknown token followed by the nearest name it may have meant.</summary>
    static string ParseErrorMessage(ParseResult parseResult)
    {
        Command command = parseResult.CommandResult.Command;
        var messages = new List<string>();
        var suggested = new List<string>();
        foreach (string message in parseResult.Errors.Select(error => error.Message))
        {
            string? token = parseResult.UnmatchedTokens.FirstOrDefault(unmatched => message.Contains($"'{unmatched}'", StringComparison.Ordinal));
            string? suggestion = token is null ? null : CliText.Nearest(token, NamesUsableIn(parseResult, command, token));
            if (suggestion is not null) suggested.Add(suggestion);
            messages.Add(suggestion is null ? message : $"{message.TrimEnd('.')}; did you mean '{suggestion}'?");
        }

        // "Option '--weights' is required" only repeats what the suggestion for "--weigths" says.
        return string.Join(" ", messages.Where(message => !suggested.Any(name => message.Contains($"'{name}' is required", StringComparison.Ordinal))));
    }

    /// <summary>What could stand where <paramref name="token"/> is: the command's options (and its parents'), or a subcommand.</summary>
    static IEnumerable<string> NamesUsableIn(ParseResult parseResult, Command command, string token)
    {
        IEnumerable<Option> options = command.Options;
        for (var parent = parseResult.CommandResult.Parent as System.CommandLine.Parsing.CommandResult; parent is not null;
             parent = parent.Parent as System.CommandLine.Parsing.CommandResult)
            options = options.Concat(parent.Command.Options.Where(option => option.Recursive));
        IEnumerable<string> names = options.Where(option => !option.Hidden).SelectMany(option => option.Aliases.Prepend(option.Name));
        return token.StartsWith('-') ? names : command.Subcommands.Where(sub => !sub.Hidden).Select(sub => sub.Name).Concat(names);
    }

    /// <summary>System.CommandLine's help, followed by the exit codes.</summary>
    sealed class HelpWithExitCodesAction(HelpAction help) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            help.Invoke(parseResult);
            TextWriter output = parseResult.InvocationConfiguration.Output;
            output.WriteLine("Exit codes:");
            foreach ((int code, string meaning) in ExitCodes.All) output.WriteLine($"  {code,-4}{meaning}");
            output.WriteLine();
            return ExitCodes.Success;
        }
    }
}

/// <summary><c>fusedrnn help [COMMAND]</c>: the same as <c>fusedrnn [COMMAND] --help</c>.</summary>
internal sealed class HelpCommand : Command
{
    readonly Argument<string[]> _command = new("command")
    {
        Description = "The command to describe (default: fusedrnn itself)",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public HelpCommand(Command root, CliConsole console)
        : base("help", "Show help for fusedrnn or for one of its commands")
    {
        Arguments.Add(_command);
        SetAction(parseResult => console.Guard(() =>
        {
            string[] path = parseResult.GetValue(_command) ?? [];
            Command current = root;
            foreach (string name in path)
            {
                current = current.Subcommands.FirstOrDefault(sub => sub.Name == name || sub.Aliases.Contains(name))
                    ?? throw new CliException(UnknownCommand(name, current), ExitCodes.Usage);
            }

            return root.Parse([.. path, "--help"]).Invoke(parseResult.InvocationConfiguration);
        }));
    }

    static string UnknownCommand(string name, Command parent)
    {
        string[] names = [.. parent.Subcommands.Select(sub => sub.Name)];
        string? nearest = CliText.Nearest(name, names);
        return $"help: unknown command '{name}'{(nearest is null ? "" : $"; did you mean '{nearest}'?")} (commands: {string.Join(", ", names)})";
    }
}
