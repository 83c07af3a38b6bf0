using FusedRnn.Cli;

return CliApplication.Run(args, Console.Out, Console.Error, stdoutIsTerminal: !Console.IsOutputRedirected);
