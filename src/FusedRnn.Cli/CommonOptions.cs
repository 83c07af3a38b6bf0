using System.Buffers.Binary;
using System.CommandLine;
using System.Globalization;

namespace FusedRnn.Cli;

/// <summary>Options and checks that several commands share.</summary>
internal static class CommonOptions
{
    /// <summary>A backend name: one of <paramref name="choices"/>, checked while parsing so a typo is a usage error.</summary>
    public static TOption Backend<TOption>(TOption option, IReadOnlyList<string> choices) where TOption : Option
    {
        option.HelpName = string.Join('|', choices);
        return AcceptOnly(option, "backend", choices);
    }

    /// <summary>
    /// Restricts every value of <paramref name="option"/> to <paramref name="choices"/> (ignoring case) with a one-line
    /// error; System.CommandLine's AcceptOnlyFromAmong lists them on several lines. With a <paramref name="separator"/>
    /// each token is a list of values.
    /// </summary>
    public static TOption AcceptOnly<TOption>(TOption option, string what, IReadOnlyList<string> choices, char? separator = null) where TOption : Option
    {
        option.Validators.Add(result =>
        {
            foreach (string value in Values(result.Tokens.Select(token => token.Value), separator))
            {
                if (choices.Contains(value.Trim().ToLowerInvariant())) continue;
                string? nearest = CliText.Nearest(value, choices);
                result.AddError($"unknown {what} '{value}' for {option.Name}; choose one of {string.Join(", ", choices)}" +
                    (nearest is null ? "" : $" (did you mean '{nearest}'?)"));
            }
        });
        return option;
    }

