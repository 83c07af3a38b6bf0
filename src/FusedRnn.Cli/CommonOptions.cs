using System.CommandLine;

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
    /// error; System.CommandLine's AcceptOnlyFromAmong lists them on several lines.
    /// </summary>
    public static TOption AcceptOnly<TOption>(TOption option, string what, IReadOnlyList<string> choices) where TOption : Option
    {
        option.Validators.Add(result =>
        {
            foreach (string value in result.Tokens.Select(token => token.Value))
            {
                if (!choices.Contains(value.Trim().ToLowerInvariant()))
                    result.AddError($"unknown {what} '{value}' for {option.Name}; choose one of {string.Join(", ", choices)}");
            }
        });
        return option;
    }

    /// <summary>The path given to <paramref name="option"/>, which must name an existing file.</summary>
    public static string ExistingFile(string path, Option option) =>
        File.Exists(path) ? path : throw new CliException($"{option.Name}: file '{path}' was not found");
}
