namespace FusedRnn;

/// <summary>
/// An argument has the wrong shape or size. <see cref="ArgumentException.ParamName"/> names it and
/// <see cref="ExpectedShape"/> says what the model needs.
/// </summary>
public sealed class ShapeMismatchException : ArgumentException
{
    /// <summary>Creates the exception; the message names the parameter, the expected and the actual shape.</summary>
    public ShapeMismatchException(string paramName, string expectedShape, string actual, string meaning)
        : base($"{paramName} must have shape {expectedShape} ({meaning}) but {actual}", paramName)
    {
        ExpectedShape = expectedShape;
    }

    /// <summary>The expected shape, e.g. <c>[2, 3, 7]</c>.</summary>
    public string ExpectedShape { get; }
}

/// <summary>
/// A set of weights does not describe a valid network: a tensor is missing, extra, or has a shape that
/// contradicts the others. <see cref="ArgumentException.ParamName"/> names the tensor.
/// </summary>
public sealed class InvalidWeightsException : ArgumentException
{
    /// <summary>Creates the exception for the named tensor.</summary>
    public InvalidWeightsException(string tensorName, string message)
        : base(message, tensorName)
    {
    }
}

/// <summary>A backend was asked for by name but cannot run here; the message says what is missing.</summary>
public sealed class BackendUnavailableException : NotSupportedException
{
    /// <summary>Creates the exception for backend <paramref name="backend"/>.</summary>
    public BackendUnavailableException(string backend, string reason)
        : base($"backend '{backend}' is not available: {reason}")
    {
        Backend = backend;
    }

    /// <summary>The backend that was asked for.</summary>
    public string Backend { get; }
}

/// <summary>
/// A bound of a <see cref="Streams.StreamBatcher"/> is reached: every state slot holds an open stream
/// (<see cref="Streams.StreamBatcherOptions.Capacity"/>), or the queue of steps waiting for a batch is full
/// (<see cref="Streams.StreamBatcherOptions.QueueLimit"/>). Nothing changed; the call may be retried.
/// </summary>
public sealed class StreamLimitExceededException : InvalidOperationException
{
    /// <summary>Creates the exception for the option <paramref name="limit"/> and its value.</summary>
    public StreamLimitExceededException(string limit, int value, string message)
        : base(message)
    {
        Limit = limit;
        Value = value;
    }

    /// <summary>The option whose bound was reached: <c>Capacity</c> or <c>QueueLimit</c>.</summary>
    public string Limit { get; }

    /// <summary>Its value.</summary>
    public int Value { get; }
}

/// <summary>
/// Bytes given to <see cref="Streams.RnnStream.Restore"/> are not a snapshot this stream can take: not a snapshot at
/// all, a format version this library does not read, corrupt, or of another network or precision. The stream is
/// unchanged.
/// </summary>
public sealed class InvalidSnapshotException : ArgumentException
{
    /// <summary>Creates the exception; the message says what does not fit.</summary>
    public InvalidSnapshotException(string message, string paramName)
        : base(message, paramName)
    {
    }
}