    /// <summary>The values of an option's tokens: each token, or with a <paramref name="separator"/> its trimmed, non-empty parts.</summary>
    public static IEnumerable<string> Values(IEnumerable<string> tokens, char? separator = null) =>
        tokens.SelectMany(token => separator is { } split ? token.Split(split, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [token]);

    /// <summary>What the kernels compute in (<see cref="RnnOptions.Precision"/>).</summary>
    public static Option<string> Precision() => AcceptOnly(
        new Option<string>("--precision")
        {
            Description = "Arithmetic of the kernels: float32 (the default, as PyTorch) or float64 (the exact mode: float32 storage, double arithmetic)",
            HelpName = "float32|float64",
            DefaultValueFactory = _ => "float32",
        },
        "precision", ["float32", "float64"]);

    /// <summary>The parsed <see cref="Precision"/>.</summary>
    public static RnnPrecision PrecisionOf(ParseResult parseResult, Option<string> option) =>
        parseResult.GetRequiredValue(option).Trim().Equals("float64", StringComparison.OrdinalIgnoreCase) ? RnnPrecision.Float64 : RnnPrecision.Float32;

    /// <summary>The CLI's name of a precision (what --precision takes).</summary>
    public static string NameOf(RnnPrecision precision) => precision == RnnPrecision.Float64 ? "float64" : "float32";

    /// <summary>The nonlinearity of an Elman RNN, which a state_dict does not record.</summary>
    public static Option<string> Nonlinearity() => AcceptOnly(
        new Option<string>("--nonlinearity")
        {
            Description = "Nonlinearity of an Elman RNN, which the file cannot tell (an error for an LSTM or a GRU)",
            HelpName = "tanh|relu",
            DefaultValueFactory = _ => "tanh",
        },
        "nonlinearity", ["tanh", "relu"]);

    /// <summary>The parsed <see cref="Nonlinearity"/>.</summary>
    public static RnnNonlinearity NonlinearityOf(ParseResult parseResult, Option<string> option) =>
        parseResult.GetRequiredValue(option).Trim().Equals("relu", StringComparison.OrdinalIgnoreCase) ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh;

    /// <summary>A relu asked for a model that has no nonlinearity to choose is a mistake, not something to ignore.</summary>
    /// <exception cref="CliException">The model is an LSTM or a GRU and relu was asked for (<see cref="ExitCodes.Usage"/>).</exception>
    public static void RejectNonlinearity(RnnNonlinearity nonlinearity, Option option, RnnSpec spec)
    {
        if (nonlinearity == RnnNonlinearity.Relu && spec.Kind is CellKind.Lstm or CellKind.Gru)
            throw new CliException($"{option.Name} relu was given but the model is {(spec.Kind == CellKind.Lstm ? "an LSTM" : "a GRU")}, whose gates have fixed " +
                "activations; --nonlinearity applies only to an Elman RNN (nn.RNN)", ExitCodes.Usage);
    }

    /// <summary>A whole number of at least <paramref name="minimum"/> (a parser: a validator cannot read a value that failed to parse).</summary>
    public static int ParseWhole(System.CommandLine.Parsing.ArgumentResult result, string name, int minimum)
    {
        string token = result.Tokens[^1].Value;
        if (int.TryParse(token, CultureInfo.InvariantCulture, out int value) && value >= minimum) return value;
        result.AddError($"{name} must be a whole number of at least {minimum}, not '{token}'");
        return 0;
    }

    /// <summary>The path given to <paramref name="option"/>, which must name an existing file.</summary>
    public static string ExistingFile(string path, Option option) =>
        File.Exists(path) ? path
        : Directory.Exists(path) ? throw new CliException($"{option.Name}: '{path}' is a folder, not a file")
        : throw new CliException($"{option.Name}: file '{path}' was not found");

    /// <summary>The largest header the safetensors format allows (100 MB, as the reference implementation).</summary>
    const long MaxSafetensorsHeader = 100_000_000;

    static ReadOnlySpan<byte> NpyMagic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>
    /// The path given to <paramref name="option"/>, which must name an existing file that begins like a safetensors
    /// file: an 8-byte little-endian header length that fits the file, then <c>{</c>. Other formats users reach for
    /// are named (a NumPy .npy, a PyTorch checkpoint), rather than read as a safetensors header of absurd length.
    /// </summary>
    /// <exception cref="CliException">The file is missing or is not a safetensors file (<see cref="ExitCodes.BadInput"/>).</exception>
    public static string ExistingSafetensors(string path, Option option)
    {
        ExistingFile(path, option);
        Span<byte> head = stackalloc byte[9];
        long length;
        int read;
        using (FileStream stream = File.OpenRead(path))
        {
            length = stream.Length;
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }

        head = head[..read];
        string NotSafetensors(string what) => $"{option.Name}: {path} is {what}, not a safetensors file";
        if (head.StartsWith(NpyMagic))
            throw new CliException(NotSafetensors("a NumPy .npy file") + "; the model must be a state_dict saved with safetensors.torch.save_file");
        if (head.StartsWith("PK\u0003\u0004"u8))
            throw new CliException(NotSafetensors("a zip archive (a PyTorch torch.save checkpoint?)") +
                "; save the state_dict with safetensors.torch.save_file(model.state_dict(), path)");
        if (head.Length >= 2 && head[0] == 0x80 && head[1] is >= 2 and <= 5)
            throw new CliException(NotSafetensors("a Python pickle (a legacy torch.save checkpoint?)") +
                "; save the state_dict with safetensors.torch.save_file(model.state_dict(), path)");
        string NotSafetensorsBecause(string why) => $"{option.Name}: {path} is not a safetensors file: {why}";
        if (head.Length < 8)
            throw new CliException(NotSafetensorsBecause($"it has {length} bytes, and a safetensors file starts with an 8-byte header length"));
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(head);
        if (headerLength > (ulong)Math.Min(length - 8, MaxSafetensorsHeader))
            throw new CliException(NotSafetensorsBecause(
                $"its first 8 bytes give a header length of {headerLength} bytes, but the file has {length} bytes" +
                (headerLength > MaxSafetensorsHeader ? $" and the format allows at most {MaxSafetensorsHeader}" : "")));
        if (head.Length > 8 && head[8] != (byte)'{')
            throw new CliException(NotSafetensorsBecause("its header does not start with '{' as a safetensors header does"));
        return path;
    }
}
