namespace FusedRnn.IO;

/// <summary>
/// A model file is well formed but asks for something this library does not run: an operator other than the ones
/// it reads, weights kept outside the file, an element type other than float32. The message starts with the file's
/// path and names the node or tensor.
/// </summary>
public sealed class UnsupportedModelException : NotSupportedException
{
    /// <summary>Creates the exception; the message reads <c>"{filePath}: {message}"</c>.</summary>
    /// <param name="filePath">The file's path, or a display name such as <c>&lt;memory&gt;</c>.</param>
    /// <param name="message">What is not supported, without the path.</param>
    public UnsupportedModelException(string filePath, string message)
        : base($"{filePath}: {message}")
    {
        FilePath = filePath;
    }

    /// <summary>The file's path, or the display name it was read under.</summary>
    public string FilePath { get; }
}
