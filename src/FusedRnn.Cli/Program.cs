using FusedRnn.Cli;

// An exception on another thread (a backend's worker) would end the process with the runtime's stack trace;
// it becomes the same one line and exit code as any unexpected failure on the main thread.
AppDomain.CurrentDomain.UnhandledException += (_, e) =>
    Environment.Exit(new CliConsole(Console.Out, Console.Error, outputIsTerminal: false).Fail(
        e.ExceptionObject as Exception ?? new InvalidOperationException($"unhandled {e.ExceptionObject}")));

return CliApplication.Run(args, Console.Out, Console.Error, stdoutIsTerminal: !Console.IsOutputRedirected, stderrIsTerminal: !Console.IsErrorRedirected);
