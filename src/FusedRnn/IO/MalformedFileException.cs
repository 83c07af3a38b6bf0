namespace FusedRnn.IO;

/// <summary>
/// A file does not follow its format (safetensors, .npy): it is truncated, its header is malformed, or its data
/// contradicts the header. The message starts with the file's path and says what is wrong.
/// </summary>
public sealed class MalformedFileException : FormatException
{
    /// <summary>Creates the exception; the message reads <c>"{filePath}: {message}"</c>.</summary>
    /// <param name="filePath">The file's path, or a display name such as <c>&lt;memory&gt;</c>.</param>
    /// <param name="message">What is wrong, without the path.</param>
    /// <param name="inner">The exception that revealed the problem, if any.</param>
    public MalformedFileException(string filePath, string message, Exception? inner = null)
        : base($"{filePath}: {message}", inner)
    {
        FilePath = filePath;
    }

    /// <summary>The file's path, or the display name it was read under.</summary>
    public string FilePath { get; }
}
