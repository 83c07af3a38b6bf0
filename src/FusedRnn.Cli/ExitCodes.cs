namespace FusedRnn.Cli;

/// <summary>The process exit codes; README.md ("The fusedrnn command") and <c>--help</c> list <see cref="All"/>.</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>A file is missing or malformed, its contents do not fit the model, or the backend asked for cannot run here.</summary>
    public const int BadInput = 1;

    /// <summary>The command line itself is wrong: unknown option or value, missing option, options that contradict.</summary>
    public const int Usage = 2;

    /// <summary>An output could not be written (missing folder, no permission, disk full); no output was changed.</summary>
    public const int CannotWrite = 3;

    /// <summary>Not enough memory, or an array larger than .NET allows; the message names the sizes asked for.</summary>
    public const int OutOfMemory = 4;

    /// <summary><c>fusedrnn parity</c>: a backend, or a pair of backends, differs by more than the tolerance.</summary>
    public const int ParityFailed = 5;

    /// <summary>An unexpected failure: a bug in fusedrnn (EX_SOFTWARE in sysexits.h).</summary>
    public const int Internal = 70;

    /// <summary>Every code with what it means, as documented.</summary>
    public static IReadOnlyList<(int Code, string Meaning)> All { get; } =
    [
        (Success, "success"),
        (BadInput, "bad input: a file is missing or malformed, does not fit the model, or the backend cannot run here"),
        (Usage, "usage: unknown command, option or value, a missing option, options that contradict"),
        (CannotWrite, "an output could not be written (missing folder, no permission, disk full); no output was changed"),
        (OutOfMemory, "out of memory, or an array larger than .NET allows; the message names the sizes"),
        (ParityFailed, "parity: a backend or a pair of backends differs by more than the tolerance"),
        (Internal, "internal error: a bug in fusedrnn, please report it"),
    ];
}
