using System.Globalization;
using System.Text;

namespace FusedRnn.IO;

/// <summary>
/// Makes text that came from a file (a tensor name, an .npy header, a dtype) safe to put in an exception message:
/// a message ends up on terminals and in logs, where an ANSI escape or a bidi override hidden in a file must not act.
/// Every reader quotes file text through <see cref="Escape"/>.
/// </summary>
internal static class FileText
{
    /// <summary>How many characters of one piece of file text a message shows; a 4 GiB .npy header is not a message.</summary>
    public const int MaxShown = 256;

    /// <summary>
    /// <paramref name="text"/> with every character that is not printable written as a Python-style escape
    /// (<c>\x1b</c>, <c>\u202e</c>, <c>\U000e0001</c>) and a backslash as <c>\\</c>, so that the result is printable
    /// and unambiguous; cut after <paramref name="maxShown"/> characters of the input, saying how many were left out.
    /// Not printable: controls (C0, DEL, C1), format characters (bidi overrides, zero-width ones), line and paragraph
    /// separators, private-use and unassigned code points, and unpaired surrogates.
    /// </summary>
    public static string Escape(string text, int maxShown = MaxShown)
    {
        ArgumentNullException.ThrowIfNull(text);
        StringBuilder? escaped = null;
        int index = 0;
        while (index < text.Length)
        {
            if (index >= maxShown)
            {
                escaped ??= new StringBuilder(text, 0, index, index + 40);
                escaped.Append(CultureInfo.InvariantCulture, $"... ({text.Length - index} more characters)");
                return escaped.ToString();
            }

            int length;
            string? replacement = null;
            if (Rune.DecodeFromUtf16(text.AsSpan(index), out Rune rune, out length) != System.Buffers.OperationStatus.Done)
            {
                // An unpaired surrogate: DecodeFromUtf16 consumes exactly the one char.
                replacement = $"\\u{(int)text[index]:x4}";
                length = 1;
            }
            else if (rune.Value == '\\')
            {
                replacement = @"\\";
            }
            else if (!IsPrintable(rune))
            {
                replacement = rune.Value switch
                {
                    < 0x100 => $"\\x{rune.Value:x2}",
                    < 0x10000 => $"\\u{rune.Value:x4}",
                    _ => $"\\U{rune.Value:x8}",
                };
            }

            if (replacement is not null)
            {
                escaped ??= new StringBuilder(text, 0, index, text.Length + 16);
                escaped.Append(replacement);
            }
            else
            {
                escaped?.Append(text, index, length);
            }
            index += length;
        }
        return escaped?.ToString() ?? text;
    }

    static bool IsPrintable(Rune rune) => Rune.GetUnicodeCategory(rune) switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate => false,
        _ => true,
    };
}
