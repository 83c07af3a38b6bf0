using System.Runtime.InteropServices;
using FusedRnn.Native.Interop;

namespace FusedRnn.Native;

/// <summary>The one place a native status becomes an exception (ONNX Runtime's NativeApiStatus pattern).</summary>
internal static unsafe class NativeCall
{
    /// <summary>The key under which thrown exceptions carry the native status name in <see cref="Exception.Data"/>.</summary>
    public const string StatusKey = "frnn_status";

    /// <summary>Throws the exception <paramref name="status"/> stands for, with the library's message, unless it is OK.</summary>
    public static void Check(FrnnStatus status, string function)
    {
        if (status != FrnnStatus.Ok) throw ToException(status, function, LastError());
    }

    /// <summary>The thread's last native error message.</summary>
    public static string LastError() => Marshal.PtrToStringUTF8((nint)FrnnNative.frnn_last_error()) ?? "";

    internal static Exception ToException(FrnnStatus status, string function, string nativeMessage)
    {
        string message = $"{function} failed with {status}: {nativeMessage}";
        Exception exception = status switch
        {
            FrnnStatus.InvalidArgument or FrnnStatus.NullPointer or FrnnStatus.ShapeMismatch => new ArgumentException(message),
            FrnnStatus.InvalidHandle => new ObjectDisposedException(message, (Exception?)null),
            FrnnStatus.OutOfMemory => new InsufficientMemoryException(message),
            FrnnStatus.Unsupported => new NotSupportedException(message),
            // INTERNAL, or a status newer than these bindings: a library bug either way.
            _ => new InvalidOperationException(message),
        };
        exception.Data[StatusKey] = status.ToString();
        return exception;
    }
}
