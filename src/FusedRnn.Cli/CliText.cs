using System.Globalization;
using System.Text;

namespace FusedRnn.Cli;

/// <summary>Text from files, paths and exceptions made safe to print on a terminal, and "did you mean" suggestions.</summary>
internal static class CliText
{
    /// <summary>
    /// <paramref name="text"/> with every character a terminal would act on rather than show written as an escape:
    /// C0 and C1 controls and DEL (an ANSI escape sequence from a file header would otherwise recolour or rewrite the
    /// terminal), format characters such as the bidirectional overrides, line and paragraph separators, and unpaired
    /// surrogates. ESC is <c>\e</c>, other controls <c>\xNN</c>, the rest <c>\uNNNN</c>; everything else is unchanged.
    /// </summary>
    public static string Escape(string text)
    {
        if (!NeedsEscaping(text)) return text;
        var escaped = new StringBuilder(text.Length + 16);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                var rune = new Rune(c, text[i + 1]);
                if (IsUnsafe(Rune.GetUnicodeCategory(rune))) escaped.Append(CultureInfo.InvariantCulture, $"\\U{rune.Value:X8}");
                else escaped.Append(c).Append(text[i + 1]);
                i++;
            }
            else if (c == '\u001b') escaped.Append("\\e");
            else if (c < 0x20 || c is >= '\u007f' and <= '\u009f') escaped.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}");
            else if (char.IsSurrogate(c) || IsUnsafe(char.GetUnicodeCategory(c))) escaped.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            else escaped.Append(c);
        }

        return escaped.ToString();
    }

    static bool NeedsEscaping(string text)
    {
        foreach (char c in text)
        {
            if (c < 0x20 || c >= 0x7f && (c <= 0x9f || char.IsSurrogate(c) || IsUnsafe(char.GetUnicodeCategory(c)))) return true;
        }

        return false;
    }

    static bool IsUnsafe(UnicodeCategory category) => category is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.Surrogate;

    /// <summary>
    /// The candidate closest to <paramref name="typed"/> by edit distance (a swap of two neighbours counts as one
    /// edit, ignoring case), or null when none is close enough to be what was meant: at most one edit per three
    /// characters (leading dashes not counted), at least one.
    /// </summary>
    public static string? Nearest(string typed, IEnumerable<string> candidates)
    {
        string word = typed.Trim();
        int separator = word.StartsWith('-') ? word.IndexOfAny(['=', ':']) : -1;
        if (separator > 0) word = word[..separator];
        int allowed = Math.Max(1, word.TrimStart('-').Length / 3);
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in candidates.Distinct())
        {
            int distance = EditDistance(word.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance && distance > 0)
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        return bestDistance <= allowed ? best : null;
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps.</summary>
    public static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }

        return d[a.Length, b.Length];
    }

    /// <summary>A byte count for people: <c>8589934592 bytes (8.0 GiB)</c>.</summary>
    public static string Bytes(long bytes)
    {
        string exact = bytes.ToString(CultureInfo.InvariantCulture) + " bytes";
        if (bytes < 1024) return exact;
        string[] units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return $"{exact} ({value.ToString("0.0", CultureInfo.InvariantCulture)} {units[unit]})";
    }
}
